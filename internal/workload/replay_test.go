package workload_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/workload"
)

var (
	fixed5s  = workload.Policy{Name: "fixed-5s", Every: 5 * time.Second}
	backoff  = workload.Policy{Name: "backoff", Pace: schedule.Policy{Mode: schedule.ModeBackoff}}
	adaptive = workload.Policy{Name: "adaptive", Pace: schedule.Policy{Webhooks: true}}
)

// spread is how long a workload's arrivals take: 300 generations over five
// minutes, one a second, so that the warm-up and the measured generations
// form one steady stream.
const spread = 5 * time.Minute

// draws is how many draws of each workload a replay pools.
const draws = 4

// replay runs the fixed 5-second loop, today's backoff and the adaptive
// pacing on the same generations of kind, each policy with nothing
// learned, after a warm-up of warmUp arriving just before them (none when
// empty): draws draws of 300 generations each, pooled.
func replay(t *testing.T, kind, warmUp workload.Kind) (fixed, back, adapt workload.Result) {
	t.Helper()
	for seed := uint64(1); seed <= draws; seed++ {
		w, err := workload.Make(kind, 300, seed, spread)
		require.NoError(t, err)
		if warmUp != "" {
			warm, err := workload.Make(warmUp, 300, 100+seed, spread)
			require.NoError(t, err)
			w = w.AfterWarmUp(warm)
		}
		run := func(p workload.Policy) workload.Result {
			r := &workload.Replayer{Seed: seed}
			return r.Run(w, p)
		}
		fixed, back, adapt = fixed.Pool(run(fixed5s)), back.Pool(run(backoff)), adapt.Pool(run(adaptive))
	}
	return fixed, back, adapt
}

// replayMixed runs the fixed 5-second loop and p, replayed by the Replayer
// that replayer returns for each seed, on the mixed workload after a
// warm-up of the same: draws draws pooled.
func replayMixed(t *testing.T, p workload.Policy, replayer func(seed uint64) *workload.Replayer) (fixed, adapt workload.Result) {
	t.Helper()
	for seed := uint64(1); seed <= draws; seed++ {
		w, err := workload.Make(workload.Mixed, 300, seed, spread)
		require.NoError(t, err)
		warm, err := workload.Make(workload.Mixed, 300, 100+seed, spread)
		require.NoError(t, err)
		w = w.AfterWarmUp(warm)
		fixed = fixed.Pool((&workload.Replayer{Seed: seed}).Run(w, fixed5s))
		adapt = adapt.Pool(replayer(seed).Run(w, p))
	}
	return fixed, adapt
}

func logResults(t *testing.T, rs ...workload.Result) {
	t.Helper()
	for _, r := range rs {
		t.Logf("%-9s %-10s calls/gen %5.2f  p50 %4.1fs  p95 %4.1fs  missing %d",
			r.Policy, r.Workload, r.CallsPerGeneration(), r.Lag(0.5).Seconds(), r.Lag(0.95).Seconds(), r.Missing)
	}
}

// TestPacingTargets checks the pacing against the fixed 5-second loop on
// the very same durations, replayed in virtual time.
func TestPacingTargets(t *testing.T) {
	t.Parallel()

	t.Run("mixed providers, warm", func(t *testing.T) {
		t.Parallel()
		fixed, _, adapt := replay(t, workload.Mixed, workload.Mixed)
		logResults(t, fixed, adapt)
		// The targets: at most 60 % of the loop's calls and a p95 no worse
		// than its.
		require.LessOrEqual(t, float64(adapt.Calls), 0.6*float64(fixed.Calls), "at most 60 %% of the fixed loop's calls")
		require.LessOrEqual(t, adapt.Lag(0.95), fixed.Lag(0.95), "p95 lag no worse than the fixed loop's")
		require.Zero(t, adapt.Missing)
	})
	t.Run("no progress (Hoox), warm", func(t *testing.T) {
		t.Parallel()
		fixed, _, adapt := replay(t, workload.NoProgress, workload.NoProgress)
		logResults(t, fixed, adapt)
		require.Less(t, adapt.Calls, fixed.Calls, "fewer calls than the fixed loop")
		require.LessOrEqual(t, adapt.Lag(0.95), fixed.Lag(0.95), "p95 lag no worse than the fixed loop's")
	})
	t.Run("webhooks, some lost, some premature, warm", func(t *testing.T) {
		t.Parallel()
		fixed, _, adapt := replay(t, workload.Webhooks, workload.Webhooks)
		logResults(t, fixed, adapt)
		require.LessOrEqual(t, float64(adapt.Calls), 0.4*float64(fixed.Calls), "at most 40 %% of the fixed loop's calls")
		require.LessOrEqual(t, adapt.Lag(0.5), 1500*time.Millisecond, "p50 lag at most 1.5 s")
		require.LessOrEqual(t, adapt.Lag(0.95), fixed.Lag(0.95), "p95 lag no worse than the fixed loop's")
		require.Zero(t, adapt.Missing, "no generation missing")
	})
	for _, kind := range []workload.Kind{workload.Mixed, workload.Curved, workload.NoProgress} {
		t.Run("cold start, "+string(kind), func(t *testing.T) {
			t.Parallel()
			_, back, adapt := replay(t, kind, "")
			logResults(t, back, adapt)
			require.LessOrEqual(t, adapt.Calls, back.Calls, "no more calls than the backoff")
			require.LessOrEqual(t, adapt.Lag(0.5), back.Lag(0.5), "p50 lag no worse than the backoff's")
			require.LessOrEqual(t, adapt.Lag(0.95), back.Lag(0.95), "p95 lag no worse than the backoff's")
		})
	}
	t.Run("a provider that got slower", func(t *testing.T) {
		t.Parallel()
		fixed, back, adapt := replay(t, workload.Slower, workload.Mixed)
		logResults(t, fixed, back, adapt)
		require.LessOrEqual(t, float64(adapt.Calls), 0.65*float64(fixed.Calls))
		require.LessOrEqual(t, adapt.Lag(0.95), fixed.Lag(0.95)+500*time.Millisecond, "p95 lag within half a second of the fixed loop's")
		require.Less(t, adapt.Lag(0.95), back.Lag(0.95))
	})
	t.Run("hints, a fifth wildly wrong", func(t *testing.T) {
		t.Parallel()
		fixed, _, adapt := replay(t, workload.Hinted, workload.Mixed)
		logResults(t, fixed, adapt)
		require.LessOrEqual(t, float64(adapt.Calls), 0.62*float64(fixed.Calls))
		require.LessOrEqual(t, adapt.Lag(0.95), fixed.Lag(0.95))
	})
}

