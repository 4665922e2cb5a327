package sink_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/sink"
	"github.com/genwatch/genwatch/secret"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

const waitFor = 30 * time.Second

var (
	testSecret  = "whsec_" + base64.StdEncoding.EncodeToString([]byte("a webhook signing secret"))
	otherSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("the next signing secret"))
)

func testEvent(t *testing.T) (genwatch.Event, []byte) {
	t.Helper()
	e := genwatch.Event{
		ID: genwatch.EventID("hoox", "g1", genwatch.StatusCompleted), Type: "generation.completed",
		Status: genwatch.StatusCompleted, Provider: "hoox", GenerationID: "g1", Account: "default",
	}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	return e, b
}

// receiver is a webhook endpoint that answers with the statuses it is
// given, one per request (the last repeats), and records what it got.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	answers  []int
	header   http.Header
	requests []captured
}

type captured struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{answers: answers, header: http.Header{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		status := r.answers[min(len(r.requests), len(r.answers)-1)]
		r.requests = append(r.requests, captured{req.Header.Clone(), body})
		maps.Copy(w.Header(), r.header)
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []captured {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

func newWebhook(t *testing.T, cfg sink.WebhookConfig) *sink.Webhook {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "orders"
	}
	if len(cfg.Secrets) == 0 {
		cfg.Secrets = []secret.Value{secret.Value(testSecret)}
	}
	wh, err := sink.NewWebhook(cfg)
	require.NoError(t, err)
	return wh
}

func verifier(t *testing.T, s string) *standardwebhooks.Webhook {
	t.Helper()
	v, err := standardwebhooks.NewWebhook(s)
	require.NoError(t, err)
	return v
}

func TestWebhookIsSignedPerStandardWebhooks(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusNoContent)
	now := time.Now()
	wh := newWebhook(t, sink.WebhookConfig{URL: r.srv.URL, Now: func() time.Time { return now }})

	event, encoded := testEvent(t)
	require.NoError(t, wh.Deliver(context.Background(), event, encoded))
	d := r.got()[0]
	require.Equal(t, event.ID, d.header.Get("webhook-id"), "the id is stable across retries")
	require.Equal(t, "application/json", d.header.Get("Content-Type"))
	require.JSONEq(t, string(encoded), string(d.body))

	require.NoError(t, verifier(t, testSecret).Verify(d.body, d.header), "a receiver verifies it with the shared secret")
	require.Error(t, verifier(t, otherSecret).Verify(d.body, d.header))
}

func TestWebhookSignsWithEverySecretWhileRotating(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusOK)
	wh := newWebhook(t, sink.WebhookConfig{URL: r.srv.URL, Secrets: []secret.Value{secret.Value(testSecret), secret.Value(otherSecret)}})
	event, encoded := testEvent(t)
	require.NoError(t, wh.Deliver(context.Background(), event, encoded))
	d := r.got()[0]
	require.Len(t, strings.Fields(d.header.Get("webhook-signature")), 2, "one signature per secret, space-separated")
	require.NoError(t, verifier(t, testSecret).Verify(d.body, d.header), "a receiver still on the old secret verifies it")
	require.NoError(t, verifier(t, otherSecret).Verify(d.body, d.header), "a receiver already on the new secret verifies it")
	third := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a secret nobody uses"))
	require.Error(t, verifier(t, third).Verify(d.body, d.header))

	_, err := sink.NewWebhook(sink.WebhookConfig{Name: "x", URL: r.srv.URL, Secrets: []secret.Value{secret.Value(testSecret), "not-a-secret!"}})
	require.ErrorContains(t, err, "secret 2", "a malformed secret is refused at start")
	require.NotContains(t, err.Error(), "not-a-secret")
}

