// Package throttle keeps a worker fleet from hammering a provider account.
//
// Before each status call the poll handler asks the account's guard
// (package guard, which holds the breaker and the rate limiter) for
// admission; a poll that is not admitted is rescheduled, not counted as a
// failure and not sent. Three mechanisms, from cheapest to dearest:
//
//   - Pauses, fleet-wide and free per poll: when a provider answers 429 with
//     Retry-After, the worker records the pause in Redis and publishes it;
//     every worker keeps the current pauses in memory, fed by that channel,
//     so checking one costs no round trip.
//   - A circuit breaker per account, in each worker: after a run of
//     transient failures (5xx, timeouts, unreadable answers) it opens and
//     lets no call through until it has waited, then lets a few probes
//     through and closes again once they succeed.
//   - A rate limit per account, shared by the fleet (GCRA in Redis, via
//     go-redis/redis_rate): one round trip a poll, paid only by accounts
//     that configure one.
package throttle

import (
	"time"

	"github.com/genwatch/genwatch/config"
)

// Limit is the rate limit of a provider account, config.Limit.
type Limit = config.Limit

// BreakerConfig configures the circuit breakers, config.Breaker.
type BreakerConfig = config.Breaker

// Deferred says why a poll was not admitted and when to try again.
type Deferred struct {
	Delay  time.Duration
	Reason string
	// Breaker is true when the circuit is open: the provider is failing,
	// which the generation's deadline must still see.
	Breaker bool
}

// Permit is an admitted call; its guard reports the call's outcome
// through it.
type Permit struct {
	done func(err error)
}

// NewPermit returns a permit whose outcome goes to done (nil for a
// success), once.
func NewPermit(done func(err error)) *Permit { return &Permit{done: done} }

// End reports the call's outcome: nil for a success.
func (p *Permit) End(err error) {
	if p != nil && p.done != nil {
		p.done(err)
		p.done = nil
	}
}
