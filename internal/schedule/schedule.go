// Package schedule decides, after each status call, whether a generation has
// ended and, if not, when to ask again.
//
// Decide is a pure function of what has been observed so far (History), the
// answer just received (Observation), the deadline, what the fleet has
// learned of similar generations (Durations), the submitter's hint and the
// Policy. It does no I/O and reads no clock, so every rule is table-tested
// here and the poll handler only carries the decision out.
//
// The ending rules, in order:
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
//
// Otherwise the generation is polled again, and when is a composition of
// signals, each a pure piece of its own:
//
//   - The end model (pace.go): a distribution of when the generation ends,
//     given that it has not yet. It blends the prior (the durations learned
//     from earlier generations of the same provider, account and model,
//     with the configured default until enough have ended: durations.go),
//     the submitter's expected_seconds (a lognormal around it, never
//     trusted alone), and, once the provider reports progress, an
//     extrapolation of the progress readings to 100 % (progress.go), which
//     then dominates; a progress estimate that has passed without an
//     ending is stretched, not polled at.
//   - Optimal checking: the next poll lands where the density of polls,
//     proportional to the square root of the end's hazard over the cost of
//     a call (Policy.CallCost), integrates to one from now. Polls are
//     sparse while an ending is unlikely and dense around the expected
//     end. With provider webhooks (Policy.Webhooks) only lost webhooks
//     need a poll, so the hazard is scaled by the share lost, and a
//     webhook that arrived early (the status still says running) makes
//     polls follow it closely.
//   - The backoff (Initial, growing by Multiplier up to Max, with jitter):
//     the whole pace in backoff mode, and the pace after any answer that is
//     not a status (errors, 404s within the grace, refused credentials).
//   - The clamps, last: at least UnauthorizedBackoff while the credentials
//     are refused, at least what Retry-After asks, a 404 polled right when
//     its grace ends, never less than MinInterval, never more than Max (or
//     WebhookMax), and never past the deadline, where one last poll is
//     made.
package schedule

import (
	"math"
	"time"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
)

// MinDelay is the shortest delay Decide returns: asynq schedules in whole
// seconds.
const MinDelay = time.Second

// Sample is one progress reading.
type Sample struct {
	// At is when the reading was first seen.
	At time.Time
	// After is the poll before, when the reading had not yet been reached;
	// zero when unknown.
	After   time.Time
	Percent int
	// Reached is when the provider says the reading was reached (its
	// updated-at time for the generation); zero when it does not say.
	// The provider's clock is read off these times and the polls'
	// brackets, and the times are set aside when they disagree (see
	// readClock).
	Reached time.Time
}

// bracketed reports whether the reading has a poll before it that did not
// see it, earlier than the one that did.
func (s Sample) bracketed() bool { return !s.After.IsZero() && s.After.Before(s.At) }

// History is what has been observed of one generation, including the
// current poll.
type History struct {
	// Polls counts status calls made, this one included.
	Polls int
	// LastPollAt is when the poll before this one was made; zero for the
	// first.
	LastPollAt time.Time
	// HintAt is when a provider webhook last said the generation ended;
	// zero when none did.
	HintAt time.Time
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
	// EnqueuedAt is when tracking started: durations count from it.
	EnqueuedAt time.Time
	History    History
	Observed   Observation
	Policy     Policy
	// Expected is the submitter's estimate of the duration from
	// EnqueuedAt (expected_seconds); zero when none was given.
	Expected time.Duration
	// Prior is what has been learned of similar generations; nil when
	// nothing has.
	Prior *Durations
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
	// Strict is true when Delay is a minimum the provider or the
	// credentials impose (Retry-After, refused credentials): the poll must
	// not run before it. Otherwise the poll may run up to half a second
	// early, to land on asynq's whole-second schedule.
	Strict bool
	// ETA is when the generation is expected to end, when not Done and an
	// estimate could be made.
	ETA time.Time
	// Basis says what shaped Delay and ETA.
	Basis Basis
}

