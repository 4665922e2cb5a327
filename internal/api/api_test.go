package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/api"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// Tokens of the tests.
const (
	apiToken   = "api-token-0123456789"
	otherToken = "api-token-other-0123"
	hooksToken = "hooks-token-0123456789"
)

// bundle is a worker serving the API on Redis and the simulator, and a
// client whose every answer is validated against the OpenAPI document.
type bundle struct {
	*clitest.Env
	worker *worker.Worker
	// base is the API's URL.
	base string
	http *http.Client
}

// options change a test's worker configuration and simulator.
type options struct {
	sim    simulator.Config
	config func(*worker.Config)
	// logger, if set, is the worker's.
	logger *zap.Logger
}

func setup(t *testing.T, opts options) *bundle {
	t.Helper()
	env := clitest.NewWith(t, redistest.New(t), redistest.Name(t, "q"), opts.sim)
	env.Config.APIAddr = "127.0.0.1:0"
	env.Config.APITokens = []secret.Value{apiToken, otherToken}
	env.Config.HooksToken = hooksToken
	if opts.config != nil {
		opts.config(&env.Config)
	}
	var w *worker.Worker
	if opts.logger == nil {
		w = env.Start(t)
	} else {
		w = start(t, env, worker.Options{Redis: env.Redis.Client, Logger: opts.logger})
	}
	return &bundle{
		Env:    env,
		worker: w,
		base:   "http://" + w.APIAddr().String(),
		http:   &http.Client{Transport: newValidator(t, http.DefaultTransport), Timeout: 30 * time.Second},
	}
}

// call sends a request with the test token and returns the status and body.
func (b *bundle) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	return b.callWith(t, method, path, body, "Bearer "+apiToken)
}

