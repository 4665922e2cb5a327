package worker_test

// These tests run real redis-server processes of their own (internal/
// redisproc): a Sentinel-managed primary with a replica, and a Redis
// Cluster. They fail when redis-server is not installed; make test
// installs it.

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redisproc"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

func TestSentinelFailoverLosesNothing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	set, err := redisproc.ForTest(t).StartSentinel(ctx, 1, 3)
	require.NoError(t, err)

	cfg := config.Redis{Mode: config.RedisSentinel, URL: set.URL()}
	rdb, err := cfg.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	e := &e2e{clitest.NewOn(t, &redistest.Server{URL: cfg.URL, Client: rdb.(*redis.Client)}, genwatch.DefaultQueue)}
	cfg.WaitTimeout = e.Config.Redis.WaitTimeout // the default
	// An event reaches the replica before its task is acknowledged: the
	// forced failover below does not wait for the replica to catch up, and
	// on a busy machine it can lag by more than the last few writes.
	cfg.WaitReplicas = 1
	e.Config.Redis = cfg

	const n = 30
	for i := range n {
		// Long enough to be still running, most of them, when the primary
		// fails over after every generation's first poll.
		e.Sim.Create(genwatch.Providers()[i%3], fmt.Sprintf("f%d", i), simulator.Plan{PendingFor: time.Second, RunFor: 12*time.Second + time.Duration(i)*400*time.Millisecond})
	}
	// The worker dials Redis itself, from the configuration.
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core()))
	w, err := worker.New(e.Config, worker.Options{Logger: log})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })

	for i := range n {
		e.track(t, genwatch.Request{Provider: genwatch.Providers()[i%3], GenerationID: fmt.Sprintf("f%d", i)})
	}
	// Fail over while every generation is being polled.
	require.Eventually(t, func() bool { return e.Sim.TotalRequests() >= n }, waitFor, 10*time.Millisecond)
	newPrimary, err := set.Failover(ctx)
	require.NoError(t, err)
	require.Equal(t, set.Replicas[0].Addr, newPrimary)

	events := e.waitEvents(t, n)
	require.Len(t, byGeneration(events), n, "every generation ends")
	for _, ev := range events {
		require.Equal(t, genwatch.StatusCompleted, ev.Status, "%s", ev.GenerationID)
	}
	require.Eventually(t, func() bool {
		switched := logs.FilterMessage("redis primary switched by sentinel failover; following it").All()
		return len(switched) == 1 && switched[0].ContextMap()["to"] == newPrimary &&
			switched[0].ContextMap()["from"] == set.Primary.Addr
	}, waitFor, 20*time.Millisecond, "one clear log line of the switch")

	// The data is on the new primary, and the dashboard reads it there.
	direct := set.Replicas[0].Client()
	t.Cleanup(func() { _ = direct.Close() })
	require.Len(t, clitest.ReadEvents(t, direct, e.Config.Events.Stream), n, "nothing duplicated, on the new primary")
	status, body := get(t, "http://"+w.Addr().String()+worker.DashboardPath+"/api/queues")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"queue":"genwatch"`)
}
