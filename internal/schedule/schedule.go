// Package schedule decides, after each status call, whether a generation has
// ended and, if not, when to ask again.
//
// Decide is a pure function of what has been observed so far (History), the
// answer just received (Observation), the deadline and the Policy. It does
// no I/O and reads no clock, so every rule is table-tested here and the poll
// handler only carries the decision out.
//
// The rules, in order:
//
//  1. The provider says completed or failed: the generation ends with that
//     status.
//  2. The provider has not known the ID for NotFoundGrace: it ends failed
//     with code not_found. A fresh ID may take a moment to become visible,
//     hence the grace period.
//  3. The deadline has passed: it ends timed_out, with a code that says what
//     was going on: still running (timed_out), credentials refused
//     (unauthorized), or errors since the provider last answered, at least
//     UnavailableAfter in a row or from the start (provider_unavailable); or
//     it ends failed with not_found if the ID was still unknown.
//  4. Otherwise poll again: exponential backoff from Initial by Multiplier
//     up to Max, with jitter, at least UnauthorizedBackoff while the
//     credentials are refused, at least what Retry-After asks, and never
//     past the deadline, where one last poll is made.
package schedule

import (
	"math"
	"time"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
)

// Policy configures polling. The zero value of a field means its default.
type Policy struct {
	// Initial is the delay after the first poll. Default 2 s.
	Initial time.Duration `yaml:"initial"`
	// Multiplier grows the delay after each poll. Default 1.5.
	Multiplier float64 `yaml:"multiplier"`
	// Max caps the delay. Default 30 s.
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
}

// Policy defaults.
const (
	DefaultInitial             = 2 * time.Second
	DefaultMultiplier          = 1.5
	DefaultMax                 = 30 * time.Second
	DefaultJitter              = 0.1
	DefaultNotFoundGrace       = 2 * time.Minute
	DefaultUnauthorizedBackoff = time.Minute
)

// MinDelay is the shortest delay Decide returns: asynq schedules in whole
// seconds.
const MinDelay = time.Second

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = DefaultInitial
	}
	if p.Multiplier < 1 {
		p.Multiplier = DefaultMultiplier
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	if p.NotFoundGrace <= 0 {
		p.NotFoundGrace = DefaultNotFoundGrace
	}
	if p.UnauthorizedBackoff <= 0 {
		p.UnauthorizedBackoff = DefaultUnauthorizedBackoff
	}
	return p
}

// Merge returns p with every non-zero field of o taken from o: a
// per-provider override on top of the global policy.
func (p Policy) Merge(o Policy) Policy {
	if o.Initial != 0 {
		p.Initial = o.Initial
	}
	if o.Multiplier != 0 {
		p.Multiplier = o.Multiplier
	}
	if o.Max != 0 {
		p.Max = o.Max
	}
	if o.Jitter != 0 {
		p.Jitter = o.Jitter
	}
	if o.NotFoundGrace != 0 {
		p.NotFoundGrace = o.NotFoundGrace
	}
	if o.UnauthorizedBackoff != 0 {
		p.UnauthorizedBackoff = o.UnauthorizedBackoff
	}
	return p
}

// Sample is one progress reading.
type Sample struct {
	At      time.Time
	Percent int
}

// History is what has been observed of one generation, including the
// current poll.
type History struct {
	// Polls counts status calls made, this one included.
	Polls int
	// NotFoundSince, UnauthorizedSince and FailingSince start the current
	// unbroken run of answers of that class; zero when the last answer was
	// of another class.
	NotFoundSince     time.Time
	UnauthorizedSince time.Time
	FailingSince      time.Time
	// Failures counts the current unbroken run of transient failures
	// (errors, unreadable answers, an open circuit), this poll included.
	Failures int
	// Answered is true once the provider has answered with a status.
	Answered bool
	// Progress holds the most recent progress readings, oldest first.
	Progress []Sample
}

// Observation is the answer to the current status call.
type Observation struct {
	// Class is the error class; ClassNone when the provider answered.
	Class providers.Class
	// State is the normalized provider state when Class is ClassNone.
	State providers.State
	// RetryAfter is how long the provider asked us to wait, if it did.
	RetryAfter time.Duration
}

// Input is everything Decide looks at.
type Input struct {
	Now      time.Time
	Deadline time.Time
	History  History
	Observed Observation
	Policy   Policy
	// Rand is a uniform number in [0, 1) for jitter; 0.5 means none.
	Rand float64
}

// Decision is what to do after a poll.
type Decision struct {
	// Done is true when the generation has ended.
	Done bool
	// Status and Code say how it ended, when Done. Code is empty for
	// completed.
	Status genwatch.Status
	Code   string
	// Delay is when to poll again, when not Done.
	Delay time.Duration
}

// Decide applies the rules in the package comment.
func Decide(in Input) Decision {
	p := in.Policy.WithDefaults()
	obs, h := in.Observed, in.History

	if obs.Class == providers.ClassNone {
		switch obs.State {
		case providers.StateCompleted:
			return Decision{Done: true, Status: genwatch.StatusCompleted}
		case providers.StateFailed:
			return Decision{Done: true, Status: genwatch.StatusFailed, Code: genwatch.CodeGenerationFailed}
		}
	}
	notFound := obs.Class == providers.ClassNotFound
	if notFound && !h.NotFoundSince.IsZero() && in.Now.Sub(h.NotFoundSince) >= p.NotFoundGrace {
		return Decision{Done: true, Status: genwatch.StatusFailed, Code: genwatch.CodeNotFound}
	}
	if !in.Now.Before(in.Deadline) {
		return atDeadline(obs.Class, h)
	}

	delay := p.backoff(h.Polls, in.Rand)
	if obs.Class == providers.ClassUnauthorized {
		delay = max(delay, p.UnauthorizedBackoff)
	}
	if notFound && !h.NotFoundSince.IsZero() {
		// Look again right when the grace period ends, not a backoff later.
		if untilGraceEnd := h.NotFoundSince.Add(p.NotFoundGrace).Sub(in.Now); untilGraceEnd < delay {
			delay = untilGraceEnd
		}
	}
	delay = max(delay, obs.RetryAfter, MinDelay)
	if untilDeadline := in.Deadline.Sub(in.Now); delay > untilDeadline {
		delay = max(untilDeadline, MinDelay)
	}
	return Decision{Delay: delay}
}

// UnavailableAfter is how many transient failures in a row make a
// generation that reaches its deadline provider_unavailable rather than
// timed_out: one failed call at the deadline says little about a job the
// provider reported running until then.
const UnavailableAfter = 3

func atDeadline(class providers.Class, h History) Decision {
	if (class == providers.ClassTransient || class == providers.ClassRateLimited) && h.Answered && h.Failures < UnavailableAfter {
		class = providers.ClassNone
	}
	switch class {
	case providers.ClassNotFound:
		return Decision{Done: true, Status: genwatch.StatusFailed, Code: genwatch.CodeNotFound}
	case providers.ClassUnauthorized:
		return Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeUnauthorized}
	case providers.ClassRateLimited, providers.ClassTransient:
		return Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeProviderUnavailable}
	default:
		return Decision{Done: true, Status: genwatch.StatusTimedOut, Code: genwatch.CodeTimedOut}
	}
}

// backoff is Initial·Multiplier^(polls-1), capped at Max, then spread by
// Jitter and capped again.
func (p Policy) backoff(polls int, rnd float64) time.Duration {
	n := max(polls-1, 0)
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(n))
	if d > float64(p.Max) || math.IsInf(d, 0) {
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*rnd-1)
	}
	return min(time.Duration(d), p.Max)
}