func TestWebhookRetriesOnlyWhatMayWorkLater(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		retry  bool
	}{
		{http.StatusBadRequest, false}, {http.StatusUnauthorized, false}, {http.StatusForbidden, false},
		{http.StatusNotFound, false}, {http.StatusUnprocessableEntity, false}, {http.StatusRequestEntityTooLarge, false},
		{http.StatusRequestTimeout, true}, {http.StatusConflict, true}, {http.StatusTooEarly, true}, {http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true}, {http.StatusBadGateway, true}, {http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, tt.status)
			wh := newWebhook(t, sink.WebhookConfig{URL: r.srv.URL})
			event, encoded := testEvent(t)
			err := wh.Deliver(context.Background(), event, encoded)
			require.ErrorContains(t, err, fmt.Sprintf("answered %d", tt.status))
			require.Equal(t, !tt.retry, errors.Is(err, asynq.SkipRetry), "archived at once unless retryable")
			require.Equal(t, tt.retry, sink.Retryable(tt.status))
		})
	}
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, http.StatusTooManyRequests)
	r.header.Set("Retry-After", "7200")
	wh := newWebhook(t, sink.WebhookConfig{URL: r.srv.URL})
	event, encoded := testEvent(t)
	err := wh.Deliver(context.Background(), event, encoded)
	require.NotErrorIs(t, err, asynq.SkipRetry)
	require.Equal(t, 2*time.Hour, sink.RetryDelay(0, err, 0.5), "the receiver asked for longer than the schedule's 5 s")
	require.Equal(t, 8*time.Hour, sink.RetryDelay(9, err, 0.5), "the schedule wins when it is longer")
}

func TestRetryDelaySpansAboutADay(t *testing.T) {
	t.Parallel()
	require.Equal(t, 5*time.Second, sink.RetryDelay(0, nil, 0.5))
	require.Equal(t, 30*time.Second, sink.RetryDelay(1, nil, 0.5))
	require.Equal(t, 4*time.Second+500*time.Millisecond, sink.RetryDelay(0, nil, 0), "jitter: up to 10% less")
	require.Equal(t, 8*time.Hour, sink.RetryDelay(50, nil, 0.5))
	var total time.Duration
	for n := range sink.DeliverMaxRetry {
		total += sink.RetryDelay(n, nil, 0.5)
	}
	require.InDelta(t, 24*time.Hour, total, float64(time.Hour), "every retry of one delivery, end to end")
	require.Len(t, sink.Schedule(), sink.DeliverMaxRetry, "a retry per step")
}

func TestWebhook410DisablesTheEndpointForTheFleet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.New(t)
	endpoints := sink.NewEndpoints(srv.Client, redistest.Name(t, "disabled"))
	r := newReceiver(t, http.StatusGone, http.StatusOK)
	obs := &countingObserver{}
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	core, logs := observer.New(zap.ErrorLevel)
	cfg := sink.WebhookConfig{URL: r.srv.URL, Endpoints: endpoints, Observer: obs, Logger: zap.New(core), Now: func() time.Time { return now }}
	wh := newWebhook(t, cfg)
	event, encoded := testEvent(t)

	err := wh.Deliver(ctx, event, encoded)
	require.ErrorContains(t, err, "answered 410")
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.Equal(t, []string{"orders"}, obs.disabledEndpoints())
	require.Len(t, logs.FilterMessageSnippet("DISABLED").All(), 1, "said loudly")
	d, err := endpoints.Disabled(ctx, "orders")
	require.NoError(t, err)
	require.Equal(t, &sink.Disabled{At: now, Reason: "410 Gone"}, d)

	// Another worker's sink for the same endpoint agrees: nothing is sent.
	other := newWebhook(t, cfg)
	err = other.Deliver(ctx, event, encoded)
	require.ErrorIs(t, err, sink.ErrEndpointDisabled)
	require.ErrorIs(t, err, asynq.SkipRetry, "archived, for replay once enabled")
	require.Len(t, r.got(), 1)
	all, err := endpoints.List(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]sink.Disabled{"orders": {At: now, Reason: "410 Gone"}}, all)

	// An operator enables it again.
	enabled, err := endpoints.Enable(ctx, "orders")
	require.NoError(t, err)
	require.True(t, enabled)
	require.NoError(t, other.Deliver(ctx, event, encoded))
	require.Len(t, r.got(), 2)
	require.Equal(t, []string{"orders"}, obs.disabledEndpoints(), "counted once")
}

type countingObserver struct {
	mu       sync.Mutex
	disabled []string
}

func (o *countingObserver) Delivered(string, error) {}
func (o *countingObserver) EndpointDisabled(e string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.disabled = append(o.disabled, e)
}

