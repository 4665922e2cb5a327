package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/redisproc"
	"github.com/genwatch/genwatch/internal/store"
)

// TestEmitWaitsForReplicas runs a real primary with a replica: with
// Replicas set, an event is on the replica when Emit returns; with the
// replica gone, Emit still writes the event but says it is not
// replicated, and a rerun finds that event and says so again rather than
// writing a second one.
func TestEmitWaitsForReplicas(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	fleet := redisproc.ForTest(t)
	primary, err := fleet.Start(ctx)
	require.NoError(t, err)
	replica, err := fleet.Start(ctx, "replicaof 127.0.0.1 "+strconv.Itoa(primary.Port))
	require.NoError(t, err)
	rc := replica.Client()
	t.Cleanup(func() { _ = rc.Close() })
	require.Eventually(t, func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 30*time.Second, 50*time.Millisecond)

	pc := primary.Client()
	t.Cleanup(func() { _ = pc.Close() })
	require.Eventually(t, func() bool {
		info, err := pc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "state=online")
	}, 30*time.Second, 50*time.Millisecond, "the primary sees its replica")
	shards := genwatch.Shards{}
	st := store.New(pc, store.Config{Shards: shards, Replicas: 1, ReplicaTimeout: 2 * time.Second})

	for i := range 20 {
		id := "hoox:r" + strconv.Itoa(i)
		_, appended, err := st.Emit(ctx, id, []byte(`{"n":`+strconv.Itoa(i)+`}`), time.Hour, time.Minute, store.Learning{})
		require.NoError(t, err)
		require.True(t, appended)
		// On the replica already, without waiting.
		n, err := rc.XLen(ctx, shards.WithDefaults().StreamOf(id)).Result()
		require.NoError(t, err)
		require.Equal(t, int64(i+1), n, "event %d is on the replica when Emit returns", i)
	}

	replica.Kill()
	stored, appended, err := st.Emit(ctx, "hoox:lonely", []byte(`{"n":"lonely"}`), time.Hour, time.Minute, store.Learning{})
	require.ErrorIs(t, err, store.ErrNotReplicated)
	require.True(t, appended, "the event is written all the same")
	require.JSONEq(t, `{"n":"lonely"}`, string(stored))
	stored, appended, err = st.Emit(ctx, "hoox:lonely", []byte(`{"n":"again"}`), time.Hour, time.Minute, store.Learning{})
	require.ErrorIs(t, err, store.ErrNotReplicated)
	require.False(t, appended, "a rerun writes no second event")
	require.JSONEq(t, `{"n":"lonely"}`, string(stored))
	n, err := pc.XLen(ctx, shards.WithDefaults().StreamOf("hoox:lonely")).Result()
	require.NoError(t, err)
	require.Equal(t, int64(21), n)
}
