// Package providertest is the conformance suite that every provider adapter
// runs, in the manner of watermill's pubsub/tests and river's
// riverdrivertest: one set of expectations for all adapters, a fake provider
// built on httptest, and each adapter's own canned responses from its
// testdata folder.
//
// An adapter's test calls Run with a Suite naming its Definition, its
// documented base URL, endpoint and auth header, and its fixtures. Run then checks, in
// parallel subtests, that every fixture decodes to the expected Status, that
// the request carries the auth header and puts any generation ID, however
// hostile, into exactly one path segment, that every kind of failure is
// classified as the scheduler expects, that the timeout, the body size limit
// and cancellation hold, and that the API key never shows in an error.
package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/secret"
)

// apiKey is the key every adapter under test is built with. It is distinct
// enough that finding it in an error's text can only mean a leak.
const apiKey = "sk-providertest-4f9b2c7e31d8"

// Suite describes one adapter to Run.
type Suite struct {
	// Definition is the provider under test; the suite builds it with
	// Definition.New.
	Definition providers.Definition
	// DefaultBaseURL is where the adapter goes when Config.BaseURL is
	// empty, as documented.
	DefaultBaseURL string
	// Endpoint is the documented path that the escaped generation ID is
	// appended to, such as "/v1/video", or whose {id} segment it takes, such
	// as "/v2/jobs/{id}/status".
	Endpoint string
	// AuthHeader names the header that carries the key, and AuthFormat is
	// its exact value as a fmt format of the key: "Bearer %s" or "%s".
	AuthHeader string
	AuthFormat string
	// Fixtures are canned provider answers and what the adapter must make
	// of them. Among those that succeed there must be a completed and a
	// failed generation.
	Fixtures []Fixture
	// UnknownStatusFile is a 200 body shaped like the documented one but
	// with a status word the provider does not document.
	UnknownStatusFile string
}

// Fixture is one canned provider answer and its expected outcome.
type Fixture struct {
	// File holds the body, relative to the package under test
	// ("testdata/completed.json").
	File string
	// StatusCode is the HTTP status it is served with; zero means 200.
	StatusCode int
	// Want is the Status that a fixture without WantErr decodes to. Its Raw
	// is not compared: the suite checks that Raw is the body itself.
	Want providers.Status
	// WantErr, if set, is the sentinel the error must match instead.
	// WantMessage is then the provider's message that the error carries:
	// exactly, as *providers.HTTPError.Message, for a non-2xx status;
	// within the error's text otherwise.
	WantErr     error
	WantMessage string
}

func (f Fixture) statusCode() int {
	if f.StatusCode == 0 {
		return http.StatusOK
	}
	return f.StatusCode
}

func (f Fixture) name() string {
	return fmt.Sprintf("%s_%d", strings.TrimSuffix(filepath.Base(f.File), ".json"), f.statusCode())
}

// Run runs the conformance suite against the adapter s describes.
func Run(t *testing.T, s Suite) {
	t.Helper()
	ok := s.validate(t)
	okBody := readFile(t, ok.File)

	t.Run("Fixtures", func(t *testing.T) {
		t.Parallel()
		for _, fx := range s.Fixtures {
			t.Run(fx.name(), func(t *testing.T) {
				t.Parallel()
				s.testFixture(t, fx)
			})
		}
	})
	t.Run("Request", func(t *testing.T) {
		t.Parallel()
		s.testRequest(t, okBody)
	})
	t.Run("BaseURL", func(t *testing.T) {
		t.Parallel()
		s.testBaseURL(t, ok, okBody)
	})
	t.Run("Failures", func(t *testing.T) {
		t.Parallel()
		s.testFailures(t, okBody)
	})
	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		s.testCancel(t)
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s.testConcurrent(t, ok, okBody)
	})
	t.Run("Imitation", func(t *testing.T) {
		t.Parallel()
		RunImitation(t, s.Definition)
	})
}

// validate fails the test if s is incomplete, and returns the completed
// fixture, which the other subtests serve as the answer that works.
func (s Suite) validate(t *testing.T) Fixture {
	t.Helper()
	if s.Definition.Decode == nil || s.DefaultBaseURL == "" || s.Endpoint == "" || s.AuthHeader == "" ||
		s.AuthFormat == "" || s.UnknownStatusFile == "" {
		t.Fatal("providertest: Suite needs Definition, DefaultBaseURL, Endpoint, AuthHeader, AuthFormat and UnknownStatusFile")
	}
	var completed, failed []Fixture
	for _, fx := range s.Fixtures {
		switch {
		case fx.WantErr != nil:
		case fx.Want.State == providers.StateCompleted:
			completed = append(completed, fx)
		case fx.Want.State == providers.StateFailed:
			failed = append(failed, fx)
		}
	}
	if len(completed) == 0 || len(failed) == 0 {
		t.Fatal("providertest: Suite.Fixtures needs a completed and a failed generation")
	}
	return completed[0]
}

