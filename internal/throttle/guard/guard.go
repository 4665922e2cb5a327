// Package guard admits or defers the status calls of one provider account:
// the fleet-wide pauses (throttle.Pauses), a circuit breaker per account in
// each worker (sony/gobreaker), and a rate limit per account shared by the
// fleet (GCRA in Redis, go-redis/redis_rate). See package throttle for how
// they fit together.
package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/sony/gobreaker/v2"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/throttle"
)

// Config configures one account's Guard.
type Config struct {
	// Key names the account fleet-wide: "<provider>/<account>".
	Key string
	// Limit is the fleet-wide rate limit; zero means none.
	Limit throttle.Limit
	// Limiter enforces Limit; required when Limit is set.
	Limiter *redis_rate.Limiter
	// Pauses is the fleet-wide pause board; required.
	Pauses *throttle.Pauses
	// Breaker configures the circuit breaker.
	Breaker throttle.BreakerConfig
	// OnStateChange, if set, is told when the circuit opens or closes.
	OnStateChange func(key string, from, to gobreaker.State)
	// Now tells the time. If nil, time.Now. (The breaker keeps its own
	// time.)
	Now func() time.Time
}

// Guard admits or defers the status calls of one provider account. It is
// safe for concurrent use.
type Guard struct {
	cfg     Config
	limit   redis_rate.Limit
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// New returns the Guard of one account.
func New(cfg Config) *Guard {
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

var errTransient = errors.New("transient provider failure")

// breakerRetry is how soon a poll deferred by an open circuit asks again;
// the circuit's own timer decides when a probe goes through.
const breakerRetry = 5 * time.Second

// Admit admits a status call, or defers it. An error means the rate limit
// could not be checked (Redis is unreachable).
func (g *Guard) Admit(ctx context.Context) (*throttle.Permit, *throttle.Deferred, error) {
	now := g.cfg.Now()
	if until := g.cfg.Pauses.Until(g.cfg.Key); until.After(now) {
		d := until.Sub(now)
		return nil, &throttle.Deferred{Delay: d, Reason: fmt.Sprintf("provider asked to pause (429) for %s", d.Round(time.Second))}, nil
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
			return nil, &throttle.Deferred{
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
	return throttle.NewPermit(done), nil, nil
}

func (g *Guard) openCircuit() *throttle.Deferred {
	return &throttle.Deferred{Delay: breakerRetry, Reason: "circuit open: the provider keeps failing", Breaker: true}
}

// Done reports the outcome of an admitted call: transient failures count
// against the circuit, and a 429 with Retry-After pauses the account across
// the fleet. A call cut short by its context (shutdown, cancellation) does
// not count as a failure.
func (g *Guard) Done(ctx context.Context, p *throttle.Permit, class providers.Class, retryAfter time.Duration) error {
	if class == providers.ClassTransient && ctx.Err() == nil {
		p.End(errTransient)
	} else {
		p.End(nil)
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
