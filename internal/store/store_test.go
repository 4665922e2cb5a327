package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/store"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func intp(v int) *int { return &v }

func newStore(t *testing.T) (*store.Store, *redistest.Server, string) {
	t.Helper()
	srv := redistest.New(t)
	return store.New(srv.Client, store.Config{Shards: testShards(t)}), srv, testShards(t).Stream
}

// testShards names the test's one shard.
func testShards(t *testing.T) genwatch.Shards {
	return genwatch.Shards{Queue: redistest.Name(t, "gw"), Stream: redistest.Name(t, "gw") + ":events"}
}

func TestStoreRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, srv, _ := newStore(t)
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	const id = "hoox:abc"

	rec, err := st.Record(ctx, id, t0, true, providers.ClassNone, &providers.Status{State: providers.StatePending, ProviderStatus: "pending"}, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 1, rec.History.Polls)
	require.Equal(t, t0, rec.FirstSeen)
	require.Equal(t, "pending", rec.ProviderStatus)
	require.Empty(t, rec.History.Progress)

	// A run of 404s starts at its first one and ends with any other answer.
	rec, err = st.Record(ctx, id, t0.Add(time.Second), true, providers.ClassNotFound, nil, time.Hour)
	require.NoError(t, err)
	rec, err = st.Record(ctx, id, t0.Add(3*time.Second), true, providers.ClassNotFound, nil, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 3, rec.History.Polls)
	require.Equal(t, t0.Add(time.Second), rec.History.NotFoundSince)
	require.Equal(t, "pending", rec.ProviderStatus, "an error keeps the last status word")

	rec, err = st.Record(ctx, id, t0.Add(4*time.Second), true, providers.ClassTransient, nil, time.Hour)
	require.NoError(t, err)
	require.True(t, rec.History.NotFoundSince.IsZero())
	require.Equal(t, t0.Add(4*time.Second), rec.History.FailingSince)
	require.Equal(t, 1, rec.History.Failures)
	require.True(t, rec.History.Answered, "it answered pending earlier")

	// An open circuit is a failure but not a status call.
	rec, err = st.Record(ctx, id, t0.Add(4500*time.Millisecond), false, providers.ClassTransient, nil, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 2, rec.History.Failures)
	require.Equal(t, 4, rec.History.Polls)
	require.Equal(t, t0.Add(4*time.Second), rec.History.FailingSince)

	rec, err = st.Record(ctx, id, t0.Add(5*time.Second), true, providers.ClassUnauthorized, nil, time.Hour)
	require.NoError(t, err)
	require.True(t, rec.History.FailingSince.IsZero())
	require.Zero(t, rec.History.Failures)
	require.Equal(t, t0.Add(5*time.Second), rec.History.UnauthorizedSince)

	// Progress readings are kept when they change, at most eight.
	for i := range 12 {
		pct := min(i*10, 100)
		_, err = st.Record(ctx, id, t0.Add(time.Duration(10+i)*time.Second), true, providers.ClassNone,
			&providers.Status{State: providers.StateRunning, ProviderStatus: "generating", Progress: intp(pct)}, time.Hour)
		require.NoError(t, err)
		_, err = st.Record(ctx, id, t0.Add(time.Duration(10+i)*time.Second+time.Millisecond), true, providers.ClassNone,
			&providers.Status{State: providers.StateRunning, ProviderStatus: "generating", Progress: intp(pct)}, time.Hour)
		require.NoError(t, err)
	}
	rec, ok, err := st.Load(ctx, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 5+24, rec.History.Polls)
	require.True(t, rec.History.UnauthorizedSince.IsZero())
	require.Len(t, rec.History.Progress, 8)
	require.Equal(t, schedule.Sample{At: t0.Add(20 * time.Second), After: t0.Add(19*time.Second + time.Millisecond), Percent: 100}, rec.History.Progress[7])
	require.Equal(t, schedule.Sample{At: t0.Add(13 * time.Second), After: t0.Add(12*time.Second + time.Millisecond), Percent: 30}, rec.History.Progress[0])
	p, ok := rec.LastProgress()
	require.True(t, ok)
	require.Equal(t, 100, p)

	// The state is one small key with the TTL it was given.
	raw, err := srv.Client.Get(ctx, testShards(t).KeyPrefixOf(id)+"gen:"+id).Result()
	require.NoError(t, err)
	require.Less(t, len(raw), 400, "state: %s", raw)
	ttl, err := srv.Client.PTTL(ctx, testShards(t).KeyPrefixOf(id)+"gen:"+id).Result()
	require.NoError(t, err)
	require.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 5)

	_, ok, err = st.Load(ctx, "hoox:unknown")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestStoreEmitOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, srv, stream := newStore(t)
	const id = "hooked:v1"

	_, err := st.Record(ctx, id, time.Now(), true, providers.ClassNone, &providers.Status{State: providers.StateCompleted}, time.Hour)
	require.NoError(t, err)

	stored, appended, err := st.Emit(ctx, id, []byte(`{"id":"evt_1","status":"completed"}`), 24*time.Hour, 10*time.Minute, store.Learning{})
	require.NoError(t, err)
	require.True(t, appended)
	require.JSONEq(t, `{"id":"evt_1","status":"completed"}`, string(stored))

	// A second emission, even of another status, adds nothing and returns
	// the event that stands.
	stored, appended, err = st.Emit(ctx, id, []byte(`{"id":"evt_2","status":"timed_out"}`), 24*time.Hour, 10*time.Minute, store.Learning{})
	require.NoError(t, err)
	require.False(t, appended)
	require.JSONEq(t, `{"id":"evt_1","status":"completed"}`, string(stored))

	msgs, err := srv.Client.XRange(ctx, stream, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.JSONEq(t, `{"id":"evt_1","status":"completed"}`, msgs[0].Values["event"].(string))

	done, ok, err := st.Done(ctx, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.JSONEq(t, `{"id":"evt_1","status":"completed"}`, string(done))

	prefix := testShards(t).KeyPrefixOf(id)
	doneTTL, err := srv.Client.PTTL(ctx, prefix+"done:"+id).Result()
	require.NoError(t, err)
	require.InDelta(t, (24 * time.Hour).Seconds(), doneTTL.Seconds(), 5)
	stateTTL, err := srv.Client.PTTL(ctx, prefix+"gen:"+id).Result()
	require.NoError(t, err)
	require.InDelta(t, (10 * time.Minute).Seconds(), stateTTL.Seconds(), 5)
}

func TestStoreStreamMaxLen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.New(t)
	prefix := redistest.Name(t, "gw") + ":"
	st := store.New(srv.Client, store.Config{Shards: genwatch.Shards{Queue: prefix, Stream: prefix + "events"}, StreamMaxLen: 10})
	for i := range 300 {
		_, _, err := st.Emit(ctx, "token360:"+string(rune('a'+i%26))+time.Duration(i).String(), []byte(`{}`), time.Hour, time.Minute, store.Learning{})
		require.NoError(t, err)
	}
	n, err := srv.Client.XLen(ctx, prefix+"events").Result()
	require.NoError(t, err)
	require.Less(t, n, int64(300), "the stream is trimmed")
	require.GreaterOrEqual(t, n, int64(10))
}

