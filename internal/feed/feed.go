// Package feed serves completion events as server-sent events (GET
// /v1/events) from the event streams, live and resumable.
//
// One Feed per process reads the streams: Run issues one blocking XREAD at
// a time for each stream, each on its own (in a Redis Cluster the streams
// live in different slots), and hands each entry, decoded once, to every
// subscriber's bounded buffer, so that Redis sees the same commands
// whatever the number of subscribers. A subscriber whose buffer fills (a
// client that reads slower than events arrive) is cut off rather than
// holding back the others or growing memory; it resumes where it stopped
// with Last-Event-ID.
//
// Each message's ID is a cursor: the entry ID of the last entry the
// subscriber has seen in each stream, joined by commas (with one stream,
// the entry ID itself). A subscriber that resumes after a cursor first
// reads what it missed with XRANGE, then joins the live fan-out and reads
// with XRANGE again up to where the live reader stood when it joined: from
// there on the live buffer has every entry, so nothing is lost or sent
// twice across the switch.
package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
)

// Defaults.
const (
	DefaultBuffer       = 1024
	DefaultBlock        = 2 * time.Second
	DefaultCount        = 1000
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Config configures a Feed.
type Config struct {
	// Streams are the event streams, each read in order of arrival. If
	// empty, genwatch.DefaultStream alone.
	Streams []string
	// Buffer is how many messages a subscriber may fall behind the live
	// reader before it is cut off. If zero, DefaultBuffer.
	Buffer int
	// Block is how long one XREAD waits for new entries. If zero,
	// DefaultBlock.
	Block time.Duration
	// Count is the most entries one read returns per stream. If zero,
	// DefaultCount; never more than Buffer, so that a subscriber that
	// keeps up can take a whole read.
	Count int64
	// Heartbeat is the time between two comment lines sent to an idle
	// subscriber, so that proxies keep the connection. If zero,
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// WriteTimeout bounds one write to a subscriber. If zero,
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Clock paces heartbeats and retries. If nil, the real clock.
	Clock clockwork.Clock
	// Logger logs read errors and undecodable entries. If nil, nothing
	// is logged.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if len(c.Streams) == 0 {
		c.Streams = []string{genwatch.DefaultStream}
	}
	if c.Buffer <= 0 {
		c.Buffer = DefaultBuffer
	}
	if c.Block <= 0 {
		c.Block = DefaultBlock
	}
	if c.Count <= 0 {
		c.Count = DefaultCount
	}
	c.Count = min(c.Count, int64(c.Buffer))
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// ErrStopped is returned to subscribers once the feed's Run has ended.
var ErrStopped = errors.New("feed: stopped")

// Feed reads the event streams once and fans the events out to its
// subscribers. It is an http.Handler serving GET /v1/events; Run must be
// running for it to serve.
type Feed struct {
	rdb redis.UniversalClient
	cfg Config

	ready    chan struct{} // closed once pos is known
	stopped  chan struct{} // closed when Run's ctx ends
	stopOnce sync.Once

	mu     sync.Mutex
	pos    Cursor
	subs   map[*subscriber]struct{}
	cutOff int
}

// New returns a Feed on rdb.
func New(rdb redis.UniversalClient, cfg Config) *Feed {
	cfg = cfg.withDefaults()
	return &Feed{
		rdb: rdb, cfg: cfg,
		ready: make(chan struct{}), stopped: make(chan struct{}),
		subs: make(map[*subscriber]struct{}),
	}
}

// message is one stream entry, decoded once for every subscriber.
type message struct {
	stream int
	id     ID
	// frame is the SSE message without its id line; nil for an entry
	// that is not an event (it still moves the cursor).
	frame []byte
	// whole is the message with its id line when the feed has one stream,
	// so that the cursor is the entry ID: written as is to everyone.
	whole                 []byte
	typ, provider, status string
}

// subscriber is one live reader's buffer.
type subscriber struct {
	ch   chan *message
	gone chan struct{} // closed when cut off or the feed stops
}

// Stats is a snapshot of the fan-out.
type Stats struct {
	// Subscribers is how many subscribers are live.
	Subscribers int
	// CutOff is how many subscribers were cut off for falling behind.
	CutOff int
}

// Stats returns the current subscriber counts.
func (f *Feed) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{Subscribers: len(f.subs), CutOff: f.cutOff}
}