// around returns the documented path before and after the ID.
func (s Suite) around() (before, after string) {
	before, after, found := strings.Cut(s.Endpoint, providers.IDPlaceholder)
	if !found {
		return s.Endpoint + "/", ""
	}
	return before, after
}

// path returns the documented path for an escaped ID.
func (s Suite) path(escapedID string) string {
	before, after := s.around()
	return before + escapedID + after
}

func (s Suite) testFixture(t *testing.T, fx Fixture) {
	body := readFile(t, fx.File)
	p := s.setup(t, respond(fx.statusCode(), nil, body))

	got, err := p.Status(t.Context(), "gen-1")
	if fx.WantErr != nil {
		requireSafeError(t, err)
		require.ErrorIs(t, err, fx.WantErr)
		if fx.statusCode() >= 200 && fx.statusCode() < 300 {
			require.ErrorContains(t, err, fx.WantMessage)
			return
		}
		var he *providers.HTTPError
		require.ErrorAs(t, err, &he)
		require.Equal(t, fx.statusCode(), he.StatusCode)
		require.Equal(t, fx.WantMessage, he.Message)
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(bytes.TrimSpace(body)), string(got.Raw), "Raw is the body as received")
	decoded := *got
	decoded.Raw = nil
	if diff := cmp.Diff(fx.Want, decoded); diff != "" {
		t.Errorf("Status mismatch (-want +got):\n%s", diff)
	}
}

// testRequest checks the request the adapter sends, for a plain ID and for
// IDs that try to leave their path segment.
func (s Suite) testRequest(t *testing.T, okBody []byte) {
	ids := []struct{ desc, id string }{
		{"plain", "gen-1"},
		{"slash", "gen/1"},
		{"dot-dot segment", "a/../b"},
		{"leading dot-dot", "../../admin"},
		{"dots inside", "v1..2"},
		{"question mark", "gen?status=completed"},
		{"hash", "gen#fragment"},
		{"percent", "100%"},
		{"escaped slash", "a%2Fb"},
		{"space", "my gen 1"},
		{"plus and semicolon", "a+b;c"},
		{"backslash", `a\b`},
		{"unicode", "видео-動画-🎬"},
	}
	for _, tc := range ids {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			seen := make(chan *http.Request, 1)
			p := s.setup(t, record(seen, respond(http.StatusOK, nil, okBody)))

			_, err := p.Status(t.Context(), tc.id)
			require.NoError(t, err)
			r := received(t, seen)

			require.Equal(t, http.MethodGet, r.Method)
			before, after := s.around()
			segment, ok := strings.CutPrefix(r.URL.EscapedPath(), before)
			require.True(t, ok, "path %q is not under %q", r.URL.EscapedPath(), before)
			segment, ok = strings.CutSuffix(segment, after)
			require.True(t, ok, "path %q does not end in %q", r.URL.EscapedPath(), after)
			require.NotContains(t, segment, "/", "the ID spans more than one path segment")
			unescaped, err := url.PathUnescape(segment)
			require.NoError(t, err)
			require.Equal(t, tc.id, unescaped)
			require.Equal(t, s.path(url.PathEscape(tc.id)), r.URL.EscapedPath())
			require.Empty(t, r.URL.RawQuery)

			require.Equal(t, []string{fmt.Sprintf(s.AuthFormat, apiKey)}, r.Header.Values(s.AuthHeader))
			require.NotContains(t, r.RequestURI, apiKey)
		})
	}
}

func (s Suite) testBaseURL(t *testing.T, ok Fixture, okBody []byte) {
	t.Run("DefaultWhenEmpty", func(t *testing.T) {
		t.Parallel()
		seen := make(chan *http.Request, 1)
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			seen <- r
			return &http.Response{
				StatusCode: http.StatusOK,
				Header:     http.Header{},
				Body:       io.NopCloser(bytes.NewReader(okBody)),
				Request:    r,
			}, nil
		})}
		p, err := s.Definition.New(providers.Config{APIKey: apiKey, HTTP: providers.HTTPConfig{Client: client}})
		require.NoError(t, err)

		_, err = p.Status(t.Context(), "gen-1")
		require.NoError(t, err)
		require.Equal(t, s.DefaultBaseURL+s.path("gen-1"), received(t, seen).URL.String())
	})

	t.Run("PathPrefix", func(t *testing.T) {
		t.Parallel()
		seen := make(chan *http.Request, 1)
		p := s.setup(t, record(seen, respond(http.StatusOK, nil, okBody)), func(cfg *providers.Config) {
			cfg.BaseURL += "/proxy/"
		})

		got, err := p.Status(t.Context(), "gen-1")
		require.NoError(t, err)
		require.Equal(t, ok.Want.State, got.State)
		require.Equal(t, "/proxy"+s.path("gen-1"), received(t, seen).URL.EscapedPath())
	})

	t.Run("RejectedAtConstruction", func(t *testing.T) {
		t.Parallel()
		for _, base := range []string{"example.com", "ftp://example.com", "http://", "://example.com", "http://exa mple.com"} {
			_, err := s.Definition.New(providers.Config{BaseURL: base, APIKey: apiKey})
			require.Error(t, err, "base url %q", base)
		}
		_, err := s.Definition.New(providers.Config{BaseURL: s.DefaultBaseURL})
		require.Error(t, err, "empty api key")
	})
}