func TestStoreShardsKeysAndStreams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.New(t)
	shards := genwatch.Shards{Queue: redistest.Name(t, "gw"), Stream: redistest.Name(t, "gw") + ":events", N: 3}
	st := store.New(srv.Client, store.Config{Shards: shards})
	ids := []string{"hoox:a", "hoox:b", "hoox:c", "hooked:d", "token360:e", "hooked:f"}
	for _, id := range ids {
		_, err := st.Record(ctx, id, time.Now(), true, providers.ClassNone, nil, time.Minute)
		require.NoError(t, err)
		_, appended, err := st.Emit(ctx, id, []byte(`{"id":"`+id+`"}`), time.Hour, time.Minute, store.Learning{})
		require.NoError(t, err)
		require.True(t, appended)
	}
	total := 0
	for k, stream := range shards.Streams() {
		msgs, err := srv.Client.XRange(ctx, stream, "-", "+").Result()
		require.NoError(t, err)
		total += len(msgs)
		for _, m := range msgs {
			var ev struct{ ID string }
			require.NoError(t, json.Unmarshal([]byte(m.Values["event"].(string)), &ev))
			require.Equal(t, k, shards.Of(ev.ID), "%s is on its shard's stream", ev.ID)
		}
	}
	require.Equal(t, len(ids), total)
	for _, id := range ids {
		// Every key of a generation carries its shard stream's hash tag.
		tag := "{" + shards.StreamOf(id) + "}"
		for _, key := range []string{"gen:", "done:"} {
			n, err := srv.Client.Exists(ctx, shards.KeyPrefixOf(id)+key+id).Result()
			require.NoError(t, err)
			require.EqualValues(t, 1, n, "%s%s", key, id)
		}
		require.Contains(t, shards.KeyPrefixOf(id), tag)
	}
}

