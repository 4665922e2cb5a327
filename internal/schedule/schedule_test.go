package schedule_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/schedule"
)

func TestDecide(t *testing.T) {
	t.Parallel()

	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	noJitter := schedule.Policy{Mode: schedule.ModeBackoff, Jitter: -1}
	running := schedule.Observation{State: providers.StateRunning}
	deadline := at(30 * time.Minute)

	tests := []struct {
		desc     string
		now      time.Time
		deadline time.Time
		history  schedule.History
		observed schedule.Observation
		policy   schedule.Policy
		rand     float64
		want     schedule.Decision
	}{
		{
			desc:     "completed ends the generation",
			history:  schedule.History{Polls: 3},
			observed: schedule.Observation{State: providers.StateCompleted},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusCompleted},
		},
		{
			desc:     "failed ends with generation_failed",
			history:  schedule.History{Polls: 1},
			observed: schedule.Observation{State: providers.StateFailed},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusFailed, Code: genwatch.CodeGenerationFailed},
		},
		{
			desc:     "completed after the deadline is still completed",
			now:      at(31 * time.Minute),
			history:  schedule.History{Polls: 70},
			observed: schedule.Observation{State: providers.StateCompleted},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusCompleted},
		},
		{
			desc:     "first poll waits Initial",
			history:  schedule.History{Polls: 1},
			observed: schedule.Observation{State: providers.StatePending},
			policy:   noJitter,
			want:     schedule.Decision{Delay: 2 * time.Second},
		},
		{
			desc:     "second poll grows by the multiplier",
			history:  schedule.History{Polls: 2},
			observed: running,
			policy:   noJitter,
			want:     schedule.Decision{Delay: 3 * time.Second},
		},
		{
			desc:     "fifth poll is 2s*1.5^4",
			history:  schedule.History{Polls: 5},
			observed: running,
			policy:   noJitter,
			want:     schedule.Decision{Delay: 10125 * time.Millisecond},
		},
		{
			desc:     "backoff is capped at Max",
			history:  schedule.History{Polls: 40},
			observed: running,
			policy:   noJitter,
			want:     schedule.Decision{Delay: 30 * time.Second},
		},
		{
			desc:     "a huge poll count does not overflow",
			history:  schedule.History{Polls: 1 << 30},
			observed: running,
			policy:   noJitter,
			want:     schedule.Decision{Delay: 30 * time.Second},
		},
		{
			desc:     "jitter at its low end shortens the delay",
			history:  schedule.History{Polls: 2},
			observed: running,
			policy:   schedule.Policy{Mode: schedule.ModeBackoff},
			rand:     0,
			want:     schedule.Decision{Delay: 2700 * time.Millisecond},
		},
		{
			desc:     "jitter at its high end never passes Max",
			history:  schedule.History{Polls: 40},
			observed: running,
			policy:   schedule.Policy{Mode: schedule.ModeBackoff},
			rand:     0.999,
			want:     schedule.Decision{Delay: 30 * time.Second},
		},
		{
			desc:     "per-provider policy applies",
			history:  schedule.History{Polls: 2},
			observed: running,
			policy:   schedule.Policy{Mode: schedule.ModeBackoff, Initial: 5 * time.Second, Multiplier: 2, Max: time.Minute, Jitter: -1},
			want:     schedule.Decision{Delay: 10 * time.Second},
		},
		{
			desc:     "Retry-After longer than the backoff wins",
			history:  schedule.History{Polls: 1, FailingSince: start},
			observed: schedule.Observation{Class: providers.ClassRateLimited, RetryAfter: 17 * time.Second},
			policy:   noJitter,
			want:     schedule.Decision{Delay: 17 * time.Second, Strict: true},
		},
		{
			desc:     "Retry-After shorter than the backoff does not shorten it",
			history:  schedule.History{Polls: 9, FailingSince: start},
			observed: schedule.Observation{Class: providers.ClassRateLimited, RetryAfter: time.Second},
			policy:   noJitter,
			want:     schedule.Decision{Delay: 30 * time.Second},
		},
		{
			desc:     "Retry-After on a 503 is honoured too",
			history:  schedule.History{Polls: 1, FailingSince: start},
			observed: schedule.Observation{Class: providers.ClassTransient, RetryAfter: 12 * time.Second},
			policy:   noJitter,
			want:     schedule.Decision{Delay: 12 * time.Second, Strict: true},
		},
		{
			desc:     "transient errors back off like a running job",
			history:  schedule.History{Polls: 3, FailingSince: start},
			observed: schedule.Observation{Class: providers.ClassTransient},
			policy:   noJitter,
			want:     schedule.Decision{Delay: 4500 * time.Millisecond},
		},
		{
			desc:     "unauthorized waits at least UnauthorizedBackoff",
			history:  schedule.History{Polls: 1, UnauthorizedSince: start},
			observed: schedule.Observation{Class: providers.ClassUnauthorized},
			policy:   noJitter,
			want:     schedule.Decision{Delay: time.Minute, Strict: true},
		},
		{
			desc:     "not found within the grace period polls again",
			now:      at(30 * time.Second),
			history:  schedule.History{Polls: 2, NotFoundSince: start},
			observed: schedule.Observation{Class: providers.ClassNotFound},
			policy:   noJitter,
			want:     schedule.Decision{Delay: 3 * time.Second},
		},
		{
			desc:     "not found near the end of the grace polls right at its end",
			now:      at(2*time.Minute - 4*time.Second),
			history:  schedule.History{Polls: 9, NotFoundSince: start},
			observed: schedule.Observation{Class: providers.ClassNotFound},
			policy:   noJitter,
			want:     schedule.Decision{Delay: 4 * time.Second},
		},
		{
			desc:     "not found for the whole grace period ends not_found",
			now:      at(2 * time.Minute),
			history:  schedule.History{Polls: 10, NotFoundSince: start},
			observed: schedule.Observation{Class: providers.ClassNotFound},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusFailed, Code: genwatch.CodeNotFound},
		},
		{
			desc:     "not found grace is configurable",
			now:      at(10 * time.Second),
			history:  schedule.History{Polls: 3, NotFoundSince: start},
			observed: schedule.Observation{Class: providers.ClassNotFound},
			policy:   schedule.Policy{NotFoundGrace: 10 * time.Second},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusFailed, Code: genwatch.CodeNotFound},
		},
		{
			desc:     "still running at the deadline ends timed_out",
			now:      deadline,
			history:  schedule.History{Polls: 80},
			observed: running,
			want:     schedule.Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeTimedOut},
		},
		{
			desc:     "unauthorized at the deadline ends unauthorized",
			now:      deadline,
			history:  schedule.History{Polls: 30, UnauthorizedSince: start},
			observed: schedule.Observation{Class: providers.ClassUnauthorized},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeUnauthorized},
		},
		{
			desc:     "provider errors at the deadline end provider_unavailable",
			now:      deadline.Add(time.Second),
			history:  schedule.History{Polls: 80, FailingSince: start},
			observed: schedule.Observation{Class: providers.ClassTransient},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeProviderUnavailable},
		},
		{
			desc:     "one failed call at the deadline of a running job is timed_out",
			now:      deadline,
			history:  schedule.History{Polls: 80, FailingSince: deadline, Failures: 1, Answered: true},
			observed: schedule.Observation{Class: providers.ClassTransient},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeTimedOut},
		},
		{
			desc:     "errors in a row since the provider last answered are provider_unavailable",
			now:      deadline,
			history:  schedule.History{Polls: 80, FailingSince: deadline.Add(-time.Minute), Failures: schedule.UnavailableAfter, Answered: true},
			observed: schedule.Observation{Class: providers.ClassTransient},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeProviderUnavailable},
		},
		{
			desc:     "rate limited at the deadline ends provider_unavailable",
			now:      deadline,
			history:  schedule.History{Polls: 80, FailingSince: start},
			observed: schedule.Observation{Class: providers.ClassRateLimited, RetryAfter: time.Minute},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeProviderUnavailable},
		},
		{
			desc:     "a deadline shorter than the grace ends not_found at the deadline",
			now:      at(time.Minute),
			deadline: at(time.Minute),
			history:  schedule.History{Polls: 5, NotFoundSince: start},
			observed: schedule.Observation{Class: providers.ClassNotFound},
			want:     schedule.Decision{Done: true, Status: genwatch.StatusFailed, Code: genwatch.CodeNotFound},
		},
		{
			desc:     "the last poll lands on the deadline",
			now:      deadline.Add(-5 * time.Second),
			history:  schedule.History{Polls: 70},
			observed: running,
			policy:   noJitter,
			want:     schedule.Decision{Delay: 5 * time.Second},
		},
		{
			desc:     "Retry-After past the deadline still polls at the deadline",
			now:      deadline.Add(-5 * time.Second),
			history:  schedule.History{Polls: 70, FailingSince: start},
			observed: schedule.Observation{Class: providers.ClassRateLimited, RetryAfter: time.Hour},
			want:     schedule.Decision{Delay: 5 * time.Second, Strict: true},
		},
		{
			desc:     "never less than MinDelay, even just before the deadline",
			now:      deadline.Add(-100 * time.Millisecond),
			history:  schedule.History{Polls: 70},
			observed: running,
			want:     schedule.Decision{Delay: schedule.MinDelay},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			in := schedule.Input{
				Now:      tt.now,
				Deadline: tt.deadline,
				History:  tt.history,
				Observed: tt.observed,
				Policy:   tt.policy,
				Rand:     tt.rand,
			}
			if in.Now.IsZero() {
				in.Now = start
			}
			if in.Deadline.IsZero() {
				in.Deadline = deadline
			}
			if diff := cmp.Diff(tt.want, schedule.Decide(in), cmpopts.IgnoreFields(schedule.Decision{}, "ETA", "Basis")); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyMerge(t *testing.T) {
	t.Parallel()
	base := schedule.Policy{}.WithDefaults()
	got := base.Merge(schedule.Policy{Max: time.Minute, NotFoundGrace: 5 * time.Minute})
	want := base
	want.Max = time.Minute
	want.NotFoundGrace = 5 * time.Minute
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge() mismatch (-want +got):\n%s", diff)
	}
}