func (o *countingObserver) disabledEndpoints() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.disabled)
}

func TestRouteFiltersByEventType(t *testing.T) {
	t.Parallel()
	rt := sink.Route{Name: "webhook:orders", EventTypes: []string{"generation.completed", "generation.failed"}}
	require.True(t, rt.Wants("generation.completed"))
	require.True(t, rt.Wants("generation.failed"))
	require.False(t, rt.Wants("generation.timed_out"))
	require.True(t, sink.Route{Name: "webhook:all"}.Wants("generation.canceled"), "no filter: every type")
}

// routerBundle is a stream, a router on it and the asynq side.
type routerBundle struct {
	srv       *redistest.Server
	stream    string
	queue     string
	inspector *asynq.Inspector
	client    *asynq.Client
}

func setupRouter(t *testing.T) *routerBundle {
	t.Helper()
	srv := redistest.New(t)
	client := asynq.NewClientFromRedisClient(srv.Client)
	t.Cleanup(func() { _ = client.Close() })
	return &routerBundle{
		srv: srv, stream: redistest.Name(t, "events"), queue: redistest.Name(t, "deliveries"),
		inspector: asynq.NewInspectorFromRedisClient(srv.Client), client: client,
	}
}

func (b *routerBundle) run(t *testing.T, routes []sink.Route) *sink.Router {
	t.Helper()
	r := sink.NewRouter(b.srv.Client, b.client, sink.RouterConfig{
		Streams: []string{b.stream}, Consumer: "c1", DeliveryQueue: b.queue, Routes: routes,
	})
	require.NoError(t, r.Prepare(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

func (b *routerBundle) add(t *testing.T, e genwatch.Event) {
	t.Helper()
	enc, err := json.Marshal(e)
	require.NoError(t, err)
	require.NoError(t, b.srv.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: b.stream, Values: []string{genwatch.StreamField, string(enc)}}).Err())
}

func (b *routerBundle) pending(t *testing.T, route string) []*asynq.TaskInfo {
	t.Helper()
	infos, err := b.inspector.ListPendingTasks(sink.Queue(b.queue, route))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	require.NoError(t, err)
	return infos
}

func TestRouterEnqueuesEachDeliveryOncePerRoute(t *testing.T) {
	t.Parallel()
	b := setupRouter(t)
	downstream := redistest.Name(t, "downstream")
	nop := sink.Func(func(context.Context, genwatch.Event, []byte) error { return nil })
	r := b.run(t, []sink.Route{
		{Name: "asynq", Inline: true, Sink: sink.TaskSink(b.client, downstream, time.Hour)},
		{Name: "webhook:orders", EventTypes: []string{"generation.completed"}, Sink: nop},
		{Name: "handler:billing", Sink: nop},
	})
	require.ElementsMatch(t, []string{b.queue + ":webhook:orders", b.queue + ":handler:billing"}, r.Queues())

	completed, _ := testEvent(t)
	failed := genwatch.Event{ID: genwatch.EventID("hoox", "g2", genwatch.StatusFailed), Type: "generation.failed",
		Status: genwatch.StatusFailed, Provider: "hoox", GenerationID: "g2", Account: "default"}
	b.add(t, completed)
	b.add(t, failed)
	last, err := b.srv.Client.XAdd(context.Background(), &redis.XAddArgs{Stream: b.stream, Values: []string{"event", "not json"}}).Result()
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(b.pending(t, "handler:billing")) == 2 }, waitFor, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		groups, err := b.srv.Client.XInfoGroups(context.Background(), b.stream).Result()
		if err != nil {
			return false
		}
		for _, g := range groups {
			if g.Pending != 0 || g.LastDeliveredID != last {
				return false
			}
		}
		return len(groups) == 3
	}, waitFor, 10*time.Millisecond, "every route read and acknowledged every entry, the bad one included")

	orders := b.pending(t, "webhook:orders")
	require.Len(t, orders, 1, "the filter keeps the failed event from this endpoint")
	require.Equal(t, sink.DeliveryTaskID("webhook:orders", completed.ID), orders[0].ID)
	require.Equal(t, sink.DeliverMaxRetry, orders[0].MaxRetry)
	for _, id := range []string{completed.ID, failed.ID} {
		info, err := b.inspector.GetTaskInfo(downstream, id)
		require.NoError(t, err)
		require.Equal(t, genwatch.TaskTypeEvent, info.Type)
	}

	// The deliver handler hands each task's event to its sink.
	var delivered []string
	h := sink.NewDeliverHandler(map[string]sink.Sink{
		"webhook:orders": sink.Func(func(_ context.Context, e genwatch.Event, _ []byte) error {
			delivered = append(delivered, "webhook:orders "+e.ID)
			return nil
		}),
		"handler:billing": sink.Func(func(context.Context, genwatch.Event, []byte) error { return errors.New("down") }),
	}, nil)
	require.NoError(t, h.ProcessTask(context.Background(), asynq.NewTask(orders[0].Type, orders[0].Payload)))
	require.Equal(t, []string{"webhook:orders " + completed.ID}, delivered)
	billing := b.pending(t, "handler:billing")[0]
	err = h.ProcessTask(context.Background(), asynq.NewTask(billing.Type, billing.Payload))
	require.ErrorContains(t, err, "down")
	require.NotErrorIs(t, err, asynq.SkipRetry, "a failing sink is retried")
	err = h.ProcessTask(context.Background(), asynq.NewTask(sink.TaskTypeDeliver, []byte(`not json`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
}

func TestDeliveriesListAndReplay(t *testing.T) {
	t.Parallel()
	b := setupRouter(t)
	ctx := context.Background()
	var events []genwatch.Event
	for i := range 3 {
		e := genwatch.Event{ID: genwatch.EventID("hoox", fmt.Sprint("g", i), genwatch.StatusCompleted), Type: "generation.completed",
			Status: genwatch.StatusCompleted, Provider: "hoox", GenerationID: fmt.Sprint("g", i), Account: "default"}
		events = append(events, e)
	}
	// Three deliveries to each of two routes, archived as asynq does after
	// the last retry.
	for _, route := range []string{"webhook:orders", "handler:billing"} {
		for _, e := range events {
			enc, err := json.Marshal(map[string]any{"sink": route, "event": e})
			require.NoError(t, err)
			id := sink.DeliveryTaskID(route, e.ID)
			_, err = b.client.EnqueueContext(ctx, asynq.NewTask(sink.TaskTypeDeliver, enc), asynq.TaskID(id), asynq.Queue(sink.Queue(b.queue, route)))
			require.NoError(t, err)
			require.NoError(t, b.inspector.ArchiveTask(sink.Queue(b.queue, route), id))
		}
	}
	d := sink.NewDeliveries(b.inspector, b.queue)
	routes, err := d.Routes()
	require.NoError(t, err)
	require.Equal(t, []string{"handler:billing", "webhook:orders"}, routes)

	all, err := d.List("")
	require.NoError(t, err)
	require.Len(t, all, 6)
	orders, err := d.List("webhook:orders")
	require.NoError(t, err)
	require.Len(t, orders, 3)
	require.ElementsMatch(t, []string{events[0].ID, events[1].ID, events[2].ID},
		[]string{orders[0].EventID, orders[1].EventID, orders[2].EventID})
	got, err := genwatch.DecodeEvent(orders[0].Event)
	require.NoError(t, err)
	require.Equal(t, orders[0].EventID, got.ID)

	_, err = d.List("webhook:nope")
	require.ErrorIs(t, err, sink.ErrUnknownRoute)

	// One delivery, by event ID.
	n, err := d.Replay("webhook:orders", []string{events[1].ID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, b.pending(t, "webhook:orders"), 1)
	require.Equal(t, sink.DeliveryTaskID("webhook:orders", events[1].ID), b.pending(t, "webhook:orders")[0].ID)
	_, err = d.Replay("webhook:orders", []string{"nope"})
	require.Error(t, err)

	// All of one route, then all of every route.
	n, err = d.Replay("webhook:orders", nil)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Len(t, b.pending(t, "webhook:orders"), 3)
	require.Len(t, b.pending(t, "handler:billing"), 0)
	n, err = d.Replay("", nil)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Len(t, b.pending(t, "handler:billing"), 3)
	left, err := d.List("")
	require.NoError(t, err)
	require.Empty(t, left)
}
