package control_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/control"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/store"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

var now = time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC)

type bundle struct {
	rdb     redis.UniversalClient
	shards  genwatch.Shards
	client  *genwatch.Client
	control *control.Control
}

// setup gives a test a fleet of n shards with nothing running: tracking
// tasks wait in their queues, as they do between two polls.
func setup(t *testing.T, n int) *bundle {
	t.Helper()
	srv := redistest.New(t)
	shards := genwatch.Shards{Queue: redistest.Name(t, "queue"), Stream: redistest.Name(t, "events"), N: n}
	aq := asynq.NewClientFromRedisClient(srv.Client)
	t.Cleanup(func() { _ = aq.Close() })
	return &bundle{
		rdb:     srv.Client,
		shards:  shards,
		client:  genwatch.NewClient(aq, genwatch.ClientConfig{Queue: shards.Queue, Shards: n, Now: func() time.Time { return now.Add(-time.Minute) }}),
		control: control.New(srv.Client, control.Config{Shards: shards, Now: func() time.Time { return now }}),
	}
}

func (b *bundle) track(t *testing.T, provider, generationID string) string {
	t.Helper()
	res, err := b.client.Track(context.Background(), genwatch.Request{Provider: provider, GenerationID: generationID})
	require.NoError(t, err)
	return res.TaskID
}

func TestStatusOfAWaitingGeneration(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	taskID := b.track(t, "hooked", "vid_abc123")

	g, err := b.control.Status(context.Background(), taskID)
	require.NoError(t, err)
	require.Equal(t, taskID, g.TaskID)
	require.Equal(t, "pending", g.State)
	require.Equal(t, "hooked", g.Provider)
	require.Equal(t, "vid_abc123", g.GenerationID)
	require.Equal(t, genwatch.DefaultAccount, g.Account)
	require.Zero(t, g.Polls)
	require.NotNil(t, g.EnqueuedAt)
	require.True(t, now.Add(-time.Minute).Equal(*g.EnqueuedAt))
	require.False(t, g.Ended())
}

func TestAGenerationThatIsNotTracked(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	_, err := b.control.Status(context.Background(), "hoox:never")
	require.ErrorIs(t, err, genwatch.ErrNotTracked)
	_, _, err = b.control.Cancel(context.Background(), "hoox:never")
	require.ErrorIs(t, err, genwatch.ErrNotTracked)
}

func TestCancelEndsTheGenerationOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 2)
	taskID := b.track(t, "hoox", "662f8c1d")

	ev, mine, err := b.control.Cancel(ctx, taskID)
	require.NoError(t, err)
	require.True(t, mine)
	require.Equal(t, genwatch.StatusCanceled, ev.Status)
	require.Equal(t, "generation.canceled", ev.Type)
	require.Equal(t, genwatch.EventID("hoox", "662f8c1d", genwatch.StatusCanceled), ev.ID)
	require.Equal(t, genwatch.CodeCanceled, ev.Error.Code)
	require.True(t, now.Equal(ev.DetectedAt))

	g, err := b.control.Status(ctx, taskID)
	require.NoError(t, err)
	require.True(t, g.Ended())
	require.Equal(t, ev.ID, g.Event.ID)

	again, mine, err := b.control.Cancel(ctx, taskID)
	require.NoError(t, err)
	require.False(t, mine, "the first cancellation stands")
	require.Equal(t, ev.ID, again.ID)

	// The event went to the generation's stream, once, and waiting for it
	// finds it.
	entries, err := b.rdb.XRange(ctx, b.shards.StreamOf(taskID), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	waited, err := genwatch.WaitEvent(ctx, b.rdb, b.shards, "hoox", "662f8c1d")
	require.NoError(t, err)
	require.Equal(t, ev.ID, waited.ID)
}

func TestCancelOfAnEndedGenerationKeepsItsEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 1)
	taskID := b.track(t, "token360", "video_1")
	// A worker ended it a moment ago.
	done := genwatch.Event{
		ID: genwatch.EventID("token360", "video_1", genwatch.StatusCompleted), Type: "generation.completed",
		Status: genwatch.StatusCompleted, Provider: "token360", GenerationID: "video_1", Account: genwatch.DefaultAccount,
		URL: "https://cdn.example/video_1.mp4",
	}
	raw, err := json.Marshal(done)
	require.NoError(t, err)
	st := store.New(b.rdb, store.Config{Shards: b.shards})
	_, _, err = st.Emit(ctx, taskID, raw, time.Hour, time.Minute, store.Learning{})
	require.NoError(t, err)

	ev, mine, err := b.control.Cancel(ctx, taskID)
	require.NoError(t, err)
	require.False(t, mine)
	require.Equal(t, genwatch.StatusCompleted, ev.Status)
	require.Equal(t, done.URL, ev.URL)
}

// TestFleetConfigEstimatesByItsPolicy builds a Control from the
// workers' configuration: it finds the fleet's shards, and its estimates
// follow the configured polling policy (here: generations take ten
// minutes), where one built with New uses the default (a minute).
func TestFleetConfigEstimatesByItsPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	taskID := b.track(t, "hooked", "vid_slow")

	cfg := config.Default()
	cfg.Queue, cfg.Events.Stream, cfg.Shards = b.shards.Queue, b.shards.Stream, b.shards.N
	cfg.Poll.Expected = 10 * time.Minute
	c := control.New(b.rdb, control.Config{Fleet: &cfg, Now: func() time.Time { return now }})
	g, err := c.Status(context.Background(), taskID)
	require.NoError(t, err)
	require.NotNil(t, g.ETA)
	byDefault, err := b.control.Status(context.Background(), taskID)
	require.NoError(t, err)
	require.NotNil(t, byDefault.ETA)

	enqueued := now.Add(-time.Minute)
	require.InDelta(t, 10*time.Minute.Seconds(), g.ETA.Sub(enqueued).Seconds(), 60, "the configured ten minutes")
	// The default's median minute, given that a minute has passed.
	require.Less(t, byDefault.ETA.Sub(enqueued), 3*time.Minute, "the default minute")
}
