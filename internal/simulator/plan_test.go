package simulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers/hoox"
)

func TestAutoPlan(t *testing.T) {
	t.Parallel()

	hashed := autoPlan("job-1", Plan{})
	require.Equal(t, hashed, autoPlan("job-1", Plan{}), "the same ID gives the same plan")
	require.NotEqual(t, hashed, autoPlan("job-2", Plan{}), "IDs vary the plan")

	base := Plan{PendingFor: time.Second, RunFor: 2 * time.Second}
	tests := []struct {
		desc string
		id   string
		base Plan
		want Plan
	}{
		{"plain", "job-1", base, base},
		{"fail-", "fail-1", base, Plan{
			PendingFor: time.Second, RunFor: 2 * time.Second, Outcome: Fail,
			FailCode: "content_policy_violation", FailMessage: "The prompt was flagged by the content policy.",
		}},
		{"fail- keeps a configured failure", "fail-1", Plan{FailMessage: "boom"}, Plan{Outcome: Fail, FailMessage: "boom"}},
		{"never-", "never-1", base, Plan{PendingFor: time.Second, RunFor: 2 * time.Second, Outcome: Never}},
		{"missing-", "missing-1", base, Plan{HiddenFor: Forever, PendingFor: time.Second, RunFor: 2 * time.Second}},
		{"slow-", "slow-1", base, Plan{PendingFor: 10 * time.Second, RunFor: 20 * time.Second}},
		{"slow- saturates", "slow-1", Plan{PendingFor: Forever / 2}, Plan{PendingFor: Forever}},
		{"late-", "late-1", base, Plan{HiddenFor: 5 * time.Second, PendingFor: time.Second, RunFor: 2 * time.Second}},
		{"late- keeps a longer hiding", "late-1", Plan{HiddenFor: time.Minute}, Plan{HiddenFor: time.Minute}},
		{"stacked", "slow-late-never-1", base, Plan{HiddenFor: 5 * time.Second, PendingFor: 10 * time.Second, RunFor: 20 * time.Second, Outcome: Never}},
		{"only at the start", "job-fail-1", base, base},
		{"case matters", "FAIL-1", base, base},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, autoPlan(tt.id, tt.base))
		})
	}
}

func TestAutoPlanTimings(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "b", "job-1", "job-2", "x/y", ""} {
		p := autoPlan(id, Plan{})
		require.GreaterOrEqual(t, p.PendingFor, time.Second, id)
		require.Less(t, p.PendingFor, 3*time.Second, id)
		require.GreaterOrEqual(t, p.RunFor, 3*time.Second, id)
		require.Less(t, p.RunFor, 8*time.Second, id)
	}
}

func TestStateAt(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		desc string
		plan Plan
		at   time.Duration
		want state
	}{
		{"zero plan is done at once", Plan{}, 0, state{phaseCompleted, 100, created}},
		{"hidden", Plan{HiddenFor: time.Second}, 0, state{phaseHidden, 0, created}},
		{"pending", Plan{PendingFor: time.Second}, 0, state{phasePending, 0, created}},
		{"running since the last percent", Plan{RunFor: 100 * time.Second}, 42500 * time.Millisecond, state{phaseRunning, 42, created.Add(42 * time.Second)}},
		{"failed", Plan{RunFor: time.Second, Outcome: Fail}, time.Hour, state{phaseFailed, 0, created.Add(time.Second)}},
		{"never stops at 99", Plan{RunFor: time.Second, Outcome: Never}, time.Hour, state{phaseRunning, 99, created.Add(990 * time.Millisecond)}},
		{"never without a run time", Plan{Outcome: Never}, time.Hour, state{phaseRunning, 0, created}},
		{"a slow start", Plan{RunFor: 100 * time.Second, Curve: 2}, 50 * time.Second, state{phaseRunning, 25, created.Add(50 * time.Second)}},
		{"a fast start", Plan{RunFor: 100 * time.Second, Curve: 0.5}, 25 * time.Second, state{phaseRunning, 50, created.Add(25 * time.Second)}},
		{"coarse steps", Plan{RunFor: 100 * time.Second, Step: 25}, 74 * time.Second, state{phaseRunning, 50, created.Add(50 * time.Second)}},
		{"a plateau at 99", Plan{RunFor: 10 * time.Second, StallFor: time.Minute}, time.Minute, state{phaseRunning, 99, created.Add(9900 * time.Millisecond)}},
		{"ends after the plateau", Plan{RunFor: 10 * time.Second, StallFor: time.Minute}, 70 * time.Second, state{phaseCompleted, 100, created.Add(70 * time.Second)}},
		{"frozen progress", Plan{RunFor: 100 * time.Second, Frozen: true}, 90 * time.Second, state{phaseRunning, 0, created}},
		{"forever pending", Plan{PendingFor: Forever, RunFor: Forever}, 100000 * time.Hour, state{phasePending, 0, created}},
		{"negative durations are zero", Plan{HiddenFor: -time.Second, PendingFor: -time.Second}, 0, state{phaseCompleted, 100, created}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			g := newGeneration(hoox.Definition(), "gen-1", tt.plan, created)
			require.Equal(t, tt.want, g.stateAt(created.Add(tt.at)))
		})
	}
}
