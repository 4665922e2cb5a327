package throttle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Pauses is the fleet-wide board of paused provider accounts. Pause writes
// a pause to a Redis hash and publishes it; Run keeps this worker's copy in
// step (it loads the hash whenever its subscription starts, so a worker that
// starts or reconnects mid-pause knows of it). Until reads the copy, with no
// I/O.
type Pauses struct {
	rdb     redis.UniversalClient
	hash    string
	channel string
	log     *zap.Logger
	now     func() time.Time

	mu    sync.RWMutex
	until map[string]time.Time
}

// NewPauses returns the board kept under keys starting with prefix.
func NewPauses(rdb redis.UniversalClient, prefix string, log *zap.Logger, now func() time.Time) *Pauses {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	return &Pauses{
		rdb:     rdb,
		hash:    prefix + "pauses",
		channel: prefix + "pauses:changed",
		log:     log,
		now:     now,
		until:   map[string]time.Time{},
	}
}

// Until returns when the account's pause ends; the zero time if it has none.
func (p *Pauses) Until(key string) time.Time {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.until[key]
}

// Pause pauses the account until the given time, across the fleet. A pause
// never shortens one already in place.
func (p *Pauses) Pause(ctx context.Context, key string, until time.Time) error {
	if !p.set(key, until) {
		return nil
	}
	value := strconv.FormatInt(until.UnixMilli(), 10)
	_, err := p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, p.hash, key, value)
		pipe.Publish(ctx, p.channel, key+" "+value)
		return nil
	})
	if err != nil {
		return err
	}
	p.log.Warn("provider asked to pause; pausing the account across the fleet",
		zap.String("account_key", key), zap.Time("until", until))
	return nil
}

// set records a pause locally; false when an equal or longer one exists.
func (p *Pauses) set(key string, until time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !until.After(p.until[key]) {
		return false
	}
	p.until[key] = until
	return true
}

// Run follows the board until ctx is done, resubscribing after errors.
func (p *Pauses) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := p.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("following provider pauses failed; retrying", zap.Error(err))
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (p *Pauses) follow(ctx context.Context) error {
	sub := p.rdb.Subscribe(ctx, p.channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := p.load(ctx); err != nil {
		return err
	}
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-ch:
			if !ok {
				return errors.New("subscription closed")
			}
			key, ms, found := strings.Cut(msg.Payload, " ")
			if v, err := strconv.ParseInt(ms, 10, 64); found && err == nil {
				p.set(key, time.UnixMilli(v))
			}
		}
	}
}

// load reads the board, dropping pauses that have ended.
func (p *Pauses) load(ctx context.Context) error {
	all, err := p.rdb.HGetAll(ctx, p.hash).Result()
	if err != nil {
		return fmt.Errorf("load pauses: %w", err)
	}
	now := p.now()
	var ended []string
	for key, ms := range all {
		v, err := strconv.ParseInt(ms, 10, 64)
		if err != nil || !time.UnixMilli(v).After(now) {
			ended = append(ended, key)
			continue
		}
		p.set(key, time.UnixMilli(v))
	}
	if len(ended) > 0 {
		_ = p.rdb.HDel(ctx, p.hash, ended...).Err()
	}
	return nil
}