func (b *bundle) callWith(t *testing.T, method, path string, body any, auth string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		enc, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.base+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := b.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// status returns the API's view of a generation.
func (b *bundle) status(t *testing.T, provider, id string) (int, generation) {
	t.Helper()
	code, body := b.call(t, http.MethodGet, genPath(provider, id), nil)
	var g generation
	if code == http.StatusOK {
		require.NoError(t, json.Unmarshal(body, &g), "%s", body)
	}
	return code, g
}

// waitState waits until the API shows the generation in state.
func (b *bundle) waitState(t *testing.T, provider, id, state string) generation {
	t.Helper()
	var g generation
	require.Eventually(t, func() bool {
		code, got := b.status(t, provider, id)
		g = got
		return code == http.StatusOK && got.State == state
	}, clitest.WaitFor, 20*time.Millisecond, "%s:%s never became %s", provider, id, state)
	return g
}

func genPath(provider, id string) string {
	return "/v1/generations/" + url.PathEscape(provider) + "/" + url.PathEscape(id)
}

// generation is the status answer, decoded.
type generation struct {
	TaskID         string          `json:"task_id"`
	State          string          `json:"state"`
	Polls          int             `json:"polls"`
	Progress       *int            `json:"progress"`
	ProviderStatus string          `json:"provider_status"`
	NextPollAt     *time.Time      `json:"next_poll_at"`
	ETA            *time.Time      `json:"eta"`
	Account        string          `json:"account"`
	Event          *genwatch.Event `json:"event"`
}

type trackResult struct {
	TaskID         string `json:"task_id"`
	AlreadyTracked bool   `json:"already_tracked"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeError(t *testing.T, body []byte) apiError {
	t.Helper()
	var e apiError
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	require.NotEmpty(t, e.Error.Code, "%s", body)
	require.NotEmpty(t, e.Error.Message, "%s", body)
	return e
}

// validator checks every answer of the API against the OpenAPI document.
// An answer to a path or method the document does not have must be a JSON
// error, 404 or 405.
type validator struct {
	t      *testing.T
	router routers.Router
	next   http.RoundTripper
}

// registerDecoders teaches kin-openapi to read an event stream as text.
var registerDecoders sync.Once

func newValidator(t *testing.T, next http.RoundTripper) *validator {
	t.Helper()
	registerDecoders.Do(func() {
		openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	})
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &validator{t: t, router: router, next: next}
}

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	v.check(req, resp, body)
	return resp, nil
}

// check validates one answer, whose body (or, for a stream, the part read)
// is body.
func (v *validator) check(req *http.Request, resp *http.Response, body []byte) {
	v.t.Helper()
	what := fmt.Sprintf("%s %s -> %d %s", req.Method, req.URL.EscapedPath(), resp.StatusCode, body)

	route, params, err := v.router.FindRoute(req)
	if err != nil {
		require.Contains(v.t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, resp.StatusCode, "undocumented: %s", what)
		require.Equal(v.t, "application/json", resp.Header.Get("Content-Type"), what)
		decodeError(v.t, body)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	require.NoError(v.t, openapi3filter.ValidateResponse(req.Context(), in), what)
}

func TestTrackOne(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.Sim.Create(simulator.Hooked, "vid-1", simulator.Plan{RunFor: 2 * time.Second})

	code, body := b.call(t, http.MethodPost, "/v1/generations", map[string]any{
		"provider": "hooked", "generation_id": "vid-1", "metadata": map[string]any{"order": 42},
	})
	require.Equal(t, http.StatusAccepted, code, "%s", body)
	require.JSONEq(t, `{"task_id":"hooked:vid-1","already_tracked":false}`, string(body))

	code, body = b.call(t, http.MethodPost, "/v1/generations", `{"provider":"hooked","generation_id":"vid-1"}`)
	require.Equal(t, http.StatusAccepted, code)
	require.JSONEq(t, `{"task_id":"hooked:vid-1","already_tracked":true}`, string(body))

	g := b.waitState(t, "hooked", "vid-1", api.StateEnded)
	require.Equal(t, genwatch.StatusCompleted, g.Event.Status)
	require.JSONEq(t, `{"order":42}`, string(g.Event.Metadata))
	require.Equal(t, "hooked:vid-1", g.TaskID)
	require.Equal(t, g.Event.Polls, g.Polls)
	require.Nil(t, g.NextPollAt)
	require.Nil(t, g.ETA, "an ended generation has no estimate")
}

func TestTrackBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	var reqs []map[string]any
	for i := range 50 {
		reqs = append(reqs, map[string]any{"provider": "token360", "generation_id": fmt.Sprint("never-", i)})
	}
	reqs = append(reqs, map[string]any{"provider": "hoox", "generation_id": "never-0"})
	code, body := b.call(t, http.MethodPost, "/v1/generations", map[string]any{"requests": reqs[:10]})
	require.Equal(t, http.StatusAccepted, code, "%s", body)

	code, body = b.call(t, http.MethodPost, "/v1/generations", map[string]any{"requests": reqs})
	require.Equal(t, http.StatusAccepted, code, "%s", body)
	var results []trackResult
	require.NoError(t, json.Unmarshal(body, &results))
	require.Len(t, results, len(reqs))
	for i, r := range results {
		require.Equal(t, fmt.Sprintf("%s:%s", reqs[i]["provider"], reqs[i]["generation_id"]), r.TaskID, "in order")
		require.Equal(t, i < 10, r.AlreadyTracked, r.TaskID)
	}
	for _, r := range results {
		_, err := b.Control.Status(t.Context(), r.TaskID)
		require.NoError(t, err, "tracked: %s", r.TaskID)
	}
}

func TestTrackRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	long := strings.Repeat("x", genwatch.MaxGenerationIDBytes+1)
	bigMeta := `{"k":"` + strings.Repeat("x", genwatch.MaxMetadataBytes) + `"}`
	tests := []struct {
		desc string
		body string
		want []string
	}{
		{"not JSON", `provider=hoox`, []string{"must be a JSON object"}},
		{"empty body", ``, []string{"must be a JSON object"}},
		{"an array", `[{"provider":"hoox","generation_id":"a"}]`, []string{"must be a JSON object"}},
		{"no provider", `{"generation_id":"a"}`, []string{"provider is required"}},
		{"unknown provider", `{"provider":"acme","generation_id":"a"}`, []string{`unknown provider "acme"`}},
		{"no generation_id", `{"provider":"hoox"}`, []string{"generation_id is required"}},
		{"long generation_id", `{"provider":"hoox","generation_id":"` + long + `"}`, []string{"generation_id is 257 bytes, at most 256 allowed"}},
		{"dot-dot generation_id", `{"provider":"hoox","generation_id":".."}`, []string{`generation_id ".." is not a valid id`}},
		{"unknown account", `{"provider":"hoox","generation_id":"a","account":"team-x"}`, []string{`unknown account "team-x" for provider hoox`}},
		{"metadata not an object", `{"provider":"hoox","generation_id":"a","metadata":[1]}`, []string{"metadata must be a JSON object"}},
		{"metadata too large", `{"provider":"hoox","generation_id":"a","metadata":` + bigMeta + `}`, []string{"metadata is 16392 bytes encoded, at most 16384 allowed"}},
		{"negative max_wait_seconds", `{"provider":"hoox","generation_id":"a","max_wait_seconds":-1}`, []string{"max_wait_seconds must not be negative"}},
		{"negative expected_seconds", `{"provider":"hoox","generation_id":"a","expected_seconds":-5}`, []string{"expected_seconds must not be negative"}},
		{"bad enqueued_at", `{"provider":"hoox","generation_id":"a","enqueued_at":"yesterday"}`, []string{"decode payload", "yesterday"}},
		{"wrong type", `{"provider":"hoox","generation_id":7}`, []string{"decode payload", "generation_id"}},
		{"unknown field", `{"provider":"hoox","generation_id":"a","max_wait":5}`, []string{`unknown field "max_wait"`}},
		{"several problems", `{"provider":"","generation_id":"","max_wait_seconds":-1}`, []string{"provider is required", "generation_id is required", "max_wait_seconds"}},
		{"empty batch", `{"requests":[]}`, []string{"requests must hold at least one request"}},
		{"batch with another key", `{"requests":[{"provider":"hoox","generation_id":"a"}],"x":1}`, []string{`unknown field "x"`}},
		{"batch of the wrong type", `{"requests":{"provider":"hoox"}}`, []string{"decode batch"}},
		{"batch with an invalid request", `{"requests":[{"provider":"hoox","generation_id":"ok-1"},{"provider":"hoox"},{"provider":"x","generation_id":"b"}]}`,
			[]string{"requests[1]: generation_id is required", `requests[2]: unknown provider "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			code, body := b.call(t, http.MethodPost, "/v1/generations", tt.body)
			require.Equal(t, http.StatusBadRequest, code, "%s", body)
			e := decodeError(t, body)
			require.Equal(t, api.CodeInvalidRequest, e.Error.Code)
			for _, w := range tt.want {
				require.Contains(t, e.Error.Message, w)
			}
		})
	}
	// Nothing of an invalid batch was enqueued, not even its valid request.
	_, err := b.Control.Status(t.Context(), "hoox:ok-1")
	require.ErrorIs(t, err, genwatch.ErrNotTracked)

	var reqs []map[string]string
	for i := range api.MaxBatch + 1 {
		reqs = append(reqs, map[string]string{"provider": "hoox", "generation_id": fmt.Sprint("id-", i)})
	}
	code, body := b.call(t, http.MethodPost, "/v1/generations", map[string]any{"requests": reqs})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, decodeError(t, body).Error.Message, "requests holds 1001 requests, at most 1000 allowed")
	_, err = b.Control.Status(t.Context(), "hoox:id-0")
	require.ErrorIs(t, err, genwatch.ErrNotTracked)
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	code, body := b.call(t, http.MethodPost, "/v1/generations", bytes.Repeat([]byte(" "), api.DefaultMaxBodyBytes+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Equal(t, api.CodeTooLarge, decodeError(t, body).Error.Code)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	calls := []struct{ method, path string }{
		{http.MethodPost, "/v1/generations"},
		{http.MethodGet, genPath("hoox", "a")},
		{http.MethodDelete, genPath("hoox", "a")},
	}
	for _, c := range calls {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + apiToken, "Bearer", "Bearer " + apiToken + "x"} {
			code, body := b.callWith(t, c.method, c.path, `{"provider":"hoox","generation_id":"a"}`, auth)
			require.Equal(t, http.StatusUnauthorized, code, "%s %s with %q", c.method, c.path, auth)
			require.Equal(t, api.CodeUnauthorized, decodeError(t, body).Error.Code)
		}
	}
	_, err := b.Control.Status(t.Context(), "hoox:a")
	require.ErrorIs(t, err, genwatch.ErrNotTracked, "nothing enqueued without a token")

	// Either token works; the scheme is case-insensitive.
	code, _ := b.callWith(t, http.MethodPost, "/v1/generations", `{"provider":"hoox","generation_id":"a"}`, "bearer "+otherToken)
	require.Equal(t, http.StatusAccepted, code)

	// The document needs no token.
	code, doc := b.callWith(t, http.MethodGet, "/v1/openapi.json", nil, "")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, string(api.OpenAPI()), string(doc))
}

