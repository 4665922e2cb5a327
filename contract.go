// Package genwatch is the public face of genwatch for other Go services: the
// tracking request they enqueue, the completion event they receive, and a
// small client that builds, validates and enqueues tracking tasks.
//
// A service that has submitted a job to an AI media provider hands genwatch
// the pair (provider, generation ID). The genwatch workers poll the
// provider until the job ends and then emit exactly one Event, normalized
// across providers, to the Redis stream "genwatch:events" and to any other
// configured sink. Nothing in this package needs a genwatch worker to be
// linked in: any asynq client that follows the contract can enqueue, and
// any Redis client can read the stream.
package genwatch

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/builtin"
)

// Task types and defaults fixed by the contract.
const (
	// TaskTypePoll is the asynq task type of a tracking request.
	TaskTypePoll = "generation:poll"
	// TaskTypeEvent is the asynq task type of an event delivered to the
	// optional asynq sink.
	TaskTypeEvent = "generation:event"
	// DefaultQueue is the asynq queue tracking requests go to.
	DefaultQueue = "genwatch"
	// DefaultStream is the Redis stream every event is appended to.
	DefaultStream = "genwatch:events"
	// StreamField is the stream entry field that holds the event JSON.
	StreamField = "event"
	// DefaultAccount is the account used when a request names none.
	DefaultAccount = "default"
	// DefaultMaxWait is how long a generation is tracked when the request
	// does not say.
	DefaultMaxWait = 30 * time.Minute
	// DefaultRetention is how long a finished tracking task is kept, during
	// which the same generation cannot be tracked again.
	DefaultRetention = 24 * time.Hour
)

// Names of the built-in providers.
const (
	ProviderHoox     = "hoox"
	ProviderHooked   = "hooked"
	ProviderToken360 = "token360"
)

// Providers lists the built-in providers, those genwatch has adapters for,
// sorted. A deployment may configure more under names of its own
// (declarative, or OpenAI-compatible videos APIs); a Client given the
// deployment's accounts (ClientConfig.Accounts) knows those too.
func Providers() []string { return builtin.Names() }

// KnownProvider reports whether name is a built-in provider.
func KnownProvider(name string) bool { return slices.Contains(Providers(), name) }

// Limits on a Request.
const (
	MaxGenerationIDBytes = 256
	MaxMetadataBytes     = 16 << 10
)

// Request is the payload of a generation:poll task.
type Request struct {
	Provider     string `json:"provider"`
	GenerationID string `json:"generation_id"`
	// Account names the credential set of the provider; empty means
	// DefaultAccount.
	Account string `json:"account,omitempty"`
	// Metadata is opaque to genwatch and copied into every event.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// MaxWaitSeconds ends tracking this long after EnqueuedAt; zero means
	// the worker's configured default.
	MaxWaitSeconds int64 `json:"max_wait_seconds,omitempty"`
	// EnqueuedAt is when tracking started. The client sets it when absent;
	// a worker that sees none uses the time it first saw the task.
	EnqueuedAt *time.Time `json:"enqueued_at,omitempty"`
	// ExpectedSeconds is the submitter's estimate of how long the job takes
	// from EnqueuedAt, for example the provider's own estimate returned at
	// submission. It shapes when the workers poll; it is never a deadline,
	// and a wrong one costs little. Zero means no estimate.
	ExpectedSeconds int64 `json:"expected_seconds,omitempty"`
}

// TaskID returns the asynq task ID of the request, "<provider>:<generation_id>".
func (r Request) TaskID() string { return TaskID(r.Provider, r.GenerationID) }

// TaskID returns the asynq task ID for a generation.
func TaskID(provider, generationID string) string { return provider + ":" + generationID }

// ResolvedAccount returns Account, or DefaultAccount when it is empty.
func (r Request) ResolvedAccount() string {
	if r.Account == "" {
		return DefaultAccount
	}
	return r.Account
}

// Validate checks the request against the contract's limits, taking the
// built-in providers for the known ones. It does not know which providers
// and accounts a deployment configures; see ValidateFor and Client for
// that.
func (r Request) Validate() error { return r.validate(Providers()) }

// ValidateFor checks the request like Validate, but against the given
// provider names: those a deployment configures, built-in or not.
func (r Request) ValidateFor(providers []string) error {
	if providers == nil {
		providers = []string{}
	}
	return r.validate(providers)
}

// validate checks the request, its provider against known; a nil known
// takes any well-formed provider name, for a worker that then looks the
// name up in its own configuration.
func (r Request) validate(known []string) error {
	var errs []error
	switch {
	case r.Provider == "":
		errs = append(errs, fmt.Errorf("provider is required (one of %v)", knownOrAny(known)))
	case known != nil && !slices.Contains(known, r.Provider), known == nil && !providers.ValidName(r.Provider):
		errs = append(errs, fmt.Errorf("%w %q (want one of %v)", ErrUnknownProvider, r.Provider, knownOrAny(known)))
	}
	switch n := len(r.GenerationID); {
	case n == 0:
		errs = append(errs, fmt.Errorf("generation_id is required"))
	case n > MaxGenerationIDBytes:
		errs = append(errs, fmt.Errorf("generation_id is %d bytes, at most %d allowed", n, MaxGenerationIDBytes))
	case r.GenerationID == "." || r.GenerationID == "..":
		errs = append(errs, fmt.Errorf("generation_id %q is not a valid id", r.GenerationID))
	}
	if len(r.Metadata) > 0 {
		// Measured as Encode writes it, compacted and with HTML characters
		// escaped ("<" takes 6 bytes), so that a request that passes here
		// passes the worker's DecodeRequest too.
		switch encoded, err := json.Marshal(r.Metadata); {
		case err != nil || !isJSONObject(r.Metadata):
			errs = append(errs, fmt.Errorf("metadata must be a JSON object"))
		case len(encoded) > MaxMetadataBytes:
			errs = append(errs, fmt.Errorf("metadata is %d bytes encoded, at most %d allowed", len(encoded), MaxMetadataBytes))
		}
	}
	if r.MaxWaitSeconds < 0 {
		errs = append(errs, fmt.Errorf("max_wait_seconds must not be negative, got %d", r.MaxWaitSeconds))
	}
	if r.ExpectedSeconds < 0 {
		errs = append(errs, fmt.Errorf("expected_seconds must not be negative, got %d", r.ExpectedSeconds))
	}
	if len(errs) == 0 {
		return nil
	}
	return &InvalidRequestError{Errs: errs}
}

// DecodeRequest reads and validates a generation:poll payload. Unknown
// fields are rejected, so a typo does not silently drop an option. Any
// well-formed provider name passes: which providers exist is the
// configuration's to say, and a worker checks the name against its own.
func DecodeRequest(payload []byte) (Request, error) {
	var r Request
	if err := decodeStrict(payload, &r); err != nil {
		return Request{}, &InvalidRequestError{Errs: []error{fmt.Errorf("decode payload: %w", err)}}
	}
	return r, r.validate(nil)
}

// knownOrAny describes the accepted provider names for an error message.
func knownOrAny(known []string) any {
	if known == nil {
		return "lower-case letters, digits and _"
	}
	return known
}

// Expected returns ExpectedSeconds as a duration.
func (r Request) Expected() time.Duration {
	return time.Duration(r.ExpectedSeconds) * time.Second
}

// Encode returns the request's JSON payload.
func (r Request) Encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

func isJSONObject(b json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}
