package genwatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/store"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// waitFor bounds how long a test waits for a condition.
const waitFor = 30 * time.Second

// eventBundle is a Redis with a fleet's sharding, and the store its
// workers emit events through.
type eventBundle struct {
	rdb    redis.UniversalClient
	shards genwatch.Shards
	store  *store.Store
}

func setupEvents(t *testing.T, n int) *eventBundle {
	t.Helper()
	srv := redistest.New(t)
	shards := genwatch.Shards{Queue: redistest.Name(t, "queue"), Stream: redistest.Name(t, "events"), N: n}
	return &eventBundle{rdb: srv.Client, shards: shards, store: store.New(srv.Client, store.Config{Shards: shards})}
}

func newEvent(provider, generationID string, status genwatch.Status) genwatch.Event {
	return genwatch.Event{
		ID: genwatch.EventID(provider, generationID, status), Type: status.EventType(), Status: status,
		Provider: provider, GenerationID: generationID, Account: genwatch.DefaultAccount,
		EnqueuedAt: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC),
		DetectedAt: time.Date(2026, 11, 29, 10, 1, 0, 0, time.UTC),
	}
}

// emit ends a generation as a worker does: the event under its done key
// and in its shard's stream, in one script.
func (b *eventBundle) emit(t *testing.T, ev genwatch.Event) {
	t.Helper()
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	_, appended, err := b.store.Emit(context.Background(), genwatch.TaskID(ev.Provider, ev.GenerationID), raw, time.Hour, time.Minute, store.Learning{})
	require.NoError(t, err)
	require.True(t, appended)
}

// add appends an entry to a stream with nothing else: what a reader of
// the stream alone sees.
func (b *eventBundle) add(t *testing.T, stream string, value string) {
	t.Helper()
	require.NoError(t, b.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []string{genwatch.StreamField, value}}).Err())
}

func (b *eventBundle) addEvent(t *testing.T, ev genwatch.Event) {
	t.Helper()
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	b.add(t, b.shards.StreamOf(genwatch.TaskID(ev.Provider, ev.GenerationID)), string(raw))
}

type waitResult struct {
	ev  genwatch.Event
	err error
}

func (b *eventBundle) wait(ctx context.Context, provider, generationID string) <-chan waitResult {
	out := make(chan waitResult, 1)
	go func() {
		ev, err := genwatch.WaitEvent(ctx, b.rdb, b.shards, provider, generationID)
		out <- waitResult{ev, err}
	}()
	return out
}

func receive(t *testing.T, ch <-chan waitResult) waitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitFor):
		t.Fatal("WaitEvent did not return")
		return waitResult{}
	}
}

func TestWaitEventFindsAnEventEmittedBeforeTheCall(t *testing.T) {
	t.Parallel()
	b := setupEvents(t, 3)
	want := newEvent("hooked", "vid_before", genwatch.StatusCompleted)
	b.emit(t, newEvent("hooked", "vid_other", genwatch.StatusFailed))
	b.emit(t, want)
	// The stream may have been trimmed since: the done key alone holds it.
	for _, s := range b.shards.Streams() {
		require.NoError(t, b.rdb.Del(context.Background(), s).Err())
	}

	got, err := genwatch.WaitEvent(context.Background(), b.rdb, b.shards, "hooked", "vid_before")
	require.NoError(t, err)
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, genwatch.StatusCompleted, got.Status)
	require.Equal(t, "vid_before", got.GenerationID)
}

func TestWaitEventFindsAnEventAppendedWhileItWaits(t *testing.T) {
	t.Parallel()
	b := setupEvents(t, 2)
	want := newEvent("hoox", "gen_during", genwatch.StatusTimedOut)
	stream := b.shards.StreamOf(genwatch.TaskID(want.Provider, want.GenerationID))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.wait(ctx, "hoox", "gen_during")

	// Only the stream has it (no done key): the reader must take it from
	// there. Entries appended before WaitEvent noted the stream's end are
	// rightly not its concern, so the event is appended until it is seen,
	// after entries of other generations and one that is not an event.
	var got waitResult
	require.Eventually(t, func() bool {
		b.addEvent(t, newEvent("hoox", "gen_someone_else", genwatch.StatusCompleted))
		b.add(t, stream, "not an event")
		b.addEvent(t, want)
		select {
		case got = <-ch:
			return true
		default:
			return false
		}
	}, waitFor, 50*time.Millisecond)
	require.NoError(t, got.err)
	require.Equal(t, want.ID, got.ev.ID)
	require.Equal(t, genwatch.StatusTimedOut, got.ev.Status)
}

func TestWaitEventMissesNoEventEmittedAroundTheCall(t *testing.T) {
	t.Parallel()
	b := setupEvents(t, 4)
	// Each generation ends while its WaitEvent starts, as the worker
	// emits: whichever comes first, the event is found.
	for i := range 20 {
		id := fmt.Sprint("vid_", i)
		ch := b.wait(context.Background(), "hooked", id)
		b.emit(t, newEvent("hooked", id, genwatch.StatusCompleted))
		r := receive(t, ch)
		require.NoError(t, r.err, id)
		require.Equal(t, id, r.ev.GenerationID)
	}
}

func TestWaitEventStopsWhenTheContextIsDone(t *testing.T) {
	t.Parallel()
	b := setupEvents(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.wait(ctx, "token360", "video_never")
	b.emit(t, newEvent("token360", "video_other", genwatch.StatusCompleted))
	cancel()
	r := receive(t, ch)
	require.ErrorIs(t, r.err, context.Canceled)
	require.ErrorContains(t, r.err, "token360:video_never")

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := genwatch.WaitEvent(ctx, b.rdb, b.shards, "token360", "video_never")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
