package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/store"
)

// TestMigrateLegacy upgrades keys left by workers before sharding: the
// state of a generation in flight and the event of one that ended move
// to where the store reads them, with the time they had left; a key the
// new store already wrote wins; a second run moves nothing.
func TestMigrateLegacy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, srv, _ := newStore(t)
	queue := testShards(t).Queue
	old := store.LegacyPrefix(queue)
	rdb := srv.Client

	// What an older worker wrote: a state (two polls), two events, one
	// without expiry.
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	require.NoError(t, rdb.Set(ctx, old+"gen:hoox:inflight", `{"p":2,"f":`+strconv.FormatInt(t0.UnixMilli(), 10)+`}`, time.Hour).Err())
	require.NoError(t, rdb.Set(ctx, old+"done:hoox:ended", `{"status":"completed"}`, 20*time.Hour).Err())
	require.NoError(t, rdb.Set(ctx, old+"done:hoox:forever", `{"status":"failed"}`, 0).Err())
	// One the new store wrote first: its own stands.
	_, appended, err := st.Emit(ctx, "hoox:both", []byte(`{"status":"canceled"}`), time.Hour, time.Minute, store.Learning{})
	require.NoError(t, err)
	require.True(t, appended)
	require.NoError(t, rdb.Set(ctx, old+"done:hoox:both", `{"status":"completed"}`, time.Hour).Err())
	// Keys of another queue stay where they are.
	require.NoError(t, rdb.Set(ctx, store.LegacyPrefix(queue+"-other")+"done:hoox:x", `{}`, time.Hour).Err())

	moved, err := st.MigrateLegacy(ctx, queue)
	require.NoError(t, err)
	require.Equal(t, 3, moved)

	rec, ok, err := st.Load(ctx, "hoox:inflight")
	require.NoError(t, err)
	require.True(t, ok, "the state of a generation in flight is found")
	require.Equal(t, 2, rec.History.Polls, "its polls are not forgotten")
	require.Equal(t, t0, rec.FirstSeen)

	ev, ok, err := st.Done(ctx, "hoox:ended")
	require.NoError(t, err)
	require.True(t, ok, "an ended generation's event is found")
	require.JSONEq(t, `{"status":"completed"}`, string(ev))
	_, ok, err = st.Done(ctx, "hoox:forever")
	require.NoError(t, err)
	require.True(t, ok)
	ev, _, err = st.Done(ctx, "hoox:both")
	require.NoError(t, err)
	require.JSONEq(t, `{"status":"canceled"}`, string(ev), "the new store's event stands")

	// The time to live moved with the keys; the old keys are gone.
	for key, want := range map[string]time.Duration{
		"gen:hoox:inflight": time.Hour, "done:hoox:ended": 20 * time.Hour,
	} {
		require.Zero(t, rdb.Exists(ctx, old+key).Val(), "%s is left behind", key)
		var found bool
		for _, k := range rdb.Keys(ctx, "*"+key).Val() {
			ttl := rdb.PTTL(ctx, k).Val()
			require.InDelta(t, want.Seconds(), ttl.Seconds(), 5, "%s keeps its time to live", k)
			found = true
		}
		require.True(t, found, "%s moved", key)
	}
	require.Equal(t, int64(1), rdb.Exists(ctx, store.LegacyPrefix(queue+"-other")+"done:hoox:x").Val())

	moved, err = st.MigrateLegacy(ctx, queue)
	require.NoError(t, err)
	require.Zero(t, moved, "a second run has nothing to move")
}