// Run reads the streams until ctx is done, handing every entry to every
// subscriber; it is meant to run once. A Redis error is logged and the read retried a second later
// from where it stopped: subscribers stay connected and lose nothing.
func (f *Feed) Run(ctx context.Context) error {
	// Subscribers leave as soon as ctx ends, not when the read under way
	// returns.
	defer context.AfterFunc(ctx, f.stop)()
	defer f.stop()
	log := f.cfg.Logger
	pos, err := f.tail(ctx)
	for err != nil {
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("feed: find the streams' ends", zap.Error(err))
		if !f.pause(ctx) {
			return nil
		}
		pos, err = f.tail(ctx)
	}
	f.mu.Lock()
	f.pos = pos.clone()
	f.mu.Unlock()
	close(f.ready)

	var wg sync.WaitGroup
	for k := range f.cfg.Streams {
		wg.Go(func() { f.read(ctx, k, pos[k]) })
	}
	wg.Wait()
	return nil
}

// read follows stream k from after pos until ctx is done, with a blocking
// XREAD of that stream alone: in a Redis Cluster the streams may live in
// different slots, where one XREAD over several of them is refused.
func (f *Feed) read(ctx context.Context, k int, pos ID) {
	log := f.cfg.Logger
	stream := f.cfg.Streams[k]
	for ctx.Err() == nil {
		res, err := f.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, pos.String()}, Count: f.cfg.Count, Block: f.cfg.Block}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			log.Warn("feed: read the event stream", zap.String("stream", stream), zap.Error(err))
			if !f.pause(ctx) {
				return
			}
			continue
		}
		var batch []*message
		for _, xs := range res {
			for _, xm := range xs.Messages {
				m, err := f.decode(k, xm)
				if err != nil {
					log.Warn("feed: skip an entry", zap.String("stream", stream), zap.String("entry_id", xm.ID), zap.Error(err))
					continue
				}
				pos = m.id
				batch = append(batch, m)
			}
		}
		f.dispatch(k, batch, pos)
	}
}

// pause waits a second before a retry; false when ctx ended first.
func (f *Feed) pause(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-f.cfg.Clock.After(time.Second):
		return true
	}
}

// tail returns the last entry ID of each stream, 0-0 for an empty one.
func (f *Feed) tail(ctx context.Context) (Cursor, error) {
	pos := make(Cursor, len(f.cfg.Streams))
	for i, s := range f.cfg.Streams {
		last, err := f.rdb.XRevRangeN(ctx, s, "+", "-", 1).Result()
		if err != nil {
			return nil, fmt.Errorf("feed: %s: %w", s, err)
		}
		if len(last) == 1 {
			if pos[i], err = ParseID(last[0].ID); err != nil {
				return nil, fmt.Errorf("feed: %s: %w", s, err)
			}
		}
	}
	return pos, nil
}

// dispatch hands the batch of stream k to every subscriber, cutting off
// those whose buffer is full, and records pos as the new position in that
// stream.
func (f *Feed) dispatch(k int, batch []*message, pos ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pos[k] = pos
	for s := range f.subs {
		for _, m := range batch {
			select {
			case s.ch <- m:
				continue
			default:
			}
			delete(f.subs, s)
			close(s.gone)
			f.cutOff++
			break
		}
	}
}

// subscribe joins the live fan-out and returns where the live reader
// stands: the subscriber gets every entry after it.
func (f *Feed) subscribe(ctx context.Context) (*subscriber, Cursor, error) {
	select {
	case <-f.ready:
	case <-f.stopped:
		return nil, nil, ErrStopped
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	s := &subscriber{ch: make(chan *message, f.cfg.Buffer), gone: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.stopped:
		return nil, nil, ErrStopped
	default:
	}
	f.subs[s] = struct{}{}
	return s, f.pos.clone(), nil
}

func (f *Feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[s]; ok {
		delete(f.subs, s)
		close(s.gone)
	}
}

func (f *Feed) stop() {
	f.stopOnce.Do(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		close(f.stopped)
		for s := range f.subs {
			delete(f.subs, s)
			close(s.gone)
		}
	})
}

// eventHead is the part of an event the filters look at.
type eventHead struct {
	Type     string `json:"type"`
	Status   string `json:"status"`
	Provider string `json:"provider"`
}

// decode turns a stream entry into a message. An entry without a
// decodable event is an error, and the message still moves the cursor.
func (f *Feed) decode(k int, xm redis.XMessage) (*message, error) {
	id, err := ParseID(xm.ID)
	if err != nil {
		return nil, err
	}
	m := &message{stream: k, id: id}
	raw, _ := xm.Values[genwatch.StreamField].(string)
	var head eventHead
	if err := json.Unmarshal([]byte(raw), &head); err != nil || head.Type == "" {
		f.cfg.Logger.Warn("feed: entry without an event", zap.String("stream", f.cfg.Streams[k]), zap.String("entry_id", xm.ID))
		return m, nil
	}
	m.typ, m.provider, m.status = head.Type, head.Provider, head.Status
	m.frame = frame(head.Type, raw)
	if len(f.cfg.Streams) == 1 {
		m.whole = slices.Concat([]byte("id: "+xm.ID+"\n"), m.frame)
	}
	return m, nil
}
