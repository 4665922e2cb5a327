package guard_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/throttle"
	"github.com/genwatch/genwatch/internal/throttle/guard"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func newGuard(t *testing.T, srv *redistest.Server, limit throttle.Limit, breaker throttle.BreakerConfig) (*guard.Guard, *throttle.Pauses) {
	t.Helper()
	pauses := throttle.NewPauses(srv.Client, redistest.Name(t, "gw")+":", nil, nil)
	return guard.New(guard.Config{
		Key:     redistest.Name(t, "hooked") + "/default",
		Limit:   limit,
		Limiter: redis_rate.NewLimiter(srv.Client),
		Pauses:  pauses,
		Breaker: breaker,
	}), pauses
}

func TestRateLimitIsShared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.New(t)
	a, _ := newGuard(t, srv, throttle.Limit{PerSecond: 1, Burst: 3}, throttle.BreakerConfig{})
	b, _ := newGuard(t, srv, throttle.Limit{PerSecond: 1, Burst: 3}, throttle.BreakerConfig{})

	admitted := 0
	var deferred *throttle.Deferred
	for i := range 6 {
		g := a
		if i%2 == 1 {
			g = b // another worker, same account
		}
		p, d, err := g.Admit(ctx)
		require.NoError(t, err)
		if p != nil {
			admitted++
			require.NoError(t, g.Done(ctx, p, providers.ClassNone, 0))
		} else {
			deferred = d
		}
	}
	require.Equal(t, 3, admitted, "the burst is shared by both workers")
	require.NotNil(t, deferred)
	require.Equal(t, "rate limited by genwatch (1/s)", deferred.Reason)
	require.False(t, deferred.Breaker)
	require.Greater(t, deferred.Delay, time.Duration(0))
	require.LessOrEqual(t, deferred.Delay, time.Second)
}

func TestNoLimitCostsNoRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	g, _ := newGuard(t, srv, throttle.Limit{}, throttle.BreakerConfig{})
	require.NoError(t, srv.Client.Close()) // any Redis call would now fail
	for range 100 {
		p, d, err := g.Admit(context.Background())
		require.NoError(t, err)
		require.Nil(t, d)
		require.NoError(t, g.Done(context.Background(), p, providers.ClassNone, 0))
	}
}

func TestBreakerOpensOnTransientFailuresOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.New(t)
	g, _ := newGuard(t, srv, throttle.Limit{}, throttle.BreakerConfig{Failures: 3, OpenFor: time.Hour})

	fail := func(class providers.Class) {
		p, d, err := g.Admit(ctx)
		require.NoError(t, err)
		require.Nil(t, d)
		require.NoError(t, g.Done(ctx, p, class, 0))
	}
	// Not-found, unauthorized and rate-limited answers are the provider
	// working: they never open the circuit.
	for range 10 {
		fail(providers.ClassNotFound)
		fail(providers.ClassUnauthorized)
	}
	fail(providers.ClassTransient)
	fail(providers.ClassTransient)
	fail(providers.ClassNone) // a success resets the run
	fail(providers.ClassTransient)
	fail(providers.ClassTransient)
	require.Equal(t, gobreaker.StateClosed, g.State())
	fail(providers.ClassTransient)
	require.Equal(t, gobreaker.StateOpen, g.State())

	p, d, err := g.Admit(ctx)
	require.NoError(t, err)
	require.Nil(t, p)
	require.True(t, d.Breaker)
	require.Equal(t, "circuit open: the provider keeps failing", d.Reason)
}

func TestBreakerProbesAndCloses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.New(t)
	// gobreaker keeps its own clock: a short open period lets the test see
	// it probe.
	g, _ := newGuard(t, srv, throttle.Limit{}, throttle.BreakerConfig{Failures: 1, OpenFor: 20 * time.Millisecond, Probes: 1})
	p, _, err := g.Admit(ctx)
	require.NoError(t, err)
	require.NoError(t, g.Done(ctx, p, providers.ClassTransient, 0))
	require.Equal(t, gobreaker.StateOpen, g.State())

	require.Eventually(t, func() bool { return g.State() == gobreaker.StateHalfOpen }, 5*time.Second, 5*time.Millisecond)
	probe, d, err := g.Admit(ctx)
	require.NoError(t, err)
	require.Nil(t, d)
	_, d, err = g.Admit(ctx)
	require.NoError(t, err)
	require.True(t, d.Breaker, "one probe at a time")
	require.NoError(t, g.Done(ctx, probe, providers.ClassNone, 0))
	require.Equal(t, gobreaker.StateClosed, g.State())
}

func TestRetryAfterPausesTheAccountAcrossTheFleet(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := redistest.New(t)
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var elapsed atomic.Int64
	clock := func() time.Time { return start.Add(time.Duration(elapsed.Load())) }
	now := clock()
	prefix := redistest.Name(t, "gw") + ":"
	key := "hoox/default"
	newWorker := func() (*guard.Guard, *throttle.Pauses) {
		pauses := throttle.NewPauses(srv.Client, prefix, nil, clock)
		return guard.New(guard.Config{Key: key, Pauses: pauses, Now: clock}), pauses
	}
	a, _ := newWorker()
	b, bPauses := newWorker()
	go bPauses.Run(ctx)
	// b follows the board once its subscription is up: wait for that by
	// seeing an earlier pause arrive.
	require.NoError(t, throttle.NewPauses(srv.Client, prefix, nil, clock).Pause(ctx, "other/default", now.Add(time.Minute)))
	require.Eventually(t, func() bool { return !bPauses.Until("other/default").IsZero() }, 10*time.Second, 5*time.Millisecond)

	p, d, err := a.Admit(ctx)
	require.NoError(t, err)
	require.Nil(t, d)
	require.NoError(t, a.Done(ctx, p, providers.ClassRateLimited, 30*time.Second))

	_, d, err = a.Admit(ctx)
	require.NoError(t, err)
	require.Equal(t, &throttle.Deferred{Delay: 30 * time.Second, Reason: "provider asked to pause (429) for 30s"}, d)
	require.Eventually(t, func() bool {
		_, d, err := b.Admit(ctx)
		return err == nil && d != nil && d.Delay == 30*time.Second
	}, 10*time.Second, 5*time.Millisecond, "another worker sees the pause")

	// A worker that starts mid-pause loads it.
	c, cPauses := newWorker()
	go cPauses.Run(ctx)
	require.Eventually(t, func() bool {
		_, d, err := c.Admit(ctx)
		return err == nil && d != nil
	}, 10*time.Second, 5*time.Millisecond)

	// Once the pause has passed, calls are admitted again.
	elapsed.Add(int64(31 * time.Second))
	p, d, err = a.Admit(ctx)
	require.NoError(t, err)
	require.Nil(t, d)
	require.NotNil(t, p)
}
