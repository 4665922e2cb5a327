package providers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Spec describes one provider's status endpoint: everything an adapter adds
// to the shared round trip of NewHTTP. An adapter package fills one in and
// keeps only the decoding of its provider's body to itself.
type Spec struct {
	// Name prefixes every error: "hooked: get status: ...".
	Name string
	// DefaultBaseURL is used when Config.BaseURL is empty.
	DefaultBaseURL string
	// Endpoint is the documented path that the escaped generation ID is
	// appended to, such as "/v1/video".
	Endpoint string
	// AuthHeader is the header that carries the API key. AuthScheme, if
	// set, is written before the key with a space ("Bearer"); if empty the
	// header holds the bare key.
	AuthHeader string
	AuthScheme string
	// Decode maps a 2xx body to a Status, or fails with ErrMalformed (see
	// Decode and UnknownStatus) when it cannot. It leaves Raw to NewHTTP.
	Decode func(body []byte) (*Status, error)
}

// NewHTTP builds the Provider that spec describes for one account. It
// checks the base URL and the key once; then every Status call is one Fetch
// of spec.Endpoint, then CheckStatus, which keeps the message of a non-2xx
// body (an "error" string, an "error" object's "message", or a top-level
// "message"), then spec.Decode, with Raw set to the body.
//
// Errors are prefixed with spec.Name, and the API key is masked in them,
// should a provider echo it back.
func NewHTTP(spec Spec, cfg Config) (Provider, error) {
	baseURL := cfg.BaseURL
	if baseURL == "" {
		baseURL = spec.DefaultBaseURL
	}
	if _, err := StatusURL(baseURL, spec.Endpoint, "id"); err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	key := cfg.APIKey.Reveal()
	if key == "" {
		return nil, fmt.Errorf("%s: api key is empty", spec.Name)
	}
	auth := key
	if spec.AuthScheme != "" {
		auth = spec.AuthScheme + " " + key
	}
	header := http.Header{}
	header.Set(spec.AuthHeader, auth)
	return &httpProvider{
		spec:    spec,
		baseURL: baseURL,
		key:     key,
		header:  header,
		http:    cfg.HTTP.withDefaults(),
	}, nil
}

type httpProvider struct {
	spec    Spec
	baseURL string
	key     string
	header  http.Header
	http    HTTPConfig
}

// Status implements Provider. With an error, the Status is nil, or holds
// only the body and message of an error answer (a 404 with a JSON body).
func (p *httpProvider) Status(ctx context.Context, generationID string) (*Status, error) {
	st, err := p.status(ctx, generationID)
	if err != nil {
		return st, &statusError{name: p.spec.Name, key: p.key, err: err}
	}
	return st, nil
}

func (p *httpProvider) status(ctx context.Context, generationID string) (*Status, error) {
	rawURL, err := StatusURL(p.baseURL, p.spec.Endpoint, generationID)
	if err != nil {
		return nil, err
	}
	resp, err := Fetch(ctx, p.http, rawURL, p.header)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		// A provider refusing a key may quote it; mask it before it
		// becomes HTTPError.Message, which may end up in an event.
		resp.Body = bytes.ReplaceAll(resp.Body, []byte(p.key), []byte(redacted))
		msg := errorMessage(resp.Body)
		// The answer's body stays with the error: an ending on it (not
		// found, say) keeps it as the event's raw and its message.
		var answer *Status
		if raw := RawJSON(resp.Body); raw != nil {
			answer = &Status{Raw: raw, ErrorMessage: msg}
		}
		return answer, CheckStatus(resp, msg, p.http.Now())
	}
	st, err := p.spec.Decode(resp.Body)
	if err != nil {
		return nil, err
	}
	st.Sanitize()
	st.Raw = RawJSON(resp.Body)
	return st, nil
}

// redacted stands in for the API key in error text.
const redacted = "<secret>"

// statusError prefixes a failed Status call with the provider's name and
// masks the API key in its text, wherever the key came from.
type statusError struct {
	name string
	key  string
	err  error
}

func (e *statusError) Error() string {
	return e.name + ": get status: " + strings.ReplaceAll(e.err.Error(), e.key, redacted)
}

func (e *statusError) Unwrap() error { return e.err }
