// Package control shows and cancels tracked generations from any Go
// program, without running or linking the worker: what `genwatch status`
// and `genwatch cancel` do, and GET and DELETE
// /v1/generations/{provider}/{generation_id} of the HTTP API.
//
//	c := control.New(rdb, control.Config{Shards: genwatch.Shards{N: 4}})
//	// or, with the workers' configuration and its polling policies:
//	c = control.New(rdb, control.Config{Fleet: &cfg})
//	g, err := c.Status(ctx, genwatch.TaskID("hooked", "vid_abc123"))
//	ev, canceled, err := c.Cancel(ctx, genwatch.TaskID("hooked", "vid_abc123"))
//
// It reads the tracking task from asynq and the generation's state and
// event from genwatch's keys, on the fleet's Redis.
package control

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/fleet"
	"github.com/genwatch/genwatch/internal/store"
	"github.com/genwatch/genwatch/internal/tasks"
)

// Config configures a Control. The zero value is for an unsharded fleet
// with the default queue, stream and retention.
type Config struct {
	// Shards is the fleet's sharding (GENWATCH_SHARDS, its queue and
	// stream). The zero value is one shard on genwatch.DefaultQueue and
	// genwatch.DefaultStream.
	Shards genwatch.Shards
	// Retention is how long an ended generation keeps its event; it must
	// match the workers'. If zero, genwatch.DefaultRetention.
	Retention time.Duration
	// StreamMaxLen trims each event stream to about this many entries when
	// a cancellation appends its event, as the workers do; it should match
	// theirs. If zero, every entry is kept.
	StreamMaxLen int64
	// Now tells the time, for the canceled event and the estimates. If
	// nil, time.Now.
	Now func() time.Time
	// Fleet, when set, is the workers' configuration (package config): the
	// shards, retention and stream trimming are taken from it instead of
	// the fields above, and estimates follow its polling policies rather
	// than the default one.
	Fleet *config.Config
}

// Control shows and cancels the generations tracked by one fleet.
type Control struct {
	tasks *tasks.Control
}

// New returns a Control of the generations tracked on rdb. The caller keeps
// ownership of rdb.
func New(rdb redis.UniversalClient, cfg Config) *Control {
	if f := cfg.Fleet; f != nil {
		return &Control{tasks: tasks.NewControl(tasks.ControlConfig{
			Store:     fleet.NewStore(rdb, *f),
			Inspector: asynq.NewInspectorFromRedisClient(rdb),
			Shards:    f.Sharding(),
			Retention: f.Retention,
			Policy:    f.Policy,
			Now:       cfg.Now,
		})}
	}
	return &Control{tasks: tasks.NewControl(tasks.ControlConfig{
		Store:     store.New(rdb, store.Config{Shards: cfg.Shards, StreamMaxLen: cfg.StreamMaxLen}),
		Inspector: asynq.NewInspectorFromRedisClient(rdb),
		Shards:    cfg.Shards,
		Retention: cfg.Retention,
		Now:       cfg.Now,
	})}
}

// Status returns what is known of the generation with this task ID
// (genwatch.TaskID): its tracking task's state, polls, progress, the next
// poll and an estimated end while it waits (by the default polling policy,
// or Config.Fleet's, and the durations the fleet has learned), and its Event once it has
// ended. For a generation that is not tracked (never enqueued, or ended
// longer ago than the retention) the error matches genwatch.ErrNotTracked.
func (c *Control) Status(ctx context.Context, taskID string) (genwatch.Generation, error) {
	return c.tasks.Status(ctx, taskID)
}

// Cancel ends the generation's tracking with a canceled event, exactly
// once, unless it has already ended. It returns the event that stands and
// whether it is this call's cancellation (false: the generation had ended,
// and its earlier event stands). A generation waiting for its next poll
// ends at once; one being polled ends, canceled, when that poll does. The
// event reaches the stream, and the sinks, like any other. For a
// generation that is not tracked the error matches genwatch.ErrNotTracked.
func (c *Control) Cancel(ctx context.Context, taskID string) (genwatch.Event, bool, error) {
	return c.tasks.Cancel(ctx, taskID)
}
