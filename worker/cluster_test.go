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
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redisproc"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

func TestClusterShardsOneEventEach(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	f := startClusterFleet(ctx, t, 3, 0, zap.WarnLevel, nil)
	cl, sim, cc, client, w, shards := f.cluster, f.sim, f.rdb, f.client, f.worker, f.cfg.Sharding()
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

// TestClusterPrimaryKilled kills one of three primaries while generations
// end, on a cluster where each primary has a replica: the replica takes
// over, and every generation still gets exactly one event, its event
// having reached the replica before its task was acknowledged
// (redis.wait_replicas).
func TestClusterPrimaryKilled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	f := startClusterFleet(ctx, t, 3, 1, zap.ErrorLevel, func(cfg *config.Config) { cfg.Redis.WaitReplicas = 1 })
	cl, sim, cc, client, shards := f.cluster, f.sim, f.rdb, f.client, f.cfg.Sharding()
	const n = 60
	want := map[string]bool{}
	for i := range n {
		// Endings spread over ten seconds, so that some come before the
		// kill, some during the failover and some after.
		p, id := genwatch.Providers()[i%3], fmt.Sprintf("k%d", i)
		sim.Create(p, id, simulator.Plan{PendingFor: time.Second, RunFor: time.Second + time.Duration(i)*150*time.Millisecond})
		res, err := client.Track(ctx, genwatch.Request{Provider: p, GenerationID: id})
		require.NoError(t, err)
		want[res.TaskID] = true
	}

	// events counts each generation's events over every shard's stream,
	// read from whichever node now serves it.
	events := func() (map[string]int, bool) {
		got := map[string]int{}
		for _, stream := range shards.Streams() {
			msgs, err := cc.XRange(ctx, stream, "-", "+").Result()
			if err != nil {
				return nil, false
			}
			for _, m := range msgs {
				ev, err := genwatch.DecodeEvent([]byte(m.Values[genwatch.StreamField].(string)))
				require.NoError(t, err)
				got[genwatch.TaskID(ev.Provider, ev.GenerationID)]++
			}
		}
		return got, true
	}
	require.Eventually(t, func() bool {
		got, ok := events()
		return ok && len(got) >= n/4
	}, time.Minute, 100*time.Millisecond, "the first events")

	victim := cl.Primaries[1]
	victim.Kill()
	t.Logf("killed primary %s", victim.Addr)

	var got map[string]int
	require.Eventually(t, func() bool {
		var ok bool
		got, ok = events()
		return ok && len(got) == n
	}, 3*time.Minute, 200*time.Millisecond, "every generation's event, after the failover")
	for id := range want {
		require.Equal(t, 1, got[id], "%s has exactly one event", id)
	}
}

// clusterFleet is a worker on a real Redis Cluster of the test's own, with
// the simulator and a client routed by the worker's shards.
type clusterFleet struct {
	cluster *redisproc.Cluster
	sim     *simulator.Simulator
	cfg     config.Config
	rdb     *redis.ClusterClient
	client  *genwatch.Client
	worker  *worker.Worker
}

// startClusterFleet starts a cluster of primaries primaries with
// replicasPer replicas each and a worker on it, configured by cfgFn, in
// 6 shards; all stop when the test ends.
func startClusterFleet(ctx context.Context, t *testing.T, primaries, replicasPer int, logLevel zapcore.Level, cfgFn func(*config.Config)) *clusterFleet {
	t.Helper()
	cl, err := redisproc.ForTest(t).StartCluster(ctx, primaries, replicasPer)
	require.NoError(t, err)
	sim := simulator.New(simulator.Config{Keys: clitest.Keys()})
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	t.Cleanup(sim.Close)
	cfg := clitest.NewConfig(cl.URL(), hs.URL, genwatch.DefaultQueue)
	cfg.Redis.Mode = config.RedisCluster
	cfg.Shards = 6 // more shards than primaries, so that every node gets some
	if cfgFn != nil {
		cfgFn(&cfg)
	}
	rdb, err := cfg.Redis.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })

	w, err := worker.New(cfg, worker.Options{Logger: zaptest.NewLogger(t, zaptest.Level(logLevel))})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })

	aq := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = aq.Close() })
	return &clusterFleet{cluster: cl, sim: sim, cfg: cfg, rdb: rdb.(*redis.ClusterClient),
		client: genwatch.NewClient(aq, cfg.ClientConfig()), worker: w}
}
