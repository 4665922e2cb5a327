package store

import (
	"context"
	"sync"
	"time"

	"github.com/genwatch/genwatch/internal/schedule"
)

// Priors keeps the learned durations a worker has read for a few seconds,
// so that pacing a poll costs no Redis round trip: each provider, account
// and kind is read at most once per priorsTTL by each worker.
type Priors struct {
	store *Store
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]priorEntry
}

type priorEntry struct {
	durations *schedule.Durations
	read      time.Time
}

// priorsTTL is how long a worker uses learned durations it has read.
const priorsTTL = 10 * time.Second

// NewPriors returns a cache of the learned durations in s; now tells
// the time.
func NewPriors(s *Store, now func() time.Time) *Priors {
	return &Priors{store: s, now: now, entries: map[string]priorEntry{}}
}

// Get returns the learned durations that pace the generation of taskID,
// nil when nothing is learned yet.
func (p *Priors) Get(ctx context.Context, taskID, provider, account, kind string) (*schedule.Durations, error) {
	key := p.store.durationsKey(taskID, provider, account, kind)
	now := p.now()
	p.mu.Lock()
	e, ok := p.entries[key]
	p.mu.Unlock()
	if ok && now.Sub(e.read) < priorsTTL {
		return e.durations, nil
	}
	d, err := p.store.Durations(ctx, taskID, provider, account, kind)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.entries[key] = priorEntry{durations: d, read: now}
	p.mu.Unlock()
	return d, nil
}
