// Package streamgroup reads a Redis stream through a consumer group, so
// that every process of a fleet that runs the same group shares its
// entries, each entry is handled until it is acknowledged, and the entries
// of a consumer that died are taken over by one that lives.
//
// Run creates the group if it does not exist (at the end of the stream, or
// at Config.Start), then loops: XREADGROUP for new entries, the handler for
// each, XACK when it succeeded. An entry whose handler failed, or whose
// consumer died before acknowledging it, stays pending; every ClaimEvery the
// loop takes over, with XAUTOCLAIM, the entries that have been pending for
// ClaimIdle, whoever held them, and handles them again, and forgets the
// consumers that have been idle, with nothing pending, for ForgetIdle (the
// names of processes that stopped). Delivery is therefore at least once: a
// handler must be idempotent.
package streamgroup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Handler handles one stream entry. A nil error acknowledges it; an error
// leaves it pending, to be handled again after Config.ClaimIdle.
type Handler func(ctx context.Context, msg redis.XMessage) error

// Config configures a reader.
type Config struct {
	// Stream is the stream key. Required.
	Stream string
	// Group is the consumer group's name. Required.
	Group string
	// Consumer names this reader in the group; unique per process.
	// Required.
	Consumer string
	// Start is the entry ID after which a group created by Run begins:
	// "$" (entries added from now on) if empty, "0" for the whole stream.
	Start string
	// Count is how many entries one read returns at most. If zero, 100.
	Count int64
	// Block is how long one read waits for new entries. If zero, 2 s.
	Block time.Duration
	// ClaimIdle is how long an entry stays pending (its handler failed, or
	// its consumer died) before it is handled again. If zero, 30 s.
	ClaimIdle time.Duration
	// ClaimEvery is how often pending entries are looked for. If zero,
	// ClaimIdle / 2.
	ClaimEvery time.Duration
	// ForgetIdle is how long another consumer of the group may be idle,
	// with nothing pending, before it is removed from the group: the names
	// of processes that stopped. If zero, 24 h.
	ForgetIdle time.Duration
	// Logger logs failed handlers and Redis errors. If nil, nothing.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.Start == "" {
		c.Start = "$"
	}
	if c.Count <= 0 {
		c.Count = 100
	}
	if c.Block <= 0 {
		c.Block = 2 * time.Second
	}
	if c.ClaimIdle <= 0 {
		c.ClaimIdle = 30 * time.Second
	}
	if c.ClaimEvery <= 0 {
		c.ClaimEvery = c.ClaimIdle / 2
	}
	if c.ForgetIdle <= 0 {
		c.ForgetIdle = 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	for field, v := range map[string]string{"Stream": c.Stream, "Group": c.Group, "Consumer": c.Consumer} {
		if v == "" {
			errs = append(errs, fmt.Errorf("streamgroup: %s is required", field))
		}
	}
	return errors.Join(errs...)
}

// Create creates the group on the stream (and the stream, if need be),
// beginning after start ("$" if empty); a group that exists is left as it
// is. A process calls it before anything it must not miss is added.
func Create(ctx context.Context, rdb redis.UniversalClient, stream, group, start string) error {
	if start == "" {
		start = "$"
	}
	err := rdb.XGroupCreateMkStream(ctx, stream, group, start).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("streamgroup: create group %s on %s: %w", group, stream, err)
	}
	return nil
}

// Run reads the stream through the group until ctx is done, then returns
// nil. Redis errors are logged and retried after a pause; only an invalid
// Config is returned as an error.
func Run(ctx context.Context, rdb redis.UniversalClient, cfg Config, h Handler) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	r := &reader{rdb: rdb, cfg: cfg.withDefaults(), h: h}
	return r.run(ctx)
}

type reader struct {
	rdb redis.UniversalClient
	cfg Config
	h   Handler
}

// pause is how long the loop waits after a Redis error.
const pause = time.Second

