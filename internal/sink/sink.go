// Package sink delivers completion events beyond the Redis stream, to every
// configured destination, whichever worker of the fleet ended the
// generation.
//
// The stream entry is written by the poll handler itself, atomically with
// the guard that makes it the only one (store.Store.Emit). Each other
// destination (a Route: the asynq sink, a webhook endpoint, a Go handler)
// reads the stream through a Redis consumer group of its own, named
// "sink:<route name>", run by every worker that has the route configured
// (streamgroup: XREADGROUP, XACK, XAUTOCLAIM of the entries a dead worker
// left). So an event ended by a worker without the route still reaches it,
// and a route no worker runs for a while catches up when one starts.
//
//   - The asynq sink is delivered inline by its reader: a generation:event
//     task whose ID is the event ID, so that a repeat enqueues nothing.
//   - Webhooks and Go handlers get a genwatch:deliver task on a queue of
//     their own, "<delivery queue>:<route name>", served only by workers
//     that have the route; DeliverHandler runs it and asynq retries it on
//     the schedule of RetryDelay, then archives it, where the
//     `genwatch deliveries` command lists and replays it. The task ID is
//     derived from the event ID, so a repeated read enqueues nothing new.
//
// A failing destination is retried on its own: it never causes another
// provider poll, a second stream entry or a delivery to another route.
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/streamgroup"
)

// TaskTypeDeliver is the task type of one delivery to one route.
const TaskTypeDeliver = "genwatch:deliver"

// Schedule returns the delay before each retry of a failed delivery: 12
// attempts over about 24 hours (5 s, 30 s, 2 min, 5 min, 15 min, 30 min,
// 1 h, 2 h, 4 h, 8 h, 8 h), each spread by up to 10% either way. After the
// last one the delivery is archived: `genwatch deliveries` lists and
// replays it.
func Schedule() []time.Duration {
	return []time.Duration{
		5 * time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour,
	}
}

// DeliverMaxRetry is the number of retries of one delivery: one per step
// of Schedule.
const DeliverMaxRetry = 11

// maxRetryAfter bounds how long a receiver's Retry-After can hold back a
// delivery.
const maxRetryAfter = 24 * time.Hour

// RetryDelay is the delay before retry n+1 (n from 0) of a delivery that
// failed with err: Schedule[n], spread by rnd (uniform in [0, 1)) by up to
// 10% either way, or the receiver's Retry-After when it asks for longer
// (bounded by a day).
func RetryDelay(n int, err error, rnd float64) time.Duration {
	schedule := Schedule()
	d := schedule[min(max(n, 0), len(schedule)-1)]
	d += time.Duration((rnd*2 - 1) * 0.1 * float64(d))
	var he *HTTPError
	if errors.As(err, &he) && he.RetryAfter > d {
		d = min(he.RetryAfter, maxRetryAfter)
	}
	return d
}

// Sink is one destination of events.
type Sink interface {
	// Deliver hands over one event; encoded is its JSON. An error is
	// retried later (unless it wraps asynq.SkipRetry). Deliver may be
	// called more than once for the same event (at-least-once); the event
	// ID is stable for deduplication.
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
	// Delivered reports one attempt to write an event to a route: "asynq",
	// "webhook:<name>" or "handler:<name>".
	Delivered(route string, err error)
	// EndpointDisabled reports a webhook endpoint that answered 410 Gone.
	EndpointDisabled(endpoint string)
}

type nopObserver struct{}

func (nopObserver) Delivered(string, error) {}
func (nopObserver) EndpointDisabled(string) {}

// Route is one destination of events, beside the stream.
type Route struct {
	// Name is "asynq", "webhook:<endpoint>" or "handler:<name>": it names
	// the route's consumer group and delivery queue, so keep it stable.
	Name string
	// EventTypes, when not empty, are the event types the route wants
	// (generation.completed, ...); others are skipped.
	EventTypes []string
	// Sink delivers.
	Sink Sink
	// Inline delivers in the stream reader rather than through a
	// genwatch:deliver task: for a sink that only enqueues, idempotently.
	Inline bool
}

// Wants reports whether the route takes events of type eventType.
func (r Route) Wants(eventType string) bool {
	return len(r.EventTypes) == 0 || slices.Contains(r.EventTypes, eventType)
}

// Group is the consumer group of a route on the event stream.
func Group(route string) string { return "sink:" + route }

// Queue is the delivery queue of a route: "<deliveryQueue>:<route>".
func Queue(deliveryQueue, route string) string { return deliveryQueue + ":" + route }

// DeliveryTaskID is the task ID of the delivery of an event to a route.
func DeliveryTaskID(route, eventID string) string { return route + ":" + eventID }

// Enqueuer is the part of *asynq.Client that the routes use.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// RouterConfig configures a Router.
type RouterConfig struct {
	// Streams are the event streams: one, or one per tracking shard
	// (genwatch.Shards.Streams). Each route reads each. Required.
	Streams []string
	// Consumer names this process in every route's group; unique in the
	// fleet. Required.
	Consumer string
	// DeliveryQueue prefixes the routes' delivery queues. Required when a
	// route is not inline.
	DeliveryQueue string
	// Routes are this worker's destinations.
	Routes []Route
	// Retention keeps finished delivery tasks, and so the guard against
	// enqueuing one twice. If zero, genwatch.DefaultRetention.
	Retention time.Duration
	// ClaimIdle is how long a stream entry a reader took but did not
	// finish (its worker died, Redis failed) waits before another reader
	// takes it over. If zero, 30 s.
	ClaimIdle time.Duration
	// Observer counts deliveries. If nil, nothing.
	Observer Observer
	// Logger logs. If nil, nothing.
	Logger *zap.Logger
}