func TestNoTokensRefusesEverything(t *testing.T) {
	t.Parallel()
	b := setup(t, options{config: func(c *worker.Config) { c.APITokens = nil }})
	code, body := b.call(t, http.MethodPost, "/v1/generations", `{"provider":"hoox","generation_id":"a"}`)
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, decodeError(t, body).Error.Message, "no API tokens are configured")
}

func TestStatusWaitingThenEnded(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	// Long enough to be seen waiting on a loaded machine.
	b.Sim.Create(simulator.Token360, "v/1", simulator.Plan{RunFor: 10 * time.Second})
	code, body := b.call(t, http.MethodPost, "/v1/generations", `{"provider":"token360","generation_id":"v/1"}`)
	require.Equal(t, http.StatusAccepted, code, "%s", body)

	var g generation
	require.Eventually(t, func() bool {
		_, g = b.status(t, "token360", "v/1")
		return g.State == api.StateWaiting && g.Polls >= 1 && g.NextPollAt != nil && g.Progress != nil
	}, clitest.WaitFor, 20*time.Millisecond)
	require.Equal(t, "in_progress", g.ProviderStatus)
	require.NotNil(t, g.ETA, "a waiting generation has an estimated end")
	require.Equal(t, "token360:v/1", g.TaskID)
	require.Equal(t, genwatch.DefaultAccount, g.Account)
	require.Nil(t, g.Event)

	g = b.waitState(t, "token360", "v/1", api.StateEnded)
	require.Equal(t, "v/1", g.Event.GenerationID)
	require.Equal(t, "completed", g.ProviderStatus)
	require.Equal(t, 100, *g.Event.Progress)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.Sim.Create(simulator.Hoox, "long", simulator.Plan{Outcome: simulator.Never})
	b.Sim.Create(simulator.Hoox, "short", simulator.Plan{})
	code, _ := b.call(t, http.MethodPost, "/v1/generations", `{"requests":[{"provider":"hoox","generation_id":"long"},{"provider":"hoox","generation_id":"short"}]}`)
	require.Equal(t, http.StatusAccepted, code)
	b.waitState(t, "hoox", "short", api.StateEnded)
	require.Eventually(t, func() bool { _, g := b.status(t, "hoox", "long"); return g.Polls >= 1 }, clitest.WaitFor, 20*time.Millisecond)

	code, body := b.call(t, http.MethodDelete, genPath("hoox", "long"), nil)
	require.Equal(t, http.StatusOK, code, "%s", body)
	var ev genwatch.Event
	require.NoError(t, json.Unmarshal(body, &ev))
	require.Equal(t, genwatch.StatusCanceled, ev.Status)
	g := b.waitState(t, "hoox", "long", api.StateEnded)
	require.Equal(t, ev.ID, g.Event.ID)

	// Canceling again, or an ended generation, answers the event that stands.
	code, body = b.call(t, http.MethodDelete, genPath("hoox", "long"), nil)
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal(body, &ev))
	require.Equal(t, genwatch.StatusCanceled, ev.Status)
	code, body = b.call(t, http.MethodDelete, genPath("hoox", "short"), nil)
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal(body, &ev))
	require.Equal(t, genwatch.StatusCompleted, ev.Status)
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		code, body := b.call(t, method, genPath("hooked", "nobody/here"), nil)
		require.Equal(t, http.StatusNotFound, code)
		e := decodeError(t, body)
		require.Equal(t, api.CodeNotTracked, e.Error.Code)
		require.Contains(t, e.Error.Message, "hooked:nobody/here: generation is not tracked")
	}
	code, body := b.call(t, http.MethodGet, "/v1/nothing", nil)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, api.CodeNotFound, decodeError(t, body).Error.Code)
	code, body = b.call(t, http.MethodPut, genPath("hooked", "a"), nil)
	require.Equal(t, http.StatusMethodNotAllowed, code)
	require.Equal(t, api.CodeMethodNotAllowed, decodeError(t, body).Error.Code)
	code, _ = b.call(t, http.MethodGet, "/v1/generations", nil)
	require.Equal(t, http.StatusMethodNotAllowed, code)
	// An unescaped slash is two segments: no such endpoint.
	code, _ = b.call(t, http.MethodGet, "/v1/generations/hooked/a/b", nil)
	require.Equal(t, http.StatusNotFound, code)
}

