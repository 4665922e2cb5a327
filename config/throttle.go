package config

import "time"

// Limit is a rate limit on the status calls of a provider account, shared
// by the fleet: PerSecond calls a second, with bursts of up to Burst. The
// zero Limit means none.
type Limit struct {
	// PerSecond is how many status calls a second the account may make.
	// Zero means no limit.
	PerSecond int `yaml:"per_second"`
	// Burst is how many calls may go at once after a quiet spell.
	// Default PerSecond.
	Burst int `yaml:"burst"`
}

// Breaker configures the circuit breaker of each provider account: after
// a run of transient failures (5xx, timeouts, unreadable answers) it lets
// no call through for a while, then probes. The zero value of a field
// means its default.
type Breaker struct {
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

// WithDefaults returns c with every zero field set to its default.
func (c Breaker) WithDefaults() Breaker {
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
