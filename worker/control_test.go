package worker_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/fleet"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

func TestStatusOfARunningGeneration(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	e.Sim.Create(genwatch.ProviderHooked, "r1", simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	e.start(t, worker.Options{})
	control := fleet.NewControl(e.Redis.Client, e.Config)

	res := e.track(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "r1", Account: "default"})
	e.waitTaskState(t, e.Config.Queue, res.TaskID, asynq.TaskStateRetry)
	g, err := control.Status(context.Background(), res.TaskID)
	require.NoError(t, err)
	require.Equal(t, "hooked", g.Provider)
	require.Equal(t, "r1", g.GenerationID)
	require.Equal(t, "default", g.Account)
	require.GreaterOrEqual(t, g.Polls, 1)
	require.Equal(t, "STARTED", g.ProviderStatus)
	require.NotNil(t, g.Progress)
	require.Contains(t, g.LastError, "running, ")
	require.Contains(t, g.LastError, "next poll in")
	require.False(t, g.Ended())

	_, err = control.Status(context.Background(), "hooked:never-enqueued")
	require.ErrorIs(t, err, genwatch.ErrNotTracked)
}

func TestCancelAWaitingGeneration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setupE2E(t)
	e.Sim.Create(genwatch.ProviderHoox, "c1", simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	got := make(chan genwatch.Event, 4)
	e.start(t, worker.Options{Handlers: map[string]worker.EventHandler{
		"audit": worker.EventHandlerFunc(func(_ context.Context, ev genwatch.Event) error { got <- ev; return nil }),
	}})
	control := fleet.NewControl(e.Redis.Client, e.Config)

	res := e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "c1"})
	e.waitTaskState(t, e.Config.Queue, res.TaskID, asynq.TaskStateRetry)

	ev, mine, err := control.Cancel(ctx, res.TaskID)
	require.NoError(t, err)
	require.True(t, mine)
	require.Equal(t, genwatch.StatusCanceled, ev.Status)
	require.Equal(t, "generation.canceled", ev.Type)
	require.Equal(t, &genwatch.EventError{Code: genwatch.CodeCanceled, Message: "tracking was canceled"}, ev.Error)
	require.Equal(t, genwatch.EventID("hoox", "c1", genwatch.StatusCanceled), ev.ID)

	// The waiting task runs at once and finishes with the canceled event.
	info := e.waitTaskState(t, e.Config.Queue, res.TaskID, asynq.TaskStateCompleted)
	result, err := genwatch.DecodeEvent(info.Result)
	require.NoError(t, err)
	require.Equal(t, ev.ID, result.ID)
	require.Equal(t, ev.ID, (<-got).ID, "the sinks get the canceled event")

	again, mine, err := control.Cancel(ctx, res.TaskID)
	require.NoError(t, err)
	require.False(t, mine, "a second cancel changes nothing")
	require.Equal(t, ev.ID, again.ID)
	events := e.events(t)
	require.Len(t, events, 1)
	require.Equal(t, genwatch.StatusCanceled, events[0].Status)
}

// blockingTransport holds every request until release is closed, and says
// when the first one arrives.
type blockingTransport struct {
	arrived   chan struct{}
	release   chan struct{}
	once      sync.Once
	transport http.RoundTripper
}

func (b *blockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b.once.Do(func() { close(b.arrived) })
	select {
	case <-b.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return b.transport.RoundTrip(r)
}

func TestCancelWhileBeingPolled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setupE2E(t)
	e.Sim.Create(genwatch.ProviderToken360, "p1", simulator.Plan{}) // completes at once
	bt := &blockingTransport{arrived: make(chan struct{}), release: make(chan struct{}), transport: http.DefaultTransport}
	e.start(t, worker.Options{HTTPClient: &http.Client{Transport: bt}})
	control := fleet.NewControl(e.Redis.Client, e.Config)

	res := e.track(t, genwatch.Request{Provider: genwatch.ProviderToken360, GenerationID: "p1"})
	<-bt.arrived // the poll is in flight
	ev, mine, err := control.Cancel(ctx, res.TaskID)
	require.NoError(t, err)
	require.True(t, mine)
	close(bt.release) // the provider now answers "completed"

	info := e.waitTaskState(t, e.Config.Queue, res.TaskID, asynq.TaskStateCompleted)
	result, err := genwatch.DecodeEvent(info.Result)
	require.NoError(t, err)
	require.Equal(t, genwatch.StatusCanceled, result.Status, "the cancellation came first and stands")
	require.Equal(t, ev.ID, result.ID)
	require.Len(t, e.events(t), 1)
}

func TestCancelAnEndedGeneration(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	e.Sim.Create(genwatch.ProviderHoox, "d1", simulator.Plan{})
	e.start(t, worker.Options{})
	control := fleet.NewControl(e.Redis.Client, e.Config)

	e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "d1"})
	done := e.waitEvents(t, 1)[0]
	ev, mine, err := control.Cancel(context.Background(), "hoox:d1")
	require.NoError(t, err)
	require.False(t, mine)
	require.Equal(t, done, ev)
	require.Len(t, e.events(t), 1)

	_, _, err = control.Cancel(context.Background(), "hoox:nope")
	require.ErrorIs(t, err, genwatch.ErrNotTracked)
}
