// Package providers defines how genwatch asks an AI media provider about one
// generation, and what it gets back.
//
// Each provider lives in its own subpackage (hoox, hooked, token360) and
// implements Provider: one GET of the provider's status endpoint, decoded
// and normalized into a Status. Everything that is the same for every
// provider lives here: the HTTP round trip with its timeout and size limit
// (Fetch), the Provider built from an adapter's Spec (NewHTTP), so that an
// adapter only decodes its provider's body, and the classification of
// failures into the few classes the scheduler cares about (Classify).
// Adapters never decide what happens next; they only report what the
// provider said. Every adapter passes the conformance suite in
// providertest.
package providers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/genwatch/genwatch/secret"
)

// Provider reports the status of one generation at one provider account.
// An adapter is bound to a base URL and an API key when it is built; Status
// is safe for concurrent use.
type Provider interface {
	// Status fetches the current state of the generation with the given
	// provider ID. The ID is path-escaped by the adapter.
	//
	// A non-nil error is classified with Classify. A Status is returned
	// alongside an error only when the provider answered with a readable body
	// (for example a 404 with a JSON message); callers must not rely on it.
	Status(ctx context.Context, generationID string) (*Status, error)
}

// ProviderFunc adapts a function to the Provider interface.
type ProviderFunc func(ctx context.Context, generationID string) (*Status, error)

// Status implements Provider.
func (f ProviderFunc) Status(ctx context.Context, generationID string) (*Status, error) {
	return f(ctx, generationID)
}

// State is a provider status normalized across providers.
type State int

// The normalized states. Pending and Running are in flight; Completed and
// Failed are terminal.
const (
	StateUnknown State = iota
	StatePending
	StateRunning
	StateCompleted
	StateFailed
)

var stateNames = [...]string{"unknown", "pending", "running", "completed", "failed"}

// String returns the lower-case name of the state.
func (s State) String() string {
	if int(s) < len(stateNames) && s >= 0 {
		return stateNames[s]
	}
	return "unknown"
}

// Terminal reports whether the generation has ended at the provider.
func (s State) Terminal() bool { return s == StateCompleted || s == StateFailed }

// Media types reported in Status.MediaType.
const (
	MediaVideo = "video"
	MediaImage = "image"
	MediaAudio = "audio"
)

// Status is one provider response, normalized. Zero values mean "not
// reported" except where a pointer is used because zero is meaningful.
type Status struct {
	State State
	// ProviderStatus is the provider's own status word, verbatim
	// ("generating", "COMPLETED", "in_progress", ...).
	ProviderStatus string
	// Progress is the percentage the provider reports, 0-100, or nil.
	Progress *int

	// UpdatedAt is when the provider says the generation last changed
	// (Hooked updatedAt, Token360 updated_at): when it reached its
	// current state and progress. Zero when the provider does not say.
	// It places progress readings in time (schedule.Sample.Reached).
	UpdatedAt time.Time

	// Model names the provider's model or kind of generation when the
	// provider reports it (Hoox generation_params.model, Token360 model).
	// genwatch learns how long generations take per model.
	Model string

	MediaType       string
	URL             string
	ThumbnailURL    string
	Width           int
	Height          int
	DurationSeconds float64
	SizeBytes       int64
	// Cost is the credits debited, or nil when the provider does not say.
	Cost *float64

	// ErrorCode and ErrorMessage describe a failure when State is
	// StateFailed (ErrorCode may be empty when the provider gives only a
	// message).
	ErrorCode    string
	ErrorMessage string

	// Raw is the response body as received. It is always a valid JSON value.
	Raw json.RawMessage
}

// Config binds an adapter to one provider account.
type Config struct {
	// BaseURL is the scheme, host and optional port (and path prefix) of the
	// provider's API; the adapter appends its documented endpoint path. If
	// empty, the adapter's documented default is used.
	BaseURL string
	// APIKey is the account's key. It goes into the auth header and nowhere
	// else.
	APIKey secret.Value
	// HTTP holds the transport, timeout and size limit.
	HTTP HTTPConfig
}

// Factory builds an adapter for one account. Each subpackage exports one as
// New.
type Factory func(Config) (Provider, error)