// TestTargetLagTrades checks the one knob an operator turns to trade calls
// for lag: on the same mixed workload, each longer target_lag makes fewer
// calls and a later p95. Its log is the table in docs/benchmarks.md.
func TestTargetLagTrades(t *testing.T) {
	t.Parallel()
	var prev workload.Result
	for i, lag := range []time.Duration{3500 * time.Millisecond, 4 * time.Second, 4500 * time.Millisecond} {
		p := workload.Policy{Name: "target_lag " + lag.String(), Pace: schedule.Policy{TargetLag: lag}}
		fixed, adapt := replayMixed(t, p, func(seed uint64) *workload.Replayer { return &workload.Replayer{Seed: seed} })
		t.Logf("%-18s calls %4.1f %% of fixed-5s  p50 %.2fs  p95 %.2fs (fixed-5s %.2fs)", p.Name,
			100*float64(adapt.Calls)/float64(fixed.Calls), adapt.Lag(0.5).Seconds(), adapt.Lag(0.95).Seconds(), fixed.Lag(0.95).Seconds())
		if i > 0 {
			require.Less(t, adapt.Calls, prev.Calls, "a longer target_lag makes fewer calls")
			require.Greater(t, adapt.Lag(0.95), prev.Lag(0.95), "and detects later")
		}
		prev = adapt
	}
}

// TestProviderClockSkew replays the mixed workload with the providers'
// updated-at times, in sync with the workers' clock, off it by half a
// second to an hour either way, and left out. The times save calls when
// the clocks agree to about a second; a clock further off is read off the
// polls' brackets of the dated readings only loosely, and its dates then
// weigh little: the pacing falls back to about what the polls alone do.
func TestProviderClockSkew(t *testing.T) {
	t.Parallel()
	run := func(r workload.Replayer) (fixed, adapt workload.Result) {
		return replayMixed(t, adaptive, func(seed uint64) *workload.Replayer {
			r.Seed = seed
			return &r
		})
	}
	share := func(fixed, adapt workload.Result) float64 { return float64(adapt.Calls) / float64(fixed.Calls) }
	fixed, synced := run(workload.Replayer{})
	_, undated := run(workload.Replayer{Undated: true})
	t.Logf("in sync   calls %4.1f %% of fixed-5s  p95 %.2fs (undated: %4.1f %%, %.2fs; fixed-5s %.2fs)",
		100*share(fixed, synced), synced.Lag(0.95).Seconds(), 100*share(fixed, undated), undated.Lag(0.95).Seconds(), fixed.Lag(0.95).Seconds())
	require.Less(t, share(fixed, synced), share(fixed, undated)-0.01, "dated readings save at least a point of calls")
	require.LessOrEqual(t, synced.Lag(0.95), fixed.Lag(0.95), "at a p95 no worse than the fixed loop's")
	for _, skew := range []time.Duration{-time.Hour, -5 * time.Second, -time.Second, 500 * time.Millisecond, 5 * time.Second, time.Hour} {
		_, skewed := run(workload.Replayer{ClockSkew: skew})
		t.Logf("skew %-5s calls %4.1f %% of fixed-5s  p95 %.2fs", skew, 100*share(fixed, skewed), skewed.Lag(0.95).Seconds())
		require.LessOrEqual(t, skewed.Lag(0.95), fixed.Lag(0.95), "p95 no worse than the fixed loop's, whatever the skew")
		require.Less(t, share(fixed, skewed), share(fixed, undated)+0.01, "within a point of the calls without the times")
		if skew.Abs() <= time.Second {
			require.Less(t, share(fixed, skewed), share(fixed, synced)+0.01, "a clock within a second keeps the saving")
		}
	}
}
