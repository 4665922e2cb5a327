package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

// handled records, per handler name, the event IDs a fleet's Go handlers
// saw.
type handled struct {
	mu   sync.Mutex
	seen map[string]map[string]int
}

func (h *handled) add(handler, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string]map[string]int{}
	}
	if h.seen[handler] == nil {
		h.seen[handler] = map[string]int{}
	}
	h.seen[handler][id]++
}

func (h *handled) ids(handler string) map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for id, n := range h.seen[handler] {
		out[id] = n
	}
	return out
}

func (h *handled) handler(name string) worker.EventHandler {
	return worker.EventHandlerFunc(func(_ context.Context, e genwatch.Event) error {
		h.add(name, e.ID)
		return nil
	})
}

// runWorker runs a worker with cfg until stop is called or the test ends.
func runWorker(t *testing.T, e *e2e, cfg config.Config, opts worker.Options) (w *worker.Worker, stop func()) {
	t.Helper()
	if opts.Redis == nil {
		opts.Redis = e.Redis.Client
	}
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	w, err := worker.New(cfg, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return w, stop
}

// TestMixedFleetHandlersGetEveryEvent runs plain workers beside embedding
// ones on one Redis, stops an embedding worker in the middle of a delivery,
// and checks that every Go handler gets every event, whichever worker ended
// the generation, while the stream holds exactly one event per generation.
func TestMixedFleetHandlersGetEveryEvent(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	var h handled
	const claimIdle = time.Second

	// The first embedding worker: its billing handler hangs on its first
	// event until the worker is stopped, which cancels it mid-delivery.
	hung := make(chan string, 1)
	var hangOnce sync.Once
	first := e.Config
	first.ShutdownTimeout = 200 * time.Millisecond
	_, stopFirst := runWorker(t, e, first, worker.Options{ClaimIdle: claimIdle, Handlers: map[string]worker.EventHandler{
		"billing": worker.EventHandlerFunc(func(ctx context.Context, ev genwatch.Event) error {
			hang := false
			hangOnce.Do(func() { hang = true })
			if hang {
				hung <- ev.ID
				<-ctx.Done()
				return ctx.Err()
			}
			h.add("billing", ev.ID)
			return nil
		}),
		"audit": h.handler("audit"),
	}})
	// Two plain workers, without any handler, poll too.
	runWorker(t, e, e.Config, worker.Options{ClaimIdle: claimIdle})
	runWorker(t, e, e.Config, worker.Options{ClaimIdle: claimIdle})

	const n = 12
	providers := []string{genwatch.ProviderHoox, genwatch.ProviderHooked, genwatch.ProviderToken360}
	for i := range n {
		p := providers[i%len(providers)]
		id := fmt.Sprint("fleet", i)
		plan := simulator.Plan{}
		if i%4 == 3 {
			plan = simulator.Plan{Outcome: simulator.Fail}
		}
		e.Sim.Create(p, id, plan)
		e.track(t, genwatch.Request{Provider: p, GenerationID: id})
	}

	// The first embedding worker is stopped while a delivery hangs.
	select {
	case <-hung:
	case <-time.After(waitFor):
		t.Fatal("no delivery reached the first embedding worker")
	}
	stopFirst()

	// Another embedding worker with the same handlers takes over: the
	// delivery that was cut short and everything after it.
	runWorker(t, e, e.Config, worker.Options{ClaimIdle: claimIdle, Handlers: map[string]worker.EventHandler{
		"billing": h.handler("billing"),
		"audit":   h.handler("audit"),
	}})

	events := e.waitEvents(t, n)
	want := map[string]bool{}
	for _, ev := range events {
		want[ev.ID] = true
	}
	require.Len(t, want, n)
	for _, name := range []string{"billing", "audit"} {
		require.Eventually(t, func() bool {
			got := h.ids(name)
			for id := range want {
				if got[id] == 0 {
					return false
				}
			}
			return true
		}, waitFor, 20*time.Millisecond, "handler %s missed events: got %v of %v", name, h.ids(name), want)
	}
	for id := range h.ids("billing") {
		require.True(t, want[id], "billing got an event not on the stream: %s", id)
	}
	require.Len(t, e.events(t), n, "exactly one event per generation")
	require.Len(t, byGeneration(e.events(t)), n)

	// No worker archived a delivery it could not run.
	inspector := asynq.NewInspectorFromRedisClient(e.Redis.Client)
	for _, q := range []string{e.Config.Events.DeliveryQueue + ":handler:billing", e.Config.Events.DeliveryQueue + ":handler:audit"} {
		archived, err := inspector.ListArchivedTasks(q)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		require.NoError(t, err)
		require.Empty(t, archived, q)
	}
}

// TestHandlerGetsTheEventAfterItsWorkerIsKilled kills an embedding worker
// process in the middle of a Go handler's delivery, and right after its
// consumer group handed it an event: another embedding worker delivers the
// event, and the stream keeps one event.
func TestHandlerGetsTheEventAfterItsWorkerIsKilled(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"handler", "route"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			e := setupE2E(t)
			e.Sim.Create(genwatch.ProviderHooked, "kill-1", simulator.Plan{})
			res := e.track(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "kill-1"})
			e.runCrash(t, point)
			require.Len(t, e.events(t), 1, "the dead worker ended the generation")

			// The dead worker may not have acknowledged its poll either.
			if n, err := e.Redis.Client.ZCard(t.Context(), "asynq:{"+e.Config.Queue+"}:lease").Result(); err == nil && n > 0 {
				expireLeases(t, e.Redis.Client, e.Config.Queue)
			}
			if point == "handler" {
				// asynq recovers a delivery once its lease has been expired
				// for 30 s; stand in for that wait.
				expireLeases(t, e.Redis.Client, e.Config.Events.DeliveryQueue+":handler:billing")
			}
			var h handled
			runWorker(t, e, e.Config, worker.Options{ClaimIdle: 500 * time.Millisecond,
				Handlers: map[string]worker.EventHandler{"billing": h.handler("billing")}})
			want := genwatch.EventID(genwatch.ProviderHooked, "kill-1", genwatch.StatusCompleted)
			require.Eventually(t, func() bool { return h.ids("billing")[want] > 0 }, waitFor, 20*time.Millisecond)
			e.waitTaskState(t, e.Config.Queue, res.TaskID, asynq.TaskStateCompleted)
			require.Len(t, e.events(t), 1, "exactly one event")
		})
	}
}
