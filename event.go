package genwatch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Status is a generation's terminal status.
type Status string

// The terminal statuses.
const (
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusTimedOut  Status = "timed_out"
	StatusCanceled  Status = "canceled"
)

// EventType returns the event type for the status, "generation.<status>".
func (s Status) EventType() string { return "generation." + string(s) }

// Error codes carried by Event.Error.
const (
	// CodeGenerationFailed: the provider says the generation failed; its
	// message is kept.
	CodeGenerationFailed = "generation_failed"
	// CodeNotFound: the provider did not know the ID after the grace period.
	CodeNotFound = "not_found"
	// CodeUnauthorized: the provider refused the credentials until the
	// deadline.
	CodeUnauthorized = "unauthorized"
	// CodeTimedOut: the generation was still running at the deadline.
	CodeTimedOut = "timed_out"
	// CodeProviderUnavailable: errors or unreadable answers until the
	// deadline.
	CodeProviderUnavailable = "provider_unavailable"
	// CodeCanceled: tracking was canceled.
	CodeCanceled = "canceled"
	// CodeRejected: no worker had the request's provider or account for
	// the whole grace period; the provider was never called.
	CodeRejected = "rejected"
)

// EventError says why a generation did not complete.
type EventError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Event is the completion event: exactly one per tracked generation.
type Event struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Status       Status `json:"status"`
	Provider     string `json:"provider"`
	GenerationID string `json:"generation_id"`
	Account      string `json:"account"`

	MediaType       string   `json:"media_type,omitempty"`
	URL             string   `json:"url,omitempty"`
	ThumbnailURL    string   `json:"thumbnail_url,omitempty"`
	Width           int      `json:"width,omitempty"`
	Height          int      `json:"height,omitempty"`
	DurationSeconds float64  `json:"duration_seconds,omitempty"`
	SizeBytes       int64    `json:"size_bytes,omitempty"`
	Cost            *float64 `json:"cost,omitempty"`
	Progress        *int     `json:"progress,omitempty"`

	Error    *EventError     `json:"error,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Polls    int             `json:"polls"`

	EnqueuedAt time.Time `json:"enqueued_at"`
	DetectedAt time.Time `json:"detected_at"`

	ProviderStatus string          `json:"provider_status,omitempty"`
	Raw            json.RawMessage `json:"raw,omitempty"`
}

// EventID returns the event ID for a generation's terminal status. It is
// the same on every redelivery, so consumers can deduplicate on it.
func EventID(provider, generationID string, status Status) string {
	h := sha256.New()
	for _, s := range []string{provider, generationID, string(status)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "evt_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// DecodeEvent reads an event from its JSON form, as found in the stream's
// "event" field, an asynq task payload or a webhook body.
func DecodeEvent(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if e.ID == "" || e.Status == "" {
		return Event{}, fmt.Errorf("decode event: missing id or status")
	}
	return e, nil
}
