package worker_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/config"
	"github.com/genwatch/genwatch/internal/redisproc"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

func TestClusterShardsOneEventEach(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cl, err := redisproc.ForTest(t).StartCluster(ctx, 3, 0)
	require.NoError(t, err)

	sim := simulator.New(simulator.Config{Keys: clitest.Keys()})
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	t.Cleanup(sim.Close)
	cfg := clitest.NewConfig(cl.URL(), hs.URL, genwatch.DefaultQueue)
	cfg.Redis.Mode = config.RedisCluster
	cfg.Shards = 6 // more shards than primaries, so that every node gets some
	shards := cfg.Sharding()

	rdb, err := cfg.Redis.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	cc := rdb.(*redis.ClusterClient)

	w, err := worker.New(cfg, worker.Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })

	aq := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = aq.Close() })
	client := genwatch.NewClient(aq, cfg.ClientConfig())
	const n = 60
	want := map[string]bool{}
	for i := range n {
		p, id := genwatch.Providers()[i%3], fmt.Sprintf("c%d", i)
		sim.Create(p, id, simulator.Plan{PendingFor: time.Second, RunFor: time.Second})
		res, err := client.Track(ctx, genwatch.Request{Provider: p, GenerationID: id})
		require.NoError(t, err)
		want[res.TaskID] = true
	}

	// Every event is on its shard's stream, once.
	got := map[string]int{}
	require.Eventually(t, func() bool {
		clear(got)
		for k, stream := range shards.Streams() {
			msgs, err := cc.XRange(ctx, stream, "-", "+").Result()
			if err != nil {
				return false
			}
			for _, m := range msgs {
				ev, err := genwatch.DecodeEvent([]byte(m.Values[genwatch.StreamField].(string)))
				require.NoError(t, err)
				taskID := genwatch.TaskID(ev.Provider, ev.GenerationID)
				require.Equal(t, k, shards.Of(taskID), "%s on stream %s", taskID, stream)
				require.Equal(t, genwatch.StatusCompleted, ev.Status)
				got[taskID]++
			}
		}
		return len(got) == n
	}, waitFor, 100*time.Millisecond)
	for id := range want {
		require.Equal(t, 1, got[id], "%s has one event", id)
	}

	// The shards' keys live on every primary.
	perNode := map[string]int64{}
	for _, p := range cl.Primaries {
		c := p.Client()
		perNode[p.Addr] = c.DBSize(ctx).Val()
		_ = c.Close()
		require.Positive(t, perNode[p.Addr], "keys on %s: %v", p.Addr, perNode)
	}

	// The dashboard reads the cluster: every shard's queue, and the nodes.
	status, body := get(t, "http://"+w.Addr().String()+worker.DashboardPath+"/api/queues")
	require.Equal(t, http.StatusOK, status, body)
	for _, q := range shards.Queues() {
		require.Contains(t, body, `"queue":"`+q+`"`)
	}
	status, body = get(t, "http://"+w.Addr().String()+worker.DashboardPath+"/api/redis_info")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, cl.Primaries[0].Addr)
}
