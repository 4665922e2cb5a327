package schedule

import "github.com/genwatch/genwatch/config"

// Policy is the polling policy this package paces by; its fields, defaults
// and validation are config.Policy's.
type Policy = config.Policy

// The pacing modes, as config names them.
const (
	// ModeAdaptive is config.PollAdaptive.
	ModeAdaptive = config.PollAdaptive
	// ModeBackoff is config.PollBackoff.
	ModeBackoff = config.PollBackoff
)
