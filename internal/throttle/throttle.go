// Package throttle keeps a worker fleet from hammering a provider account.
//
// Before each status call the poll handler asks the account's Guard for
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
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/sony/gobreaker/v2"

	"github.com/genwatch/genwatch/internal/providers"
)

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

// GuardConfig configures one account's Guard.
type GuardConfig struct {
	// Key names the account fleet-wide: "<provider>/<account>".
	Key string
	// Limit is the fleet-wide rate limit; zero means none.
	Limit Limit
	// Limiter enforces Limit; required when Limit is set.
	Limiter *redis_rate.Limiter
	// Pauses is the fleet-wide pause board; required.
	Pauses *Pauses
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig
	// OnStateChange, if set, is told when the circuit opens or closes.
	OnStateChange func(key string, from, to gobreaker.State)
	// Now tells the time. If nil, time.Now. (The breaker keeps its own
	// time.)
	Now func() time.Time
}

// Guard admits or defers the status calls of one provider account. It is
// safe for concurrent use.
type Guard struct {
	cfg     GuardConfig
	limit   redis_rate.Limit
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// NewGuard returns the Guard of one account.
func NewGuard(cfg GuardConfig) *Guard {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Breaker = cfg.Breaker.WithDefaults()
	g := &Guard{cfg: cfg}
	if cfg.Limit.PerSecond > 0 {
		burst := cfg.Limit.Burst
		if burst <= 0 {
			burst = cfg.Limit.PerSecond
		}
		g.limit = redis_rate.Limit{Rate: cfg.Limit.PerSecond, Burst: burst, Period: time.Second}
	}
	failures := cfg.Breaker.Failures
	g.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        cfg.Key,
		MaxRequests: cfg.Breaker.Probes,
		Timeout:     cfg.Breaker.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if cfg.OnStateChange != nil {
				cfg.OnStateChange(name, from, to)
			}
		},
	})
	return g
}

// Deferred says why a poll was not admitted and when to try again.
type Deferred struct {
	Delay  time.Duration
	Reason string
	// Breaker is true when the circuit is open: the provider is failing,
	// which the generation's deadline must still see.
	Breaker bool
}

// Permit is an admitted call; report its outcome with Done.
type Permit struct {
	done func(err error)
}

var errTransient = errors.New("transient provider failure")

// breakerRetry is how soon a poll deferred by an open circuit asks again;
// the circuit's own timer decides when a probe goes through.
const breakerRetry = 5 * time.Second

// Admit admits a status call, or defers it. An error means the rate limit
// could not be checked (Redis is unreachable).
func (g *Guard) Admit(ctx context.Context) (*Permit, *Deferred, error) {
	now := g.cfg.Now()
	if until := g.cfg.Pauses.Until(g.cfg.Key); until.After(now) {
		d := until.Sub(now)
		return nil, &Deferred{Delay: d, Reason: fmt.Sprintf("provider asked to pause (429) for %s", d.Round(time.Second))}, nil
	}
	if g.breaker.State() == gobreaker.StateOpen {
		return nil, g.openCircuit(), nil
	}
	if !g.limit.IsZero() {
		res, err := g.cfg.Limiter.Allow(ctx, "genwatch:rate:"+g.cfg.Key, g.limit)
		if err != nil {
			return nil, nil, fmt.Errorf("rate limit %s: %w", g.cfg.Key, err)
		}
		if res.Allowed == 0 {
			return nil, &Deferred{
				Delay:  max(res.RetryAfter, 0),
				Reason: fmt.Sprintf("rate limited by genwatch (%d/s)", g.limit.Rate),
			}, nil
		}
	}
	done, err := g.breaker.Allow()
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, g.openCircuit(), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("circuit %s: %w", g.cfg.Key, err)
	}
	return &Permit{done: done}, nil, nil
}

func (g *Guard) openCircuit() *Deferred {
	return &Deferred{Delay: breakerRetry, Reason: "circuit open: the provider keeps failing", Breaker: true}
}

// Done reports the outcome of an admitted call: transient failures count
// against the circuit, and a 429 with Retry-After pauses the account across
// the fleet. A call cut short by its context (shutdown, cancellation) does
// not count as a failure.
func (g *Guard) Done(ctx context.Context, p *Permit, class providers.Class, retryAfter time.Duration) error {
	if class == providers.ClassTransient && ctx.Err() == nil {
		p.done(errTransient)
	} else {
		p.done(nil)
	}
	if class == providers.ClassRateLimited && retryAfter > 0 {
		if err := g.cfg.Pauses.Pause(ctx, g.cfg.Key, g.cfg.Now().Add(retryAfter)); err != nil {
			return fmt.Errorf("pause %s: %w", g.cfg.Key, err)
		}
	}
	return nil
}

// State returns the circuit's state: closed, half-open or open.
func (g *Guard) State() gobreaker.State { return g.breaker.State() }