func TestStoreLearnsDurations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := newStore(t)

	d, err := st.Durations(ctx, "hoox:a0", "hoox", "default", "video/veo-3.1")
	require.NoError(t, err)
	require.Nil(t, d, "nothing learned yet")

	learn := store.Learning{Provider: "hoox", Account: "default", Kind: "video/veo-3.1", Span: schedule.Span{From: 30 * time.Second, To: 40 * time.Second}, Memory: 10}
	for i := range 3 {
		_, appended, err := st.Emit(ctx, fmt.Sprintf("hoox:a%d", i), []byte(`{}`), time.Hour, time.Minute, learn)
		require.NoError(t, err)
		require.True(t, appended)
	}
	// A second emission of the same generation learns nothing.
	_, appended, err := st.Emit(ctx, "hoox:a0", []byte(`{}`), time.Hour, time.Minute, learn)
	require.NoError(t, err)
	require.False(t, appended)
	// Found ended at the first poll, three minutes in: spread over the
	// buckets before.
	learn.Span = schedule.Span{To: 3 * time.Minute}
	_, _, err = st.Emit(ctx, "hoox:b", []byte(`{}`), time.Hour, time.Minute, learn)
	require.NoError(t, err)

	d, err = st.Durations(ctx, "hoox:a0", "hoox", "default", "video/veo-3.1")
	require.NoError(t, err)
	require.NotNil(t, d)
	// The Go twin of the script's update gives the same weights.
	var want schedule.Durations
	for range 3 {
		want.AddSpan(schedule.Span{From: 30 * time.Second, To: 40 * time.Second}, 10)
	}
	want.AddSpan(schedule.Span{To: 3 * time.Minute}, 10)
	require.Greater(t, len(schedule.Spread(schedule.Span{To: 3 * time.Minute})), 1, "the test spreads over several buckets")
	require.Len(t, d.Weights, schedule.NumBuckets)
	require.InDeltaSlice(t, want.Weights, d.Weights, 1e-3)
	var inSpan float64
	for _, bw := range schedule.Spread(schedule.Span{From: 30 * time.Second, To: 40 * time.Second}) {
		inSpan += d.Weights[bw.Bucket]
	}
	require.InDelta(t, 0.9*(0.9*0.9+0.9+1), inSpan, 1e-3, "older endings decay")

	other, err := st.Durations(ctx, "hoox:a0", "hoox", "default", "image/flux-pro")
	require.NoError(t, err)
	require.Nil(t, other, "durations are kept per kind")
	all, err := st.Durations(ctx, "hoox:a0", "hoox", "default", "")
	require.NoError(t, err)
	require.NotNil(t, all, "and for the provider and account, which pace a first poll")
	require.InDeltaSlice(t, want.Weights, all.Weights, 1e-3)
}

