package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// Inspector is the part of *asynq.Inspector that Deliveries uses.
type Inspector interface {
	Queues() ([]string, error)
	ListArchivedTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	RunTask(queue, id string) error
	RunAllArchivedTasks(queue string) (int, error)
}

// Deliveries lists the failed deliveries of the fleet, those asynq archived
// after the last retry or at once (a 4xx, a disabled endpoint), and replays
// them: for operators.
type Deliveries struct {
	insp          Inspector
	deliveryQueue string
}

// NewDeliveries returns the failed deliveries of the routes whose queues
// start with deliveryQueue.
func NewDeliveries(insp Inspector, deliveryQueue string) *Deliveries {
	return &Deliveries{insp: insp, deliveryQueue: deliveryQueue}
}

// Failed is one failed delivery.
type Failed struct {
	Route    string          `json:"sink"`
	EventID  string          `json:"event_id"`
	Attempts int             `json:"attempts"`
	FailedAt time.Time       `json:"failed_at"`
	LastErr  string          `json:"last_error"`
	Event    json.RawMessage `json:"event"`
}

// Routes lists the routes that have a delivery queue in Redis, sorted.
func (d *Deliveries) Routes() ([]string, error) {
	qs, err := d.insp.Queues()
	if err != nil {
		return nil, fmt.Errorf("deliveries: list queues: %w", err)
	}
	prefix := d.deliveryQueue + ":"
	var routes []string
	for _, q := range qs {
		if r, ok := strings.CutPrefix(q, prefix); ok {
			routes = append(routes, r)
		}
	}
	slices.Sort(routes)
	return routes, nil
}

// ErrUnknownRoute is returned for a route that has no delivery queue.
var ErrUnknownRoute = errors.New("no deliveries for this sink")

// List returns the failed deliveries of route, or of every route when
// route is empty, oldest failure first within each route.
func (d *Deliveries) List(route string) ([]Failed, error) {
	routes, err := d.pick(route)
	if err != nil {
		return nil, err
	}
	var out []Failed
	for _, r := range routes {
		q := Queue(d.deliveryQueue, r)
		for page := 1; ; page++ {
			infos, err := d.insp.ListArchivedTasks(q, asynq.Page(page), asynq.PageSize(500))
			if err != nil {
				return nil, fmt.Errorf("deliveries: list %s: %w", r, err)
			}
			for _, info := range infos {
				var p delivery
				_ = json.Unmarshal(info.Payload, &p)
				out = append(out, Failed{
					Route: r, EventID: strings.TrimPrefix(info.ID, r+":"),
					Attempts: info.Retried + 1, FailedAt: info.LastFailedAt.UTC(), LastErr: info.LastErr,
					Event: p.Event,
				})
			}
			if len(infos) < 500 {
				break
			}
		}
	}
	return out, nil
}

// Replay runs failed deliveries of route again now: those of the given
// event IDs, or all when eventIDs is empty. It returns how many it queued.
func (d *Deliveries) Replay(route string, eventIDs []string) (int, error) {
	routes, err := d.pick(route)
	if err != nil {
		return 0, err
	}
	if len(eventIDs) == 0 {
		n := 0
		for _, r := range routes {
			m, err := d.insp.RunAllArchivedTasks(Queue(d.deliveryQueue, r))
			if err != nil {
				return n, fmt.Errorf("deliveries: replay %s: %w", r, err)
			}
			n += m
		}
		return n, nil
	}
	if route == "" {
		return 0, fmt.Errorf("deliveries: replaying by event id needs a sink")
	}
	var errs []error
	n := 0
	for _, id := range eventIDs {
		if err := d.insp.RunTask(Queue(d.deliveryQueue, route), DeliveryTaskID(route, id)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("deliveries: replay: %w", err)
	}
	return n, nil
}

// pick returns route alone (checked) or every route.
func (d *Deliveries) pick(route string) ([]string, error) {
	routes, err := d.Routes()
	if err != nil {
		return nil, err
	}
	if route == "" {
		return routes, nil
	}
	if !slices.Contains(routes, route) {
		return nil, fmt.Errorf("%w: %q (sinks with deliveries: %v)", ErrUnknownRoute, route, routes)
	}
	return []string{route}, nil
}
