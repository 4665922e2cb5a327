package genwatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch/internal/streamgroup"
)

// EventHandler receives completion events. It may see an event more than
// once and should deduplicate on Event.ID.
type EventHandler interface {
	HandleEvent(ctx context.Context, event Event) error
}

// EventHandlerFunc adapts a function to EventHandler.
type EventHandlerFunc func(ctx context.Context, event Event) error

// HandleEvent implements EventHandler.
func (f EventHandlerFunc) HandleEvent(ctx context.Context, event Event) error {
	return f(ctx, event)
}

// ConsumerConfig configures Consume.
type ConsumerConfig struct {
	// Shards is the fleet's sharding: Consume reads every shard's event
	// stream. The zero value is the one stream DefaultStream.
	Shards Shards
	// Group is the consumer group's name. Every process that consumes with
	// the same Group shares the events: each is handled by one of them
	// (at least once). Keep it stable across deployments. Names that
	// begin with "sink:" are the worker's own groups, one per sink, and
	// are refused. Required.
	Group string
	// Consumer names this process in the group; unique per process. If
	// empty, "<hostname>-<pid>".
	Consumer string
	// Start is where a group that does not exist yet begins, on each
	// stream: "$" (events appended from its creation on) if empty, "0"
	// for every event the stream still holds. A group that exists goes on
	// where it was.
	Start string
	// ClaimIdle is how long an event stays pending (its handler failed, or
	// its process died before acknowledging it) before it is handled
	// again, by whichever process of the group claims it. If zero, 30 s.
	ClaimIdle time.Duration
	// Block is how long one read waits for new events. If zero, 2 s.
	Block time.Duration
	// Count is how many events one read returns at most. If zero, 100.
	Count int64
	// Logger logs failed handlers, entries that are not events and Redis
	// errors. If nil, nothing is logged.
	Logger *zap.Logger
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	c.Shards = c.Shards.WithDefaults()
	if c.Consumer == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "consumer"
		}
		c.Consumer = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// workerGroupPrefix begins the names of the consumer groups the workers
// read the stream with, one per sink route.
const workerGroupPrefix = "sink:"

func (c ConsumerConfig) validate() error {
	var errs []error
	switch {
	case c.Group == "":
		errs = append(errs, errors.New("Group is required"))
	case strings.HasPrefix(c.Group, workerGroupPrefix):
		errs = append(errs, fmt.Errorf("Group %q is taken: groups that begin with %q are the worker's own, one per sink", c.Group, workerGroupPrefix))
	}
	for field, d := range map[string]time.Duration{"ClaimIdle": c.ClaimIdle, "Block": c.Block} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", field, d))
		}
	}
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("Count must not be negative, got %d", c.Count))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	return nil
}

// Consume reads the completion events of every shard's stream through the
// consumer group cfg.Group, and hands each to h, until ctx is done; then
// it returns nil. It creates the group on each stream that lacks it (see
// ConsumerConfig.Start). Only an invalid cfg is returned as an error;
// Redis errors are logged and retried.
//
// Delivery is at least once. An event whose handler returned nil is
// acknowledged (XACK). One whose handler failed stays pending and is
// handled again after cfg.ClaimIdle, as are the events of a process of
// the group that died before acknowledging them: every process of the
// group takes those over (XAUTOCLAIM).
//
// An entry that is not an event (no "event" field, or one DecodeEvent
// refuses) would fail the same way on every delivery: it is logged at
// error level, with its stream and entry ID, and acknowledged. It stays in
// the stream, readable by its ID until the stream is trimmed, and is not
// handed to h.
func Consume(ctx context.Context, rdb redis.UniversalClient, cfg ConsumerConfig, h EventHandler) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if h == nil {
		return errors.New("consume: the handler is nil")
	}
	cfg = cfg.withDefaults()
	streams := cfg.Shards.Streams()
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, stream := range streams {
		wg.Go(func() {
			errs[i] = streamgroup.Run(ctx, rdb, streamgroup.Config{
				Stream: stream, Group: cfg.Group, Consumer: cfg.Consumer, Start: cfg.Start,
				Count: cfg.Count, Block: cfg.Block, ClaimIdle: cfg.ClaimIdle,
				Logger: cfg.Logger,
			}, entryHandler(stream, h, cfg.Logger))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	return nil
}

// entryHandler decodes each entry of stream and hands its event to h.
func entryHandler(stream string, h EventHandler, log *zap.Logger) streamgroup.Handler {
	return func(ctx context.Context, m redis.XMessage) error {
		raw, ok := m.Values[StreamField].(string)
		if !ok {
			log.Error("stream entry without an event; acknowledged, not handled",
				zap.String("stream", stream), zap.String("entry", m.ID))
			return nil
		}
		ev, err := DecodeEvent([]byte(raw))
		if err != nil {
			log.Error("stream entry is not an event; acknowledged, not handled",
				zap.String("stream", stream), zap.String("entry", m.ID), zap.Error(err))
			return nil
		}
		if err := h.HandleEvent(ctx, ev); err != nil {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
		return nil
	}
}