// Router runs the consumer groups of a worker's routes.
type Router struct {
	rdb    redis.UniversalClient
	client Enqueuer
	cfg    RouterConfig
}

// NewRouter returns a Router reading on rdb and enqueuing through client.
func NewRouter(rdb redis.UniversalClient, client Enqueuer, cfg RouterConfig) *Router {
	if cfg.Retention <= 0 {
		cfg.Retention = genwatch.DefaultRetention
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Router{rdb: rdb, client: client, cfg: cfg}
}

// Queues are the delivery queues this worker serves: those of its routes
// that are not inline.
func (r *Router) Queues() []string {
	var qs []string
	for _, rt := range r.cfg.Routes {
		if !rt.Inline {
			qs = append(qs, Queue(r.cfg.DeliveryQueue, rt.Name))
		}
	}
	return qs
}

// Sinks maps the name of each route delivered by task to its sink, for
// DeliverHandler.
func (r *Router) Sinks() map[string]Sink {
	m := map[string]Sink{}
	for _, rt := range r.cfg.Routes {
		if !rt.Inline {
			m[rt.Name] = rt.Sink
		}
	}
	return m
}

// Prepare creates the routes' consumer groups, so that every event added
// from now on reaches them. A worker calls it before it polls.
func (r *Router) Prepare(ctx context.Context) error {
	for _, rt := range r.cfg.Routes {
		for _, stream := range r.cfg.Streams {
			if err := streamgroup.Create(ctx, r.rdb, stream, Group(rt.Name), "$"); err != nil {
				return fmt.Errorf("route %s: %w", rt.Name, err)
			}
		}
	}
	return nil
}

// Run reads the streams for every route until ctx is done.
func (r *Router) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, rt := range r.cfg.Routes {
		for _, stream := range r.cfg.Streams {
			wg.Go(func() {
				err := streamgroup.Run(ctx, r.rdb, streamgroup.Config{
					Stream: stream, Group: Group(rt.Name), Consumer: r.cfg.Consumer,
					ClaimIdle: r.cfg.ClaimIdle,
					Logger:    r.cfg.Logger.With(zap.String("route", rt.Name)),
				}, func(ctx context.Context, msg redis.XMessage) error { return r.route(ctx, rt, msg) })
				if err != nil {
					r.cfg.Logger.Error("route stopped", zap.String("route", rt.Name), zap.Error(err))
				}
			})
		}
	}
	wg.Wait()
}

// route hands one stream entry to a route: inline, or as a delivery task.
func (r *Router) route(ctx context.Context, rt Route, msg redis.XMessage) error {
	raw, _ := msg.Values[genwatch.StreamField].(string)
	event, err := genwatch.DecodeEvent([]byte(raw))
	if err != nil {
		// Nothing a retry could fix: skip it, loudly.
		r.cfg.Logger.Error("skipping a stream entry that holds no event", zap.String("route", rt.Name),
			zap.String("entry", msg.ID), zap.Error(err))
		return nil
	}
	if !rt.Wants(event.Type) {
		return nil
	}
	if rt.Inline {
		err := rt.Sink.Deliver(ctx, event, []byte(raw))
		r.cfg.Observer.Delivered(rt.Name, err)
		return err
	}
	payload, err := json.Marshal(delivery{Sink: rt.Name, Event: json.RawMessage(raw)})
	if err != nil {
		return fmt.Errorf("route %s: %w", rt.Name, err)
	}
	_, err = r.client.EnqueueContext(ctx, asynq.NewTask(TaskTypeDeliver, payload,
		asynq.TaskID(DeliveryTaskID(rt.Name, event.ID)), asynq.Queue(Queue(r.cfg.DeliveryQueue, rt.Name)),
		asynq.MaxRetry(DeliverMaxRetry), asynq.Retention(r.cfg.Retention)))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("route %s: enqueue delivery of %s: %w", rt.Name, event.ID, err)
	}
	return nil
}

// TaskSink enqueues each event as a generation:event task on a queue, with
// the event ID as its task ID: the asynq sink. Route it inline.
func TaskSink(client Enqueuer, queue string, retention time.Duration) Sink {
	return Func(func(ctx context.Context, event genwatch.Event, encoded []byte) error {
		_, err := client.EnqueueContext(ctx, asynq.NewTask(genwatch.TaskTypeEvent, encoded,
			asynq.TaskID(event.ID), asynq.Queue(queue), asynq.Retention(retention)))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue %s: %w", genwatch.TaskTypeEvent, err)
		}
		return nil
	})
}

// delivery is the payload of a genwatch:deliver task.
type delivery struct {
	Sink  string          `json:"sink"`
	Event json.RawMessage `json:"event"`
}

// DeliverHandler runs genwatch:deliver tasks.
type DeliverHandler struct {
	sinks    map[string]Sink
	observer Observer
}

// NewDeliverHandler returns a handler delivering to sinks by route name,
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
		// Only workers that have the route serve its queue.
		return fmt.Errorf("deliver: no route named %q in this worker", d.Sink)
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