// Decide applies the ending rules and the pacing in the package comment.
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

	d := Decision{Basis: BasisBackoff}
	if obs.Class == providers.ClassNone && p.Mode == ModeAdaptive {
		if in.EnqueuedAt.IsZero() || in.EnqueuedAt.After(in.Now) {
			in.EnqueuedAt = in.Now
		}
		d.Delay, d.ETA, d.Basis = pace(in, p)
		maxGap := p.Max
		if p.Webhooks {
			maxGap = p.WebhookMax
		}
		d.Delay = min(d.Delay, maxGap)
	} else {
		d.Delay = backoff(p, h.Polls, in.Rand)
	}
	if obs.Class == providers.ClassUnauthorized {
		d.Delay = max(d.Delay, p.UnauthorizedBackoff)
		d.Strict = true
	}
	if notFound && !h.NotFoundSince.IsZero() {
		// Look again right when the grace period ends, not a backoff later.
		if untilGraceEnd := h.NotFoundSince.Add(p.NotFoundGrace).Sub(in.Now); untilGraceEnd < d.Delay {
			d.Delay = untilGraceEnd
		}
	}
	if obs.RetryAfter > 0 && obs.RetryAfter >= d.Delay {
		d.Delay, d.Strict = obs.RetryAfter, true
	}
	d.Delay = max(d.Delay, p.MinInterval, MinDelay)
	if untilDeadline := in.Deadline.Sub(in.Now); d.Delay > untilDeadline {
		d.Delay = max(untilDeadline, MinDelay)
	}
	return d
}

// FirstPoll returns how long after in.Now the first status call of a
// generation should wait: zero in backoff mode, else the delay the pacing
// gives before anything is known of it, when that is at least two
// MinIntervals (a generation likely to end within seconds is polled at
// once). Waiting costs a late answer for an unknown ID or refused
// credentials by as much, which the not-found grace absorbs.
func FirstPoll(in Input) time.Duration {
	p := in.Policy.WithDefaults()
	if p.Mode != ModeAdaptive {
		return 0
	}
	if in.EnqueuedAt.IsZero() || in.EnqueuedAt.After(in.Now) {
		in.EnqueuedAt = in.Now
	}
	in.History = History{}
	d, _, _ := pace(in, p)
	if d <= 2*p.MinInterval {
		return 0
	}
	if untilDeadline := in.Deadline.Sub(in.Now); d > untilDeadline {
		return max(untilDeadline, 0)
	}
	return d
}

// Estimate returns when a running generation is expected to end, as Decide
// would estimate it at now, and what the estimate rests on; false when no
// estimate can be made within a day.
func Estimate(in Input) (time.Time, Basis, bool) {
	p := in.Policy.WithDefaults()
	if in.EnqueuedAt.IsZero() || in.EnqueuedAt.After(in.Now) {
		in.EnqueuedAt = in.Now
	}
	m := newEndModel(in, p)
	at, ok := m.median(etaHorizon.Seconds())
	if !ok {
		return time.Time{}, m.basis, false
	}
	return in.EnqueuedAt.Add(time.Duration(at * float64(time.Second))), m.basis, true
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

// backoff is p.Initial·p.Multiplier^(polls-1), capped at p.Max, then
// spread by p.Jitter and capped again.
func backoff(p Policy, polls int, rnd float64) time.Duration {
	n := max(polls-1, 0)
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(n))
	if d > float64(p.Max) || math.IsInf(d, 0) {
		d = float64(p.Max)
	}
	return min(jitter(p, time.Duration(d), rnd), p.Max)
}

// jitter spreads d by up to p.Jitter either way; rnd is uniform in [0, 1).
func jitter(p Policy, d time.Duration, rnd float64) time.Duration {
	if p.Jitter <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + p.Jitter*(2*rnd-1)))
}
