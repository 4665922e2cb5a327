package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(runCrashChild())
	}
	os.Exit(redistest.Main(m))
}

// waitFor bounds how long a test waits for an event. Waiting ends as soon as
// the event arrives; the bound only turns a hang into a failure.
const waitFor = 60 * time.Second

var testKeys = clitest.Keys()

// e2e is a test's Redis, simulator and worker configuration, with the
// helpers the worker's tests share.
type e2e struct{ *clitest.Env }

func setupE2E(t *testing.T) *e2e { return &e2e{clitest.New(t)} }

func testConfig(redisURL, simURL, name string) config.Config {
	return clitest.NewConfig(redisURL, simURL, name)
}

// start runs a worker until the test ends.
func (e *e2e) start(t *testing.T, opts worker.Options) *worker.Worker {
	t.Helper()
	w, _ := runWorker(t, e, e.Config, opts)
	return w
}

func (e *e2e) track(t *testing.T, req genwatch.Request) genwatch.TrackResult {
	t.Helper()
	res, err := e.Client.Track(context.Background(), req)
	require.NoError(t, err)
	return res
}

// events reads the whole stream.
func (e *e2e) events(t *testing.T) []genwatch.Event {
	t.Helper()
	return clitest.ReadEvents(t, e.Redis.Client, e.Config.Events.Stream)
}

// waitEvents blocks on the stream until it holds n events.
func (e *e2e) waitEvents(t *testing.T, n int) []genwatch.Event {
	t.Helper()
	return e.waitEventsWithin(t, n, waitFor)
}

func (e *e2e) waitEventsWithin(t *testing.T, n int, limit time.Duration) []genwatch.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	last := "0"
	var got []genwatch.Event
	for len(got) < n {
		res, err := e.Redis.Client.XRead(ctx, &redis.XReadArgs{Streams: []string{e.Config.Events.Stream, last}, Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil && ctx.Err() == nil {
			continue // Redis may be restarting: ask again
		}
		require.NoError(t, err, "waiting for %d events, have %d: %v", n, len(got), got)
		for _, m := range res[0].Messages {
			last = m.ID
			ev, err := genwatch.DecodeEvent([]byte(m.Values[genwatch.StreamField].(string)))
			require.NoError(t, err)
			got = append(got, ev)
		}
	}
	return got
}

// waitTaskState waits until the task reaches state: the stream entry is
// written just before the task is acknowledged.
func (e *e2e) waitTaskState(t *testing.T, queue, id string, state asynq.TaskState) *asynq.TaskInfo {
	t.Helper()
	inspector := asynq.NewInspectorFromRedisClient(e.Redis.Client)
	var info *asynq.TaskInfo
	require.Eventually(t, func() bool {
		var err error
		info, err = inspector.GetTaskInfo(queue, id)
		return err == nil && info.State == state
	}, waitFor, 20*time.Millisecond, "task %s never became %s", id, state)
	return info
}

func byGeneration(events []genwatch.Event) map[string]genwatch.Event {
	m := map[string]genwatch.Event{}
	for _, e := range events {
		m[e.GenerationID] = e
	}
	return m
}

func TestTrackEveryProviderEndToEnd(t *testing.T) {
	t.Parallel()
	for _, provider := range genwatch.Providers() {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			e := setupE2E(t)
			cost := 3.0
			// Long enough that even a slow first poll sees it pending or
			// running before it completes.
			e.Sim.Create(provider, "ok-1", simulator.Plan{
				PendingFor: 2 * time.Second, RunFor: 3 * time.Second,
				URL: "https://cdn.example.com/ok-1.mp4", ThumbnailURL: "https://cdn.example.com/ok-1.jpg",
				Width: 720, Height: 1280, DurationSeconds: 8, SizeBytes: 4096, Cost: cost,
			})
			e.Sim.Create(provider, "bad-1", simulator.Plan{RunFor: time.Second, Outcome: simulator.Fail, FailCode: "nsfw", FailMessage: "The prompt was rejected."})
			e.Sim.Create(provider, "forever-1", simulator.Plan{Outcome: simulator.Never, RunFor: time.Hour})
			e.start(t, worker.Options{})

			meta := json.RawMessage(`{"order":42}`)
			first := e.track(t, genwatch.Request{Provider: provider, GenerationID: "ok-1", Metadata: meta})
			require.False(t, first.AlreadyTracked)
			require.Equal(t, provider+":ok-1", first.TaskID)
			e.track(t, genwatch.Request{Provider: provider, GenerationID: "bad-1"})
			e.track(t, genwatch.Request{Provider: provider, GenerationID: "unknown-1"})
			e.track(t, genwatch.Request{Provider: provider, GenerationID: "forever-1", MaxWaitSeconds: 3})
			dup := e.track(t, genwatch.Request{Provider: provider, GenerationID: "ok-1"})
			require.True(t, dup.AlreadyTracked, "a running generation is not tracked twice")

			got := byGeneration(e.waitEvents(t, 4))

			ok := got["ok-1"]
			require.Equal(t, genwatch.StatusCompleted, ok.Status)
			require.Equal(t, "generation.completed", ok.Type)
			require.Equal(t, genwatch.EventID(provider, "ok-1", genwatch.StatusCompleted), ok.ID)
			require.Equal(t, "default", ok.Account)
			require.Equal(t, "https://cdn.example.com/ok-1.mp4", ok.URL)
			require.Equal(t, "video", ok.MediaType)
			require.Equal(t, 8.0, ok.DurationSeconds)
			require.JSONEq(t, string(meta), string(ok.Metadata))
			require.Nil(t, ok.Error)
			require.GreaterOrEqual(t, ok.Polls, 2, "pending and running were seen before completion")
			require.NotEmpty(t, ok.ProviderStatus)
			require.True(t, json.Valid(ok.Raw))
			require.False(t, ok.DetectedAt.Before(ok.EnqueuedAt))
			require.Equal(t, time.UTC, ok.EnqueuedAt.Location())
			switch provider {
			case genwatch.ProviderHoox:
				require.Equal(t, "https://cdn.example.com/ok-1.jpg", ok.ThumbnailURL)
				require.Equal(t, 720, ok.Width)
				require.Equal(t, 1280, ok.Height)
				require.Equal(t, &cost, ok.Cost)
			case genwatch.ProviderHooked:
				require.Equal(t, "https://cdn.example.com/ok-1.jpg", ok.ThumbnailURL)
				require.Equal(t, int64(4096), ok.SizeBytes)
				require.Equal(t, &cost, ok.Cost)
				require.Equal(t, 100, *ok.Progress)
			case genwatch.ProviderToken360:
				require.Equal(t, 100, *ok.Progress)
			}

			bad := got["bad-1"]
			require.Equal(t, genwatch.StatusFailed, bad.Status)
			require.Equal(t, genwatch.CodeGenerationFailed, bad.Error.Code)
			require.Equal(t, "The prompt was rejected.", bad.Error.Message)

			unknown := got["unknown-1"]
			require.Equal(t, genwatch.StatusFailed, unknown.Status)
			require.Equal(t, genwatch.CodeNotFound, unknown.Error.Code)

			forever := got["forever-1"]
			require.Equal(t, genwatch.StatusTimedOut, forever.Status)
			require.Equal(t, genwatch.CodeTimedOut, forever.Error.Code)

			// An ended generation is kept: enqueuing it again is "already
			// tracked", and its task shows the event as its result.
			again := e.track(t, genwatch.Request{Provider: provider, GenerationID: "ok-1"})
			require.True(t, again.AlreadyTracked)
			info := e.waitTaskState(t, e.Config.Queue, first.TaskID, asynq.TaskStateCompleted)
			result, err := genwatch.DecodeEvent(info.Result)
			require.NoError(t, err)
			require.Equal(t, ok.ID, result.ID)

			require.Len(t, e.events(t), 4, "exactly one event per generation")
		})
	}
}

