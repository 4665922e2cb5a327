package config

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireNoZeroField fails when a field of p is its zero value, so that a
// field added to Policy without a case here is caught. Webhooks, a bool
// whose default is false, is left out.
func requireNoZeroField(t *testing.T, p Policy) {
	t.Helper()
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if name == "Webhooks" {
			continue
		}
		require.False(t, v.Field(i).IsZero(), "Policy.%s is zero", name)
	}
}

func TestPolicyWithDefaults(t *testing.T) {
	t.Parallel()

	defaults := Policy{
		Mode:                DefaultPollMode,
		Initial:             DefaultPollInitial,
		Multiplier:          DefaultPollMultiplier,
		Max:                 DefaultPollMax,
		Jitter:              DefaultPollJitter,
		NotFoundGrace:       DefaultPollNotFoundGrace,
		UnauthorizedBackoff: DefaultPollUnauthorizedBackoff,
		MinInterval:         DefaultPollMinInterval,
		CallCost:            DefaultPollCallCost,
		TargetLag:           DefaultPollTargetLag,
		Expected:            DefaultPollExpected,
		ExpectedSpread:      DefaultPollExpectedSpread,
		LearnMemory:         DefaultPollLearnMemory,
		WebhookLoss:         DefaultPollWebhookLoss,
		WebhookMax:          DefaultPollWebhookMax,
	}
	requireNoZeroField(t, defaults)
	custom := customPolicy()
	requireNoZeroField(t, custom)

	tests := []struct {
		desc string
		in   Policy
		want Policy
	}{
		{desc: "zero fills every field", in: Policy{}, want: defaults},
		{desc: "set fields are kept", in: custom, want: custom},
		{
			desc: "negative durations and counts are defaults",
			in:   Policy{Initial: -1, Max: -time.Second, MinInterval: -1, CallCost: -1, TargetLag: -1, Expected: -1, NotFoundGrace: -1, UnauthorizedBackoff: -1, WebhookMax: -1, LearnMemory: -5, ExpectedSpread: -0.2, WebhookLoss: -0.1},
			want: defaults,
		},
		{
			desc: "a multiplier under one is the default",
			in:   Policy{Multiplier: 0.5},
			want: defaults,
		},
		{
			desc: "a negative jitter is kept: it disables jitter",
			in:   Policy{Jitter: -1},
			want: func() Policy { p := defaults; p.Jitter = -1; return p }(),
		},
		{
			desc: "one field set, the others filled",
			in:   Policy{Max: 2 * time.Minute, Webhooks: true},
			want: func() Policy { p := defaults; p.Max, p.Webhooks = 2*time.Minute, true; return p }(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got := tt.in.WithDefaults()
			require.Equal(t, tt.want, got)
			require.Equal(t, got, got.WithDefaults(), "WithDefaults is idempotent")
		})
	}
}

