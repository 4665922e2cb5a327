package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/store"
)

// Inspector is the part of *asynq.Inspector that Control uses.
type Inspector interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	RunTask(queue, id string) error
}

// ControlConfig configures a Control.
type ControlConfig struct {
	// Store holds the generations' state and done keys. Required.
	Store *store.Store
	// Inspector reads and runs the tracking tasks. Required.
	Inspector Inspector
	// Shards names the tracking queues; a generation's task is on its
	// shard's. The zero value is the one queue genwatch.DefaultQueue.
	Shards genwatch.Shards
	// Retention must match the workers'. If zero, genwatch.DefaultRetention.
	Retention time.Duration
	// Now tells the time. If nil, time.Now.
	Now func() time.Time
	// Policy returns the polling policy of a provider, for the estimated
	// end of a waiting generation. If nil, the default policy.
	Policy func(provider string) schedule.Policy
}

// Control shows and cancels tracked generations, for people and scripts.
type Control struct {
	cfg ControlConfig
}

// NewControl returns a Control.
func NewControl(cfg ControlConfig) *Control {
	cfg.Shards = cfg.Shards.WithDefaults()
	if cfg.Retention <= 0 {
		cfg.Retention = genwatch.DefaultRetention
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Control{cfg: cfg}
}

// Status returns the generation's state.
func (c *Control) Status(ctx context.Context, taskID string) (genwatch.Generation, error) {
	info, err := c.cfg.Inspector.GetTaskInfo(c.cfg.Shards.QueueOf(taskID), taskID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return genwatch.Generation{}, fmt.Errorf("%s: %w", taskID, genwatch.ErrNotTracked)
	case err != nil:
		return genwatch.Generation{}, fmt.Errorf("%s: %w", taskID, err)
	}
	g := genwatch.Generation{TaskID: taskID, State: info.State.String(), LastError: info.LastErr}
	req, reqErr := genwatch.DecodeRequest(info.Payload)
	if reqErr == nil {
		g.Provider, g.GenerationID, g.Account = req.Provider, req.GenerationID, req.ResolvedAccount()
		g.EnqueuedAt = req.EnqueuedAt
	}
	if info.State == asynq.TaskStateRetry || info.State == asynq.TaskStateScheduled {
		next := info.NextProcessAt
		g.NextPollAt = &next
	}
	rec, ok, err := c.cfg.Store.Load(ctx, taskID)
	if err != nil {
		return genwatch.Generation{}, err
	}
	if ok {
		g.Polls = rec.History.Polls
		g.ProviderStatus = rec.ProviderStatus
		if p, ok := rec.LastProgress(); ok {
			g.Progress = &p
		}
		if g.EnqueuedAt == nil {
			g.EnqueuedAt = &rec.FirstSeen
		}
	}
	if reqErr == nil && info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted {
		if eta, ok := c.estimate(ctx, req, rec); ok {
			g.ETA = &eta
		}
	}
	stored, ended, err := c.cfg.Store.Done(ctx, taskID)
	if err != nil {
		return genwatch.Generation{}, err
	}
	if ended {
		ev, err := genwatch.DecodeEvent(stored)
		if err != nil {
			return genwatch.Generation{}, fmt.Errorf("%s: stored %w", taskID, err)
		}
		g.Event = &ev
		g.Polls = ev.Polls
		g.NextPollAt = nil
		g.LastError = ""
	}
	return g, nil
}

// estimate is the end of a waiting generation as its next poll would
// estimate it now; false when there is no estimate.
func (c *Control) estimate(ctx context.Context, req genwatch.Request, rec store.Record) (time.Time, bool) {
	policy := schedule.Policy{}
	if c.cfg.Policy != nil {
		policy = c.cfg.Policy(req.Provider)
	}
	now := c.cfg.Now()
	enqueuedAt := rec.FirstSeen
	if req.EnqueuedAt != nil {
		enqueuedAt = *req.EnqueuedAt
	}
	if enqueuedAt.IsZero() {
		enqueuedAt = now
	}
	// Without the learned durations the estimate is the default's: still
	// an estimate, so a failed read only makes it rougher.
	prior, _ := c.cfg.Store.Durations(ctx, req.TaskID(), req.Provider, req.ResolvedAccount(), rec.Model)
	eta, _, ok := schedule.Estimate(schedule.Input{
		Now: now, EnqueuedAt: enqueuedAt, History: rec.History, Policy: policy,
		Expected: req.Expected(), Prior: prior,
	})
	return eta.UTC(), ok
}

// Approx writes a duration the way an estimate deserves: "25s", "1m",
// "3m10s", "2h", "2h05m".
func Approx(d time.Duration) string {
	switch d = d.Round(time.Second); {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour && int(d.Seconds())%60 == 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case int(d.Minutes())%60 == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// Cancel ends the generation's tracking with a canceled event, unless it has
// already ended. It returns the event that stands and whether it is this
// cancellation's. A waiting task is run at once, so that it finishes now and
// hands the event to the sinks; a task being polled finishes when its poll
// does, with the canceled event, whatever the provider answered.
func (c *Control) Cancel(ctx context.Context, taskID string) (genwatch.Event, bool, error) {
	g, err := c.Status(ctx, taskID)
	if err != nil {
		return genwatch.Event{}, false, err
	}
	if g.Event != nil {
		return *g.Event, false, nil
	}
	if g.State == asynq.TaskStateArchived.String() {
		return genwatch.Event{}, false, fmt.Errorf("%s: its task was archived (%s); delete it in the dashboard instead", taskID, g.LastError)
	}
	info, err := c.cfg.Inspector.GetTaskInfo(c.cfg.Shards.QueueOf(taskID), taskID)
	if err != nil {
		return genwatch.Event{}, false, fmt.Errorf("%s: %w", taskID, err)
	}
	req, err := genwatch.DecodeRequest(info.Payload)
	if err != nil {
		return genwatch.Event{}, false, fmt.Errorf("%s: %w", taskID, err)
	}

	now := c.cfg.Now().UTC()
	rec := store.Record{History: schedule.History{Polls: g.Polls}, ProviderStatus: g.ProviderStatus}
	if g.Progress != nil {
		rec.History.Progress = []schedule.Sample{{Percent: *g.Progress}}
	}
	enqueuedAt := now
	if g.EnqueuedAt != nil {
		enqueuedAt = *g.EnqueuedAt
	}
	event := buildEvent(req, req.ResolvedAccount(), rec, answer{}, Canceled, enqueuedAt, now)
	encoded, err := encodeEvent(event)
	if err != nil {
		return genwatch.Event{}, false, err
	}
	stored, appended, err := c.cfg.Store.Cancel(ctx, taskID, encoded, now, c.cfg.Retention, rerunGrace)
	// Not on the replicas yet: the canceled event stands all the same (a
	// failover right now could lose it, as it could without waiting); the
	// caller asked for a cancellation, and it is written.
	if err != nil && !errors.Is(err, store.ErrNotReplicated) {
		return genwatch.Event{}, false, fmt.Errorf("%s: cancel: %w", taskID, err)
	}
	standing, err := genwatch.DecodeEvent(stored)
	if err != nil {
		return genwatch.Event{}, false, fmt.Errorf("%s: stored %w", taskID, err)
	}
	if g.State == asynq.TaskStateRetry.String() || g.State == asynq.TaskStateScheduled.String() {
		// Best effort: a task that moved on in the meantime finishes anyway.
		_ = c.cfg.Inspector.RunTask(c.cfg.Shards.QueueOf(taskID), taskID)
	}
	return standing, appended, nil
}