// failure is one way a status call can go wrong, and how it must be
// classified.
type failure struct {
	desc string
	// handler answers the request; nil means that nothing listens.
	handler http.HandlerFunc
	// config adjusts the adapter's configuration, if set.
	config         func(*providers.Config)
	wantErr        error
	wantClass      providers.Class
	wantRetryAfter time.Duration
}

func (s Suite) testFailures(t *testing.T, okBody []byte) {
	tiny := func(cfg *providers.Config) { cfg.HTTP.Timeout = 50 * time.Millisecond }
	jsonBody := func(code int, body string) http.HandlerFunc {
		return respond(code, http.Header{"Content-Type": {"application/json"}}, []byte(body))
	}
	cases := []failure{
		{desc: "404", handler: jsonBody(404, `{"message":"no such generation"}`),
			wantErr: providers.ErrNotFound, wantClass: providers.ClassNotFound},
		{desc: "401 quoting the key", handler: jsonBody(401, `{"message":"invalid api key `+apiKey+`"}`),
			wantErr: providers.ErrUnauthorized, wantClass: providers.ClassUnauthorized},
		{desc: "403 quoting the key in plain text", handler: respond(403, nil, []byte("forbidden for "+apiKey)),
			wantErr: providers.ErrUnauthorized, wantClass: providers.ClassUnauthorized},
		{desc: "429 with Retry-After", handler: respond(429, http.Header{"Retry-After": {"7"}}, []byte(`{"message":"slow down"}`)),
			wantErr: providers.ErrRateLimited, wantClass: providers.ClassRateLimited, wantRetryAfter: 7 * time.Second},
		{desc: "500", handler: jsonBody(500, `{"message":"internal error"}`),
			wantErr: providers.ErrUnavailable, wantClass: providers.ClassTransient},
		{desc: "502 html", handler: respond(502, nil, []byte("<html><body>Bad Gateway</body></html>")),
			wantErr: providers.ErrUnavailable, wantClass: providers.ClassTransient},
		{desc: "503 empty", handler: respond(503, nil, nil),
			wantErr: providers.ErrUnavailable, wantClass: providers.ClassTransient},
		{desc: "200 garbage", handler: respond(200, nil, []byte("<html>not json</html>")),
			wantErr: providers.ErrMalformed, wantClass: providers.ClassTransient},
		{desc: "200 garbage quoting the key", handler: respond(200, nil, []byte("key="+apiKey)),
			wantErr: providers.ErrMalformed, wantClass: providers.ClassTransient},
		{desc: "200 empty body", handler: respond(200, nil, nil),
			wantErr: providers.ErrMalformed, wantClass: providers.ClassTransient},
		{desc: "200 JSON array", handler: jsonBody(200, `[`+string(okBody)+`]`),
			wantErr: providers.ErrMalformed, wantClass: providers.ClassTransient},
		{desc: "200 JSON null", handler: jsonBody(200, `null`),
			wantErr: providers.ErrMalformed, wantClass: providers.ClassTransient},
		{desc: "200 empty object", handler: jsonBody(200, `{}`),
			wantErr: providers.ErrMalformed, wantClass: providers.ClassTransient},
		{desc: "200 unknown status word", handler: respond(200, nil, readFile(t, s.UnknownStatusFile)),
			wantErr: providers.ErrMalformed, wantClass: providers.ClassTransient},
		{desc: "body over MaxBodyBytes", handler: respond(200, nil, okBody),
			config:  func(cfg *providers.Config) { cfg.HTTP.MaxBodyBytes = int64(len(okBody)) - 1 },
			wantErr: providers.ErrMalformed, wantClass: providers.ClassTransient},
		{desc: "no headers before Timeout", handler: hang, config: tiny,
			wantErr: context.DeadlineExceeded, wantClass: providers.ClassTransient},
		{desc: "body unfinished at Timeout", handler: hangMidBody(okBody), config: tiny,
			wantErr: context.DeadlineExceeded, wantClass: providers.ClassTransient},
		{desc: "connection refused", wantClass: providers.ClassTransient},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			var p providers.Provider
			if tc.handler == nil {
				p = s.setupRefused(t)
			} else {
				p = s.setup(t, tc.handler, tc.config)
			}

			_, err := p.Status(t.Context(), "gen-1")
			requireSafeError(t, err)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			}
			class, retryAfter := providers.Classify(err)
			require.Equal(t, tc.wantClass, class, "class of %v", err)
			require.Equal(t, tc.wantRetryAfter, retryAfter)
		})
	}

	t.Run("an error answer's JSON body comes back as Raw", func(t *testing.T) {
		t.Parallel()
		body := `{"success":false,"message":"Video not found"}`
		p := s.setup(t, jsonBody(404, body), nil)
		st, err := p.Status(t.Context(), "gen-1")
		class, _ := providers.Classify(err)
		require.Equal(t, providers.ClassNotFound, class)
		require.NotNil(t, st, "the body stays with the error")
		require.JSONEq(t, body, string(st.Raw))
		require.Equal(t, "Video not found", st.ErrorMessage)
	})

	t.Run("body at MaxBodyBytes", func(t *testing.T) {
		t.Parallel()
		p := s.setup(t, respond(200, nil, okBody), func(cfg *providers.Config) {
			cfg.HTTP.MaxBodyBytes = int64(len(okBody))
		})
		_, err := p.Status(t.Context(), "gen-1")
		require.NoError(t, err)
	})
}