func TestPolicyMergeEveryField(t *testing.T) {
	t.Parallel()

	base := Policy{}.WithDefaults()
	override := customPolicy()
	override.Jitter = -1
	requireNoZeroField(t, override)
	// Every field of the override differs from the base, so that a field
	// Merge forgets shows.
	bv, ov := reflect.ValueOf(base), reflect.ValueOf(override)
	for i := range bv.NumField() {
		require.NotEqual(t, bv.Field(i).Interface(), ov.Field(i).Interface(), "Policy.%s", bv.Type().Field(i).Name)
	}

	tests := []struct {
		desc     string
		base     Policy
		override Policy
		want     Policy
	}{
		{desc: "every non-zero field is taken", base: base, override: override, want: override},
		{desc: "a zero override changes nothing", base: base, override: Policy{}, want: base},
		{desc: "onto a zero policy", base: Policy{}, override: override, want: override},
		{
			desc: "one field",
			base: base, override: Policy{TargetLag: time.Second},
			want: func() Policy { p := base; p.TargetLag = time.Second; return p }(),
		},
		{
			desc: "webhooks false does not turn them off",
			base: func() Policy { p := base; p.Webhooks = true; return p }(), override: Policy{Max: time.Minute},
			want: func() Policy { p := base; p.Webhooks, p.Max = true, time.Minute; return p }(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.base.Merge(tt.override))
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()

	type testCase struct {
		desc   string
		policy Policy
		// want holds one substring per error expected, in order.
		want []string
	}
	tests := []testCase{
		{desc: "zero is valid", policy: Policy{}},
		{desc: "defaults are valid", policy: Policy{}.WithDefaults()},
		{desc: "negative jitter is valid", policy: Policy{Jitter: -1}},
		{desc: "webhook loss of one is valid", policy: Policy{WebhookLoss: 1}},
		{desc: "max equal to initial is valid", policy: Policy{Initial: 5 * time.Second, Max: 5 * time.Second}},
		{desc: "bad mode", policy: Policy{Mode: "fast"}, want: []string{`poll.mode: must be "adaptive" or "backoff", got "fast"`}},
		{desc: "multiplier under one", policy: Policy{Multiplier: 0.5}, want: []string{"poll.multiplier: must be at least 1"}},
		{desc: "negative multiplier", policy: Policy{Multiplier: -2}, want: []string{"poll.multiplier: must be at least 1"}},
		{desc: "max under initial", policy: Policy{Initial: 10 * time.Second, Max: 5 * time.Second}, want: []string{"poll.max: must not be less than initial"}},
		{desc: "max under min_interval", policy: Policy{MinInterval: 10 * time.Second, Max: 5 * time.Second}, want: []string{"poll.max: must not be less than min_interval"}},
		{desc: "webhook_loss negative", policy: Policy{WebhookLoss: -0.1}, want: []string{"poll.webhook_loss: must be between 0 and 1"}},
		{desc: "webhook_loss over one", policy: Policy{WebhookLoss: 1.5}, want: []string{"poll.webhook_loss: must be between 0 and 1"}},
		{desc: "expected_spread over five", policy: Policy{ExpectedSpread: 6}, want: []string{"poll.expected_spread: must be between 0 and 5"}},
		{desc: "negative learn_memory", policy: Policy{LearnMemory: -1}, want: []string{"poll.learn_memory: must not be negative"}},
		{desc: "jitter of one", policy: Policy{Jitter: 1}, want: []string{"poll.jitter: must be less than 1"}},
		{
			desc:   "every problem is reported",
			policy: Policy{Mode: "fast", Initial: -time.Second, Multiplier: 0.5, WebhookLoss: 2},
			want:   []string{"poll.mode:", "poll.initial: must not be negative", "poll.multiplier:", "poll.webhook_loss:"},
		},
		{
			desc:   "a NaN does not hide the other problems",
			policy: Policy{Multiplier: math.NaN(), Mode: "fast", Initial: -time.Second},
			want:   []string{"poll.multiplier: must be a finite number, got NaN", "poll.mode:", "poll.initial: must not be negative"},
		},
		{
			desc:   "several non-finite floats are each reported once",
			policy: Policy{Jitter: math.Inf(1), WebhookLoss: math.NaN()},
			want:   []string{"poll.jitter: must be a finite number, got +Inf", "poll.webhook_loss: must be a finite number, got NaN"},
		},
	}
	durations := map[string]func(*Policy) *time.Duration{
		"initial":              func(p *Policy) *time.Duration { return &p.Initial },
		"max":                  func(p *Policy) *time.Duration { return &p.Max },
		"not_found_grace":      func(p *Policy) *time.Duration { return &p.NotFoundGrace },
		"unauthorized_backoff": func(p *Policy) *time.Duration { return &p.UnauthorizedBackoff },
		"min_interval":         func(p *Policy) *time.Duration { return &p.MinInterval },
		"call_cost":            func(p *Policy) *time.Duration { return &p.CallCost },
		"target_lag":           func(p *Policy) *time.Duration { return &p.TargetLag },
		"expected":             func(p *Policy) *time.Duration { return &p.Expected },
		"webhook_max":          func(p *Policy) *time.Duration { return &p.WebhookMax },
	}
	for key, field := range durations {
		var p Policy
		*field(&p) = -time.Second
		tests = append(tests, testCase{desc: "negative " + key, policy: p, want: []string{"poll." + key + ": must not be negative, got -1s"}})
	}
	floats := map[string]func(*Policy) *float64{
		"multiplier":      func(p *Policy) *float64 { return &p.Multiplier },
		"jitter":          func(p *Policy) *float64 { return &p.Jitter },
		"expected_spread": func(p *Policy) *float64 { return &p.ExpectedSpread },
		"webhook_loss":    func(p *Policy) *float64 { return &p.WebhookLoss },
	}
	for key, field := range floats {
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			var p Policy
			*field(&p) = v
			tests = append(tests, testCase{desc: key + " " + formatFloat(v), policy: p, want: []string{"poll." + key + ": must be a finite number"}})
		}
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			errs := tt.policy.Validate("poll")
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
			}
			require.Len(t, got, len(tt.want), "errors: %q", got)
			for i, want := range tt.want {
				require.Contains(t, got[i], want)
			}
		})
	}

	t.Run("the path prefixes every key", func(t *testing.T) {
		t.Parallel()
		errs := Policy{Initial: -time.Second, Mode: "x"}.Validate("providers.hoox.poll")
		require.Len(t, errs, 2)
		for _, err := range errs {
			require.True(t, strings.HasPrefix(err.Error(), "providers.hoox.poll."), err.Error())
		}
	})
}

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	default:
		return "-Inf"
	}
}

// customPolicy sets every field of a Policy to a value of its own, none
// the default.
func customPolicy() Policy {
	return Policy{
		Mode:                PollBackoff,
		Initial:             3 * time.Second,
		Multiplier:          2,
		Max:                 time.Minute,
		Jitter:              0.3,
		NotFoundGrace:       5 * time.Minute,
		UnauthorizedBackoff: 10 * time.Minute,
		MinInterval:         2 * time.Second,
		CallCost:            4 * time.Second,
		TargetLag:           7 * time.Second,
		Expected:            3 * time.Minute,
		ExpectedSpread:      0.4,
		LearnMemory:         200,
		Webhooks:            true,
		WebhookLoss:         0.05,
		WebhookMax:          10 * time.Minute,
	}
}
