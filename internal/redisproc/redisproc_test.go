package redisproc_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/redisproc"
)

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	set, err := redisproc.ForTest(t).StartSentinel(ctx, 1, 3)
	require.NoError(t, err)
	fo, err := redis.ParseFailoverURL(set.URL())
	require.NoError(t, err)
	require.Len(t, fo.SentinelAddrs, 3)
	rdb := redis.NewFailoverClient(fo)
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Set(ctx, "k", "before", 0).Err())

	addr, err := set.Failover(ctx)
	require.NoError(t, err)
	require.Equal(t, set.Replicas[0].Addr, addr)
	require.Eventually(t, func() bool { return rdb.Set(ctx, "k", "after", 0).Err() == nil }, 30*time.Second, 20*time.Millisecond)
	c := set.Replicas[0].Client()
	defer c.Close()
	require.Equal(t, "after", c.Get(ctx, "k").Val(), "the write went to the new primary")
}

func TestCluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cl, err := redisproc.ForTest(t).StartCluster(ctx, 3, 0)
	require.NoError(t, err)
	require.Len(t, cl.Primaries, 3)
	co, err := redis.ParseClusterURL(cl.URL())
	require.NoError(t, err)
	require.Len(t, co.Addrs, 3)
	rdb := redis.NewClusterClient(co)
	t.Cleanup(func() { _ = rdb.Close() })
	var mu sync.Mutex // ForEachMaster calls in parallel
	owners := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		require.NoError(t, rdb.Set(ctx, k, k, 0).Err())
	}
	require.NoError(t, rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		if n, _ := c.DBSize(ctx).Result(); n > 0 {
			mu.Lock()
			owners[c.Options().Addr] = true
			mu.Unlock()
		}
		return nil
	}))
	require.Greater(t, len(owners), 1, "keys spread over the primaries")
	info, err := rdb.ClusterInfo(ctx).Result()
	require.NoError(t, err)
	require.True(t, strings.Contains(info, "cluster_known_nodes:3"), info)
}