func TestStoreHint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := newStore(t)
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	const id = "hooked:h1"

	ok, err := st.Hint(ctx, id, t0, 3*time.Second)
	require.NoError(t, err)
	require.True(t, ok, "a hint before the first poll is recorded")
	ok, err = st.Hint(ctx, id, t0.Add(time.Second), 3*time.Second)
	require.NoError(t, err)
	require.False(t, ok, "debounced")

	rec, err := st.Record(ctx, id, t0.Add(2*time.Second), true, providers.ClassNone,
		&providers.Status{State: providers.StateRunning, ProviderStatus: "STARTED", Progress: new(97)}, time.Hour)
	require.NoError(t, err)
	require.Equal(t, t0, rec.History.HintAt)
	require.Equal(t, 1, rec.History.Polls)

	ok, err = st.Hint(ctx, id, t0.Add(4*time.Second), 3*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	rec, found, err := st.Load(ctx, id)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, t0.Add(4*time.Second), rec.History.HintAt)
	require.Equal(t, 1, rec.History.Polls, "a hint is not a poll")

	_, _, err = st.Emit(ctx, id, []byte(`{}`), time.Hour, time.Minute, store.Learning{})
	require.NoError(t, err)
	ok, err = st.Hint(ctx, id, t0.Add(time.Minute), 3*time.Second)
	require.NoError(t, err)
	require.False(t, ok, "an ended generation takes no hint")
}

func TestStoreRecordsPollTimesAndModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := newStore(t)
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	const id = "token360:p1"
	running := func(pct int) *providers.Status {
		return &providers.Status{State: providers.StateRunning, ProviderStatus: "in_progress", Progress: &pct, MediaType: "video", Model: "kling-2.1"}
	}

	rec, err := st.Record(ctx, id, t0, true, providers.ClassNone, running(0), time.Hour)
	require.NoError(t, err)
	require.True(t, rec.History.LastPollAt.IsZero())
	require.Equal(t, "video/kling-2.1", rec.Model)

	// The provider's own time for a reading is kept with it, from the
	// poll that first saw it.
	stamped := running(30)
	stamped.UpdatedAt = t0.Add(7 * time.Second)
	rec, err = st.Record(ctx, id, t0.Add(10*time.Second), true, providers.ClassNone, stamped, time.Hour)
	require.NoError(t, err)
	require.Equal(t, t0, rec.History.LastPollAt)
	require.Equal(t, []schedule.Sample{
		{At: t0, Percent: 0},
		{At: t0.Add(10 * time.Second), After: t0, Percent: 30, Reached: t0.Add(7 * time.Second)},
	}, rec.History.Progress)
	restamped := running(30)
	restamped.UpdatedAt = t0.Add(11 * time.Second)
	rec, err = st.Record(ctx, id, t0.Add(12*time.Second), true, providers.ClassNone, restamped, time.Hour)
	require.NoError(t, err)
	require.Equal(t, t0.Add(7*time.Second), rec.History.Progress[1].Reached, "a reading seen again keeps its first time")

	// A call not made (an open circuit) moves neither poll time.
	rec, err = st.Record(ctx, id, t0.Add(15*time.Second), false, providers.ClassTransient, nil, time.Hour)
	require.NoError(t, err)
	require.Equal(t, t0.Add(10*time.Second), rec.History.LastPollAt)
	require.Equal(t, "video/kling-2.1", rec.Model, "the model stays when an answer has none")
}

func TestStoreProviderDates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, srv, _ := newStore(t)
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	const id = "token360:dates"
	running := func(pct int, updated time.Time) *providers.Status {
		return &providers.Status{State: providers.StateRunning, ProviderStatus: "in_progress", Progress: &pct, UpdatedAt: updated}
	}

	// A date no JSON integer of Redis's holds is not kept, and the state
	// stays readable.
	_, err := st.Record(ctx, id, t0, true, providers.ClassNone, running(10, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)), time.Hour)
	require.NoError(t, err)
	rec, ok, err := st.Load(ctx, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []schedule.Sample{{At: t0, Percent: 10}}, rec.History.Progress)

	// A state written before dates were kept, three numbers a reading,
	// still loads.
	keys, err := srv.Client.Keys(ctx, "*"+id+"*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	legacy := fmt.Sprintf(`{"p":2,"f":%[1]d,"t":%[2]d,"l":%[1]d,"g":[[%[1]d,0,0],[%[2]d,30,%[1]d]]}`, t0.UnixMilli(), t0.Add(10*time.Second).UnixMilli())
	require.NoError(t, srv.Client.Set(ctx, keys[0], legacy, time.Hour).Err())
	rec, ok, err = st.Load(ctx, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []schedule.Sample{
		{At: t0, Percent: 0},
		{At: t0.Add(10 * time.Second), After: t0, Percent: 30},
	}, rec.History.Progress)
}
