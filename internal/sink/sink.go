// Package sink delivers completion events beyond the Redis stream.
//
// The stream entry is written by the poll handler itself, atomically with
// the guard that makes it the only one (tasks.Store.Emit). Everything else
// is asynchronous and retried on its own, so that a failing webhook or Go
// handler never causes another provider poll and never a second event
// elsewhere:
//
//   - Fanout, called by the poll handler after the stream entry, enqueues
//     one asynq task per destination, each with a task ID derived from the
//     event ID, so that calling it again (after a crash) enqueues nothing
//     new.
//   - The optional asynq sink is such a task itself: type generation:event
//     on the configured queue, for another service's asynq server.
//   - Webhooks and Go handlers get a genwatch:deliver task on the delivery
//     queue; DeliverHandler runs it and asynq retries it with backoff until
//     it succeeds.
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/genwatch/genwatch"
)

// TaskTypeDeliver is the task type of one delivery to one Sink.
const TaskTypeDeliver = "genwatch:deliver"

// DeliverMaxRetry bounds the retries of one delivery; with RetryDelay they
// span about a day.
const DeliverMaxRetry = 100

// RetryDelay is the backoff of a failed delivery: 1 s doubling up to 15 min,
// plus up to 10% jitter from rnd (uniform in [0, 1)).
func RetryDelay(n int, rnd float64) time.Duration {
	const maxDelay = 15 * time.Minute
	d := maxDelay
	if n < 20 {
		d = min(time.Second<<n, maxDelay)
	}
	return d + time.Duration(rnd*0.1*float64(d))
}

// Sink is one destination of events.
type Sink interface {
	// Deliver hands over one event; encoded is its JSON. An error is
	// retried later with backoff. Deliver may be called more than once for
	// the same event (at-least-once); the event ID is stable for
	// deduplication.
	Deliver(ctx context.Context, event genwatch.Event, encoded []byte) error
}

// Func adapts a function to Sink.
type Func func(ctx context.Context, event genwatch.Event, encoded []byte) error

// Deliver implements Sink.
func (f Func) Deliver(ctx context.Context, event genwatch.Event, encoded []byte) error {
	return f(ctx, event, encoded)
}

// Observer is told of every delivery, for metrics.
type Observer interface {
	// Delivered reports one attempt to write an event to a sink: "asynq",
	// "webhook" or "handler:<name>".
	Delivered(sink string, err error)
}

type nopObserver struct{}

func (nopObserver) Delivered(string, error) {}

// Enqueuer is the part of *asynq.Client that Fanout uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// FanoutConfig configures a Fanout.
type FanoutConfig struct {
	// TaskQueue, when set, gets a generation:event task per event.
	TaskQueue string
	// DeliveryQueue is where deliveries to Sinks wait and retry. Required
	// when Sinks is not empty.
	DeliveryQueue string
	// Sinks are the names of the destinations DeliverHandler knows.
	Sinks []string
	// Retention keeps finished tasks, and so the guard against enqueuing a
	// delivery twice. If zero, genwatch.DefaultRetention.
	Retention time.Duration
	// Observer counts events written to the asynq sink. If nil, nothing.
	Observer Observer
}

// Fanout enqueues the deliveries of an event. It implements tasks.Fanout.
type Fanout struct {
	client Enqueuer
	cfg    FanoutConfig
}

// NewFanout returns a Fanout enqueuing through client.
func NewFanout(client Enqueuer, cfg FanoutConfig) *Fanout {
	if cfg.Retention <= 0 {
		cfg.Retention = genwatch.DefaultRetention
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	return &Fanout{client: client, cfg: cfg}
}

// Enabled reports whether any destination is configured.
func (f *Fanout) Enabled() bool { return f.cfg.TaskQueue != "" || len(f.cfg.Sinks) > 0 }

// delivery is the payload of a genwatch:deliver task.
type delivery struct {
	Sink  string          `json:"sink"`
	Event json.RawMessage `json:"event"`
}

// Fanout enqueues one task per destination. A destination that already has
// its task (a repeated call) is skipped.
func (f *Fanout) Fanout(ctx context.Context, event genwatch.Event, encoded []byte) error {
	var errs []error
	enqueue := func(task *asynq.Task) (added bool) {
		_, err := f.client.EnqueueContext(ctx, task)
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			errs = append(errs, fmt.Errorf("enqueue %s: %w", task.Type(), err))
		}
		return err == nil
	}
	if f.cfg.TaskQueue != "" {
		if enqueue(asynq.NewTask(genwatch.TaskTypeEvent, encoded,
			asynq.TaskID(event.ID), asynq.Queue(f.cfg.TaskQueue), asynq.Retention(f.cfg.Retention))) {
			f.cfg.Observer.Delivered("asynq", nil)
		}
	}
	for _, name := range f.cfg.Sinks {
		payload, err := json.Marshal(delivery{Sink: name, Event: encoded})
		if err != nil {
			return fmt.Errorf("fanout: %w", err)
		}
		enqueue(asynq.NewTask(TaskTypeDeliver, payload,
			asynq.TaskID(name+":"+event.ID), asynq.Queue(f.cfg.DeliveryQueue),
			asynq.MaxRetry(DeliverMaxRetry), asynq.Retention(f.cfg.Retention)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fanout %s: %w", event.ID, err)
	}
	return nil
}

// DeliverHandler runs genwatch:deliver tasks.
type DeliverHandler struct {
	sinks    map[string]Sink
	observer Observer
}

// NewDeliverHandler returns a handler delivering to sinks by name,
// reporting each attempt to observer (which may be nil).
func NewDeliverHandler(sinks map[string]Sink, observer Observer) *DeliverHandler {
	if observer == nil {
		observer = nopObserver{}
	}
	return &DeliverHandler{sinks: sinks, observer: observer}
}

// ProcessTask implements asynq.Handler.
func (h *DeliverHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var d delivery
	if err := json.Unmarshal(t.Payload(), &d); err != nil {
		return fmt.Errorf("deliver: decode payload: %v: %w", err, asynq.SkipRetry)
	}
	sink, ok := h.sinks[d.Sink]
	if !ok {
		return fmt.Errorf("deliver: no sink named %q in this worker: %w", d.Sink, asynq.SkipRetry)
	}
	event, err := genwatch.DecodeEvent(d.Event)
	if err != nil {
		return fmt.Errorf("deliver: %v: %w", err, asynq.SkipRetry)
	}
	err = sink.Deliver(ctx, event, d.Event)
	h.observer.Delivered(d.Sink, err)
	if err != nil {
		return fmt.Errorf("deliver %s to %s: %w", event.ID, d.Sink, err)
	}
	return nil
}