func TestAPIOffByDefault(t *testing.T) {
	t.Parallel()
	env := clitest.New(t)
	w := env.Start(t)
	require.Nil(t, w.APIAddr())
}

func TestPortClashNamesTheVariable(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	cfg := b.Config
	cfg.APIAddr = b.worker.APIAddr().String()
	_, err := worker.New(cfg, worker.Options{Redis: b.Redis.Client})
	require.ErrorContains(t, err, "api_addr (GENWATCH_API_ADDR, worker --api)")
	cfg.APIAddr = "127.0.0.1:0"
	cfg.HTTPAddr = b.worker.APIAddr().String()
	_, err = worker.New(cfg, worker.Options{Redis: b.Redis.Client})
	require.ErrorContains(t, err, "http_addr (GENWATCH_HTTP_ADDR, worker --http)")
}

// start runs a worker with opts on env until the test ends.
func start(t *testing.T, env *clitest.Env, opts worker.Options) *worker.Worker {
	t.Helper()
	w, err := worker.New(env.Config, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	return w
}

func TestMountedRoute(t *testing.T) {
	t.Parallel()
	env := clitest.New(t)
	env.Config.APIAddr = "127.0.0.1:0"
	env.Config.APITokens = []secret.Value{apiToken}
	w := start(t, env, worker.Options{
		Redis: env.Redis.Client,
		APIRoutes: map[string]http.Handler{"GET /v1/hello": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, "hello")
		})},
	})

	get := func(auth string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+w.APIAddr().String()+"/v1/hello", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("Bearer " + apiToken)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "hello", body)
	code, _ = get("")
	require.Equal(t, http.StatusUnauthorized, code, "mounted routes are behind the token")
}
