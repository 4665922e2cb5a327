package providers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Sentinel errors that adapters and Fetch wrap. Callers branch on them with
// errors.Is, or more simply with Classify.
var (
	// ErrNotFound: the provider does not know the generation ID (HTTP 404).
	ErrNotFound = errors.New("generation not found")
	// ErrUnauthorized: the provider refuses the credentials (HTTP 401/403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: the provider asks us to slow down (HTTP 429).
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: the provider failed (HTTP 5xx or another unexpected
	// status).
	ErrUnavailable = errors.New("provider unavailable")
	// ErrMalformed: the provider answered 2xx with a body that cannot be
	// read: not JSON, the wrong shape, an unknown status word, or too large.
	ErrMalformed = errors.New("malformed response")
)

// HTTPError is a non-2xx answer from a provider. It unwraps to the sentinel
// that matches its status code.
type HTTPError struct {
	StatusCode int
	// RetryAfter is the parsed Retry-After header, zero when absent.
	RetryAfter time.Duration
	// Message is the provider's own message when its error body carried
	// one, else the start of the body.
	Message string
}

// Error implements error.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("http %d", e.StatusCode)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap maps the status code to its sentinel.
func (e *HTTPError) Unwrap() error {
	switch {
	case e.StatusCode == http.StatusNotFound:
		return ErrNotFound
	case e.StatusCode == http.StatusUnauthorized, e.StatusCode == http.StatusForbidden:
		return ErrUnauthorized
	case e.StatusCode == http.StatusTooManyRequests:
		return ErrRateLimited
	default:
		return ErrUnavailable
	}
}

// Class is what the scheduler needs to know about a failed status call.
type Class int

// Error classes. Every non-nil error is exactly one of them; anything not
// recognised is transient, because the safe reaction to the unknown is to
// ask again later.
const (
	ClassNone Class = iota
	ClassNotFound
	ClassUnauthorized
	ClassRateLimited
	ClassTransient
)

var classNames = [...]string{"ok", "not_found", "unauthorized", "rate_limited", "transient"}

// String returns the class's name, suitable as a bounded metric label.
func (c Class) String() string {
	if int(c) < len(classNames) && c >= 0 {
		return classNames[c]
	}
	return "transient"
}

// Classify sorts an error from Provider.Status into a Class and returns the
// delay the provider asked for, if any.
func Classify(err error) (Class, time.Duration) {
	if err == nil {
		return ClassNone, 0
	}
	var retryAfter time.Duration
	var he *HTTPError
	if errors.As(err, &he) {
		retryAfter = he.RetryAfter
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return ClassNotFound, retryAfter
	case errors.Is(err, ErrUnauthorized):
		return ClassUnauthorized, retryAfter
	case errors.Is(err, ErrRateLimited):
		return ClassRateLimited, retryAfter
	default:
		return ClassTransient, retryAfter
	}
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an
// HTTP date, relative to now. It returns zero for an absent, malformed or
// past value.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(24 * time.Hour / time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