// testCancel checks that cancelling the caller's context ends a call that
// the provider would otherwise hold for the whole (long) timeout.
func (s Suite) testCancel(t *testing.T) {
	arrived := make(chan struct{})
	p := s.setup(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		hang(w, r)
	}, func(cfg *providers.Config) { cfg.HTTP.Timeout = time.Hour })

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Status(ctx, "gen-1")
		errc <- err
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the server")
	}
	cancel()
	select {
	case err := <-errc:
		requireSafeError(t, err)
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Status did not return after its context was cancelled")
	}
}

// testConcurrent calls one adapter from several goroutines, for the race
// detector: Status must be safe for concurrent use.
func (s Suite) testConcurrent(t *testing.T, ok Fixture, okBody []byte) {
	p := s.setup(t, respond(http.StatusOK, nil, okBody))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			got, err := p.Status(t.Context(), fmt.Sprintf("gen-%d", i))
			if err == nil && got.State != ok.Want.State {
				err = fmt.Errorf("state %v, want %v", got.State, ok.Want.State)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

// setup starts a fake provider serving handler and builds the adapter
// under test against it; opts, those not nil, adjust the configuration.
func (s Suite) setup(t *testing.T, handler http.HandlerFunc, opts ...func(*providers.Config)) providers.Provider {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		// Free handlers still blocked in hang before Close waits for them.
		srv.CloseClientConnections()
		srv.Close()
	})
	cfg := providers.Config{
		BaseURL: srv.URL,
		APIKey:  secret.Value(apiKey),
		HTTP:    providers.HTTPConfig{Client: srv.Client(), Timeout: 10 * time.Second},
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	p, err := s.Definition.New(cfg)
	require.NoError(t, err)
	return p
}

// setupRefused builds the adapter against an address where nothing
// listens any more.
func (s Suite) setupRefused(t *testing.T) providers.Provider {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	p, err := s.Definition.New(providers.Config{
		BaseURL: srv.URL,
		APIKey:  secret.Value(apiKey),
		HTTP:    providers.HTTPConfig{Timeout: 10 * time.Second},
	})
	require.NoError(t, err)
	return p
}

// requireSafeError requires a non-nil error that does not reveal the API
// key, neither in its text nor in the provider message it carries.
func requireSafeError(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.NotContains(t, err.Error(), apiKey, "the error reveals the API key")
	var he *providers.HTTPError
	if errors.As(err, &he) {
		require.NotContains(t, he.Message, apiKey, "HTTPError.Message reveals the API key")
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

// respond answers every request with code, header and body.
func respond(code int, header http.Header, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		_, _ = w.Write(body)
	}
}

// record hands a copy of each request to seen, then lets next answer it.
func record(seen chan<- *http.Request, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case seen <- r.Clone(context.Background()):
		default: // Only the first request of a test is inspected.
		}
		next(w, r)
	}
}

// received returns the request that record saw. The call that sent it has
// returned, so it is there unless no request was made.
func received(t *testing.T, seen <-chan *http.Request) *http.Request {
	t.Helper()
	select {
	case r := <-seen:
		return r
	default:
		t.Fatal("no request reached the server")
		return nil
	}
}

// hang never answers: it returns when the client goes away.
func hang(_ http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
}

// hangMidBody sends the status line and half of body, then hangs.
func hangMidBody(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		http.NewResponseController(w).Flush()
		hang(w, r)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
