// Package hint makes a tracked generation poll now, because something
// outside the schedule (a provider's webhook, typically) suggests it has
// ended. A hint is never the outcome: the event still comes from the
// status call it causes.
//
// A hint runs the generation's waiting task at once, with asynq's
// Inspector.RunTask, when the task sits in the retry or scheduled set
// (waiting for its next poll). A task being polled, already due, or ended
// is left alone: running an ended task would only cost a status call. Hints
// are debounced fleet-wide per generation with one Redis SET NX PX, so that
// a flood of hints costs the provider at most one extra status call per
// generation every Debounce. A hint that passes is also recorded in the
// generation's state (Config.Recorder), where its next poll sees it: a
// webhook that came before the status says ended makes the polls after it
// follow closely.
package hint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch"
)

// Poller makes a tracked generation poll at once. Others who learn that a
// generation may have ended call it; Runner is the implementation.
type Poller interface {
	// PollNow asks for a poll of the generation with the given task ID
	// ("<provider>:<generation_id>") and tells what came of it.
	PollNow(ctx context.Context, taskID string) (Outcome, error)
}

// PollerFunc adapts a function to Poller.
type PollerFunc func(ctx context.Context, taskID string) (Outcome, error)

// PollNow implements Poller.
func (f PollerFunc) PollNow(ctx context.Context, taskID string) (Outcome, error) {
	return f(ctx, taskID)
}

// Outcome is what came of a hint.
type Outcome string

// Outcomes, also used as metric labels.
const (
	// Polled: the waiting task was run; its poll comes within about a
	// second.
	Polled Outcome = "polled"
	// Debounced: another hint for the generation came less than Debounce
	// ago; this one changes nothing.
	Debounced Outcome = "debounced"
	// NotWaiting: no task waits for a poll: the generation is not tracked,
	// has ended, is being polled, or is already due.
	NotWaiting Outcome = "not_waiting"
)

// Inspector is the part of *asynq.Inspector that Runner uses.
type Inspector interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	RunTask(queue, id string) error
}

// Config configures a Runner.
type Config struct {
	// Redis holds the debounce keys. Required.
	Redis redis.UniversalClient
	// Inspector finds and runs tasks. Required.
	Inspector Inspector
	// Shards says which queue a generation's task is on, and the key
	// prefix of its shard: a debounce key is "<prefix>hint:<task id>".
	Shards genwatch.Shards
	// Debounce is the least time between two hints that poll one
	// generation. If zero, DefaultDebounce.
	Debounce time.Duration
	// Recorder keeps the hint in the generation's state. If nil, hints
	// are not recorded.
	Recorder Recorder
	// Now tells the time. If nil, time.Now.
	Now func() time.Time
}

// Recorder keeps the time of a hint where the generation's next poll sees
// it; *store.Store is one.
type Recorder interface {
	Hint(ctx context.Context, taskID string, now time.Time, debounce time.Duration) (bool, error)
}

// DefaultDebounce is the default Config.Debounce.
const DefaultDebounce = 3 * time.Second

// Runner is the Poller of a fleet: it runs waiting tasks, debounced
// through Redis.
type Runner struct {
	cfg Config
}

var _ Poller = (*Runner)(nil)

// New returns a Runner; see Config for the defaults.
func New(cfg Config) *Runner {
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	cfg.Shards = cfg.Shards.WithDefaults()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{cfg: cfg}
}

// PollNow implements Poller: the first hint for a generation within
// Debounce runs its task if it waits; the others are Debounced.
func (d *Runner) PollNow(ctx context.Context, taskID string) (Outcome, error) {
	first, err := d.cfg.Redis.SetNX(ctx, d.cfg.Shards.KeyPrefixOf(taskID)+"hint:"+taskID, 1, d.cfg.Debounce).Result()
	if err != nil {
		return "", fmt.Errorf("hint %s: %w", taskID, err)
	}
	if !first {
		return Debounced, nil
	}
	queue := d.cfg.Shards.QueueOf(taskID)
	info, err := d.cfg.Inspector.GetTaskInfo(queue, taskID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return NotWaiting, nil
	case err != nil:
		return "", fmt.Errorf("hint %s: %w", taskID, err)
	case info.State == asynq.TaskStateCompleted || info.State == asynq.TaskStateArchived:
		return NotWaiting, nil
	}
	if d.cfg.Recorder != nil {
		// Debounced above already; a poll under way sees it too.
		if _, err := d.cfg.Recorder.Hint(ctx, taskID, d.cfg.Now(), 0); err != nil {
			return "", fmt.Errorf("hint %s: %w", taskID, err)
		}
	}
	if info.State != asynq.TaskStateRetry && info.State != asynq.TaskStateScheduled {
		return NotWaiting, nil
	}
	err = d.cfg.Inspector.RunTask(queue, taskID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound):
		return NotWaiting, nil
	case err != nil:
		// Most likely the task moved on since it was looked at (it is
		// due, or being polled): what the hint asked for happens anyway.
		if info, ierr := d.cfg.Inspector.GetTaskInfo(queue, taskID); ierr == nil &&
			info.State != asynq.TaskStateRetry && info.State != asynq.TaskStateScheduled {
			return NotWaiting, nil
		}
		return "", fmt.Errorf("hint %s: run task: %w", taskID, err)
	}
	return Polled, nil
}