func TestWrongKeyEndsUnauthorized(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	p := e.Config.Providers[genwatch.ProviderHooked]
	p.Accounts["default"] = config.Account{APIKey: "wrong-key"}
	p.Poll = schedule.Policy{UnauthorizedBackoff: time.Second}
	e.Config.Providers[genwatch.ProviderHooked] = p
	e.Sim.Create(genwatch.ProviderHooked, "v1", simulator.Plan{})
	e.start(t, worker.Options{})

	e.track(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "v1", MaxWaitSeconds: 2})
	ev := e.waitEvents(t, 1)[0]
	require.Equal(t, genwatch.StatusTimedOut, ev.Status)
	require.Equal(t, genwatch.CodeUnauthorized, ev.Error.Code)
	require.NotContains(t, ev.Error.Message, "wrong-key")
}

func TestGoHandlerAndAsynqSinkGetEachEventOnce(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	e.Config.Events.TaskQueue = redistest.Name(t, "downstream")
	e.Sim.Create(genwatch.ProviderToken360, "t1", simulator.Plan{})

	got := make(chan genwatch.Event, 10)
	var calls atomic.Int32
	e.start(t, worker.Options{Handlers: map[string]worker.EventHandler{
		"billing": worker.EventHandlerFunc(func(_ context.Context, ev genwatch.Event) error {
			if calls.Add(1) == 1 {
				return errors.New("billing is down") // retried on its own
			}
			got <- ev
			return nil
		}),
	}})
	e.track(t, genwatch.Request{Provider: genwatch.ProviderToken360, GenerationID: "t1"})
	streamed := e.waitEvents(t, 1)[0]

	// The asynq sink: one generation:event task whose ID is the event ID.
	info := e.waitTaskState(t, e.Config.Events.TaskQueue, streamed.ID, asynq.TaskStatePending)
	require.Equal(t, genwatch.TaskTypeEvent, info.Type)
	fromTask, err := genwatch.DecodeEvent(info.Payload)
	require.NoError(t, err)
	require.Equal(t, streamed, fromTask)

	// The Go handler failed once; its retry did not poll the provider again
	// nor add a stream entry.
	requests := e.Sim.Requests(genwatch.ProviderToken360, "t1")
	select {
	case ev := <-got:
		require.Equal(t, streamed.ID, ev.ID)
	case <-time.After(waitFor):
		t.Fatal("the handler never succeeded")
	}
	require.Equal(t, requests, e.Sim.Requests(genwatch.ProviderToken360, "t1"))
	require.Len(t, e.events(t), 1)
}
