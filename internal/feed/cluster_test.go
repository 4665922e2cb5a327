package feed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/feed"
	"github.com/genwatch/genwatch/internal/redisproc"
)

// In a Redis Cluster the shard streams live in different slots, on
// different nodes: the feed reads each on its own and its cursor still
// resumes across all of them.
func TestClusterShards(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cl, err := redisproc.ForTest(t).StartCluster(ctx, 3, 0)
	require.NoError(t, err)
	co, err := redis.ParseClusterURL(cl.URL())
	require.NoError(t, err)
	rdb := redis.NewClusterClient(co)
	t.Cleanup(func() { _ = rdb.Close() })

	// Enough shards that every primary holds some.
	streams := genwatch.Shards{N: 6}.WithDefaults().Streams()
	nodes := map[string]bool{}
	for _, s := range streams {
		node, err := rdb.MasterForKey(ctx, s)
		require.NoError(t, err)
		nodes[node.Options().Addr] = true
	}
	require.Len(t, nodes, 3, "the streams are spread over every primary")

	b := serve(t, rdb, feed.Config{Streams: streams, Block: 200 * time.Millisecond})
	c := b.connect(t, "", nil)
	waitSubscribers(t, b.feed, 1)

	var want []string
	for k, s := range streams {
		id := fmt.Sprintf("g%d", k)
		b.add(t, s, event("hoox", id, genwatch.StatusCompleted))
		want = append(want, id)
	}
	got, last := c.events(t, len(streams))
	require.ElementsMatch(t, want, got, "one event from every stream")

	// Resuming at the last ID sends only what came after it.
	b.add(t, streams[len(streams)-1], event("hoox", "late", genwatch.StatusCompleted))
	resumed := b.connect(t, "?after="+last, nil)
	got, _ = resumed.events(t, 1)
	require.Equal(t, []string{"late"}, got)
	waitSubscribers(t, b.feed, 2)
	b.add(t, streams[0], event("hoox", "next", genwatch.StatusCompleted))
	got, _ = resumed.events(t, 1)
	require.Equal(t, []string{"next"}, got, "nothing sent twice")
}
