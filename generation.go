package genwatch

import (
	"errors"
	"time"
)

// ErrNotTracked is returned for a generation that has no tracking task (it
// was never enqueued, or ended longer ago than the retention).
var ErrNotTracked = errors.New("generation is not tracked")

// Generation is what is known of one tracked generation.
type Generation struct {
	TaskID string `json:"task_id"`
	// State is the tracking task's asynq state: pending, active, retry
	// (waiting for its next poll), scheduled, completed or archived.
	State    string `json:"state"`
	Provider string `json:"provider,omitempty"`
	// GenerationID and Account are as enqueued (account resolved).
	GenerationID string `json:"generation_id,omitempty"`
	Account      string `json:"account,omitempty"`
	Polls        int    `json:"polls"`
	// Progress is the last progress reading, if the provider reports one.
	Progress       *int   `json:"progress,omitempty"`
	ProviderStatus string `json:"provider_status,omitempty"`
	// NextPollAt is when the next poll is due, while waiting.
	NextPollAt *time.Time `json:"next_poll_at,omitempty"`
	// LastError is what the generation waits for ("running, 40%, next poll
	// in 6s"), or why its task was archived.
	LastError  string     `json:"last_error,omitempty"`
	EnqueuedAt *time.Time `json:"enqueued_at,omitempty"`
	// ETA is when the generation is expected to end, while it waits and
	// genwatch has an estimate.
	ETA *time.Time `json:"eta,omitempty"`
	// Event is the completion event, once the generation has ended.
	Event *Event `json:"event,omitempty"`
}

// Ended reports whether the generation has its completion event.
func (g Generation) Ended() bool { return g.Event != nil }
