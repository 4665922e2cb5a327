package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults for HTTPConfig.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBodyBytes = 1 << 20
	userAgent           = "genwatch"
)

// HTTPConfig is what every adapter needs to make a status call.
type HTTPConfig struct {
	// Client sends the requests. If nil, http.DefaultClient is used; its
	// own Timeout, if any, applies on top of Timeout below.
	Client *http.Client
	// Timeout bounds one whole status call, body included.
	// If zero, DefaultTimeout (10 s) is used.
	Timeout time.Duration
	// MaxBodyBytes is the largest response body read; a larger one is
	// ErrMalformed. If zero, DefaultMaxBodyBytes (1 MiB) is used.
	MaxBodyBytes int64
	// Now tells the time, for Retry-After dates. If nil, time.Now is used.
	Now func() time.Time
}

func (c HTTPConfig) withDefaults() HTTPConfig {
	if c.Client == nil {
		c.Client = http.DefaultClient
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// IDPlaceholder is the path segment of an endpoint that the generation ID
// takes, as in "/v1/jobs/{id}/status".
const IDPlaceholder = "{id}"

// StatusURL joins a base URL (scheme, host, optional port and path prefix),
// the documented endpoint path and the path-escaped generation ID: the ID
// takes the endpoint's {id} segment, or is appended when there is none. The
// ID is one opaque path segment: "/", "?", "#", "%" and spaces are escaped,
// and it can never add a query or climb the path.
func StatusURL(baseURL, endpoint, generationID string) (string, error) {
	if generationID == "" || generationID == "." || generationID == ".." {
		return "", fmt.Errorf("invalid generation id %q", generationID)
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return "", fmt.Errorf("base url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("base url %q: want http(s)://host[:port]", baseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	before, after, _ := strings.Cut(endpoint, IDPlaceholder)
	return u.JoinPath(before, url.PathEscape(generationID), after).String(), nil
}

// Response is a status call's answer: its code and its body, read within
// the size limit.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Fetch GETs url with the given headers under cfg's timeout and size limit.
// A transport failure, a timeout and an oversized body come back as errors
// (transient by Classify); any HTTP status comes back as a Response, for the
// adapter to decode and then hand to CheckStatus.
func Fetch(ctx context.Context, cfg HTTPConfig, rawURL string, header http.Header) (*Response, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request: %w", redactURLError(err))
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > cfg.MaxBodyBytes {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrMalformed, cfg.MaxBodyBytes)
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// CheckStatus turns a non-2xx response into an *HTTPError. message is the
// provider's own error message, when the adapter could decode one; else the
// start of the body is used.
func CheckStatus(resp *Response, message string, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	if message == "" {
		message = snippet(resp.Body)
	}
	return &HTTPError{
		StatusCode: resp.StatusCode,
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now),
		Message:    message,
	}
}

// RawJSON returns body as a JSON value for Status.Raw, or nil when it is
// not valid JSON.
func RawJSON(body []byte) json.RawMessage {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || !json.Valid(body) {
		return nil
	}
	return json.RawMessage(body)
}

// Decode unmarshals a 2xx body into v, wrapping failures in ErrMalformed.
func Decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v: %s", ErrMalformed, err, snippet(body))
	}
	return nil
}

// UnknownStatus is the error for a status word the adapter does not know.
func UnknownStatus(word string) error {
	return fmt.Errorf("%w: unknown status %q", ErrMalformed, word)
}

// Snippet returns the start of a body, in valid UTF-8, for an error
// message.
func Snippet(body []byte) string { return snippet(body) }

func snippet(body []byte) string {
	const max = 200
	s := strings.ToValidUTF8(strings.TrimSpace(string(body)), "?")
	if len(s) > max {
		// Cut on a rune boundary, so that the snippet stays valid UTF-8.
		cut := max
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// redactURLError drops the URL from a *url.Error: it is logged with the
// generation ID already, and a base URL may embed user info.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