func (r *reader) run(ctx context.Context) error {
	log := r.cfg.Logger
	created := false
	var nextClaim time.Time
	for ctx.Err() == nil {
		if !created {
			if err := Create(ctx, r.rdb, r.cfg.Stream, r.cfg.Group, r.cfg.Start); err != nil {
				r.fail(ctx, "could not create the consumer group", err)
				continue
			}
			created = true
		}
		if now := time.Now(); !now.Before(nextClaim) {
			nextClaim = now.Add(r.cfg.ClaimEvery)
			if err := r.claim(ctx); err != nil {
				created = !isNoGroup(err)
				r.fail(ctx, "could not take over pending entries", err)
				continue
			}
			if err := r.forget(ctx); err != nil {
				log.Debug("could not remove stopped consumers", zap.String("group", r.cfg.Group), zap.Error(err))
			}
		}
		block := min(r.cfg.Block, max(time.Until(nextClaim), time.Millisecond))
		res, err := r.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: r.cfg.Group, Consumer: r.cfg.Consumer,
			Streams: []string{r.cfg.Stream, ">"},
			Count:   r.cfg.Count, Block: block,
		}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			created = !isNoGroup(err)
			r.fail(ctx, "could not read the stream", err)
			continue
		}
		for _, s := range res {
			r.handle(ctx, s.Messages)
		}
	}
	log.Debug("stream reader stopped", zap.String("group", r.cfg.Group))
	return nil
}

// claim takes over every entry pending for ClaimIdle and handles it.
func (r *reader) claim(ctx context.Context) error {
	start := "0-0"
	for ctx.Err() == nil {
		msgs, next, err := r.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: r.cfg.Stream, Group: r.cfg.Group, Consumer: r.cfg.Consumer,
			MinIdle: r.cfg.ClaimIdle, Start: start, Count: r.cfg.Count,
		}).Result()
		if err != nil {
			return err
		}
		r.handle(ctx, msgs)
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
	return nil
}

// forget removes the consumers of processes that stopped: idle for
// ForgetIdle with nothing pending (what they had was taken over by claim).
func (r *reader) forget(ctx context.Context) error {
	consumers, err := r.rdb.XInfoConsumers(ctx, r.cfg.Stream, r.cfg.Group).Result()
	if err != nil {
		return err
	}
	// The pending counts come from XPENDING, which every Redis keeps
	// exact, rather than from XINFO.
	pending, err := r.rdb.XPending(ctx, r.cfg.Stream, r.cfg.Group).Result()
	if err != nil {
		return err
	}
	for _, c := range consumers {
		// A negative idle time is one the server did not report.
		if c.Name == r.cfg.Consumer || pending.Consumers[c.Name] > 0 || c.Idle < 0 || c.Idle < r.cfg.ForgetIdle {
			continue
		}
		if err := r.rdb.XGroupDelConsumer(ctx, r.cfg.Stream, r.cfg.Group, c.Name).Err(); err != nil {
			return err
		}
	}
	return nil
}

// handle runs the handler on each entry and acknowledges those it handled.
// An entry trimmed from the stream while pending comes back without
// values; it is acknowledged, since there is nothing left to handle.
func (r *reader) handle(ctx context.Context, msgs []redis.XMessage) {
	var done []string
	for _, m := range msgs {
		if ctx.Err() != nil {
			break
		}
		if m.Values != nil {
			if err := r.h(ctx, m); err != nil {
				r.cfg.Logger.Warn("stream entry not handled; it is handled again later",
					zap.String("group", r.cfg.Group), zap.String("entry", m.ID),
					zap.Duration("retry_in", r.cfg.ClaimIdle), zap.Error(err))
				continue
			}
		}
		done = append(done, m.ID)
	}
	if len(done) == 0 {
		return
	}
	// The acknowledgement must not be lost to a shutdown that began after
	// the entries were handled.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.rdb.XAck(actx, r.cfg.Stream, r.cfg.Group, done...).Err(); err != nil {
		r.cfg.Logger.Warn("could not acknowledge stream entries; they are handled again later",
			zap.String("group", r.cfg.Group), zap.Error(err))
	}
}

func (r *reader) fail(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	r.cfg.Logger.Warn(msg, zap.String("stream", r.cfg.Stream), zap.String("group", r.cfg.Group), zap.Error(err))
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// isNoGroup reports the error of a group (or stream) that no longer exists,
// for example after the stream was deleted: Run creates it again.
func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }
