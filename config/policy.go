package config

import (
	"fmt"
	"math"
	"time"
)

// PollMode names how the next poll of a running generation is chosen.
type PollMode string

// The pacing modes.
const (
	// PollAdaptive polls where the generation is likely to end: from its
	// progress, the durations learned from earlier generations of the same
	// provider, account and model, and the submitter's expected_seconds.
	// It is the default.
	PollAdaptive PollMode = "adaptive"
	// PollBackoff polls Initial after the first poll, growing by
	// Multiplier up to Max, whatever the generation reports.
	PollBackoff PollMode = "backoff"
)

// Policy configures polling: the "poll" block of the configuration, and of
// a provider, whose non-zero fields override the global block (Merge). The
// zero value of a field means its default.
type Policy struct {
	// Mode is PollAdaptive or PollBackoff. Default adaptive.
	Mode PollMode `yaml:"mode"`
	// Initial is the delay after the first poll in backoff mode, and after
	// a failed call in either mode. Default 2 s.
	Initial time.Duration `yaml:"initial"`
	// Multiplier grows the backoff delay after each poll. Default 1.5.
	Multiplier float64 `yaml:"multiplier"`
	// Max caps the delay between two polls of a running generation.
	// Default 30 s.
	Max time.Duration `yaml:"max"`
	// Jitter spreads each delay by up to this fraction either way, so that a
	// batch enqueued together does not poll together. Default 0.1; negative
	// disables it.
	Jitter float64 `yaml:"jitter"`
	// NotFoundGrace is how long a 404 is taken for "not visible yet" before
	// the generation ends not_found. Default 2 min.
	NotFoundGrace time.Duration `yaml:"not_found_grace"`
	// UnauthorizedBackoff is the least delay while the provider refuses the
	// credentials. Default 1 min.
	UnauthorizedBackoff time.Duration `yaml:"unauthorized_backoff"`

	// MinInterval is the least delay between two polls. Default 1 s, the
	// resolution of asynq's schedule.
	MinInterval time.Duration `yaml:"min_interval"`
	// CallCost, in adaptive mode, is how much detection lag one status
	// call is worth: larger values poll less and detect later. Polls are
	// placed with a density proportional to the square root of the hazard
	// of the generation's end divided by CallCost. Default 1.5 s.
	CallCost time.Duration `yaml:"call_cost"`
	// TargetLag, in adaptive mode, is the detection lag that polls stay
	// under wherever the generation is likely to end: a gap between two
	// polls is never so long that the chance of ending in its first
	// gap - TargetLag seconds exceeds 3 %. Default 4 s.
	TargetLag time.Duration `yaml:"target_lag"`
	// Expected is the median duration of a generation (from enqueued_at to
	// its end) assumed before any has been seen to end. Default 1 min.
	Expected time.Duration `yaml:"expected"`
	// ExpectedSpread is the spread of that assumed duration: the standard
	// deviation of its logarithm. Default 0.8 (half of all generations
	// between 0.6 and 1.7 times Expected).
	ExpectedSpread float64 `yaml:"expected_spread"`
	// LearnMemory is how many endings the learned durations remember: each
	// ending weighs 1 - 1/LearnMemory of the one before, so a provider that
	// gets slower or faster is followed within about that many endings.
	// Default 50.
	LearnMemory int `yaml:"learn_memory"`

	// Webhooks says that the provider is configured to call genwatch's
	// hook endpoint when a generation ends: polling then becomes a sparse
	// safety net for lost webhooks, denser once the expected end has
	// passed without one. Default false.
	Webhooks bool `yaml:"webhooks"`
	// WebhookLoss is the share of webhooks assumed lost (or premature),
	// which sets how dense the safety net is. Default 0.2.
	WebhookLoss float64 `yaml:"webhook_loss"`
	// WebhookMax caps the delay between two polls while a webhook is
	// awaited. Default 2 min.
	WebhookMax time.Duration `yaml:"webhook_max"`
}

// Policy defaults, which WithDefaults fills in.
const (
	DefaultPollMode                = PollAdaptive
	DefaultPollInitial             = 2 * time.Second
	DefaultPollMultiplier          = 1.5
	DefaultPollMax                 = 30 * time.Second
	DefaultPollJitter              = 0.1
	DefaultPollNotFoundGrace       = 2 * time.Minute
	DefaultPollUnauthorizedBackoff = time.Minute
	DefaultPollMinInterval         = time.Second
	DefaultPollCallCost            = 1500 * time.Millisecond
	DefaultPollTargetLag           = 4 * time.Second
	DefaultPollExpected            = time.Minute
	DefaultPollExpectedSpread      = 0.8
	DefaultPollLearnMemory         = 50
	DefaultPollWebhookLoss         = 0.2
	DefaultPollWebhookMax          = 2 * time.Minute
)

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.Mode == "" {
		p.Mode = DefaultPollMode
	}
	positiveOr(&p.Initial, DefaultPollInitial)
	if p.Multiplier < 1 {
		p.Multiplier = DefaultPollMultiplier
	}
	positiveOr(&p.Max, DefaultPollMax)
	if p.Jitter == 0 {
		p.Jitter = DefaultPollJitter
	}
	positiveOr(&p.NotFoundGrace, DefaultPollNotFoundGrace)
	positiveOr(&p.UnauthorizedBackoff, DefaultPollUnauthorizedBackoff)
	positiveOr(&p.MinInterval, DefaultPollMinInterval)
	positiveOr(&p.CallCost, DefaultPollCallCost)
	positiveOr(&p.TargetLag, DefaultPollTargetLag)
	positiveOr(&p.Expected, DefaultPollExpected)
	positiveOr(&p.ExpectedSpread, DefaultPollExpectedSpread)
	positiveOr(&p.LearnMemory, DefaultPollLearnMemory)
	positiveOr(&p.WebhookLoss, DefaultPollWebhookLoss)
	positiveOr(&p.WebhookMax, DefaultPollWebhookMax)
	return p
}

// positiveOr sets *v to d unless *v is positive.
func positiveOr[T int | float64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Merge returns p with every non-zero field of o taken from o: a
// per-provider override on top of the global policy.
func (p Policy) Merge(o Policy) Policy {
	take := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	takeFloat := func(dst *float64, v float64) {
		if v != 0 {
			*dst = v
		}
	}
	if o.Mode != "" {
		p.Mode = o.Mode
	}
	take(&p.Initial, o.Initial)
	takeFloat(&p.Multiplier, o.Multiplier)
	take(&p.Max, o.Max)
	takeFloat(&p.Jitter, o.Jitter)
	take(&p.NotFoundGrace, o.NotFoundGrace)
	take(&p.UnauthorizedBackoff, o.UnauthorizedBackoff)
	take(&p.MinInterval, o.MinInterval)
	take(&p.CallCost, o.CallCost)
	take(&p.TargetLag, o.TargetLag)
	take(&p.Expected, o.Expected)
	takeFloat(&p.ExpectedSpread, o.ExpectedSpread)
	if o.LearnMemory != 0 {
		p.LearnMemory = o.LearnMemory
	}
	p.Webhooks = p.Webhooks || o.Webhooks
	takeFloat(&p.WebhookLoss, o.WebhookLoss)
	take(&p.WebhookMax, o.WebhookMax)
	return p
}

// Validate reports every field out of range, named by its YAML key under
// path (for example "poll" or "providers.hoox.poll").
func (p Policy) Validate(path string) []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: "+format, append([]any{path, key}, a...)...))
	}
	// YAML can spell NaN and infinity (.nan, .inf); no setting means
	// either, and NaN would slip past every comparison below. Such a field
	// is reported once and left out of the checks below (p is a copy).
	for _, f := range []struct {
		key string
		v   *float64
	}{{"multiplier", &p.Multiplier}, {"jitter", &p.Jitter}, {"expected_spread", &p.ExpectedSpread}, {"webhook_loss", &p.WebhookLoss}} {
		if math.IsNaN(*f.v) || math.IsInf(*f.v, 0) {
			bad(f.key, "must be a finite number, got %v", *f.v)
			*f.v = 0
		}
	}
	switch p.Mode {
	case "", PollAdaptive, PollBackoff:
	default:
		bad("mode", "must be %q or %q, got %q", PollAdaptive, PollBackoff, p.Mode)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"initial", p.Initial}, {"max", p.Max}, {"not_found_grace", p.NotFoundGrace},
		{"unauthorized_backoff", p.UnauthorizedBackoff}, {"min_interval", p.MinInterval},
		{"call_cost", p.CallCost}, {"target_lag", p.TargetLag}, {"expected", p.Expected}, {"webhook_max", p.WebhookMax},
	} {
		if d.v < 0 {
			bad(d.key, "must not be negative, got %s", d.v)
		}
	}
	if p.Multiplier != 0 && p.Multiplier < 1 {
		bad("multiplier", "must be at least 1, got %g", p.Multiplier)
	}
	if p.Initial > 0 && p.Max > 0 && p.Max < p.Initial {
		bad("max", "must not be less than initial (%s), got %s", p.Initial, p.Max)
	}
	if p.MinInterval > 0 && p.Max > 0 && p.Max < p.MinInterval {
		bad("max", "must not be less than min_interval (%s), got %s", p.MinInterval, p.Max)
	}
	if p.ExpectedSpread < 0 || p.ExpectedSpread > 5 {
		bad("expected_spread", "must be between 0 and 5, got %g", p.ExpectedSpread)
	}
	if p.LearnMemory < 0 {
		bad("learn_memory", "must not be negative, got %d", p.LearnMemory)
	}
	if p.WebhookLoss < 0 || p.WebhookLoss > 1 {
		bad("webhook_loss", "must be between 0 and 1, got %g", p.WebhookLoss)
	}
	if p.Jitter >= 1 {
		bad("jitter", "must be less than 1, got %g", p.Jitter)
	}
	return errs
}
