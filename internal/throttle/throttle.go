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

import "time"

// Limit is a rate limit: PerSecond requests a second, with bursts of up
// to Burst. The zero Limit means none.
type Limit struct {
	PerSecond int `yaml:"per_second"`
	// Burst defaults to PerSecond.
	Burst int `yaml:"burst"`
}

// BreakerConfig configures the circuit breakers. The zero value of a
// field means its default.
type BreakerConfig struct {
	// Failures is how many transient failures in a row open the circuit.
	// Default 5.
	Failures uint32 `yaml:"failures"`
	// OpenFor is how long an open circuit lets nothing through before it
	// probes. Default 30 s.
	OpenFor time.Duration `yaml:"open_for"`
	// Probes is how many calls a half-open circuit lets through; all must
	// succeed to close it. Default 3.
	Probes uint32 `yaml:"probes"`
}

// WithDefaults fills the zero fields.
func (c BreakerConfig) WithDefaults() BreakerConfig {
	if c.Failures == 0 {
		c.Failures = 5
	}
	if c.OpenFor <= 0 {
		c.OpenFor = 30 * time.Second
	}
	if c.Probes == 0 {
		c.Probes = 3
	}
	return c
}

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
