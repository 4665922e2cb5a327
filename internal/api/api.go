// Package api serves genwatch's public HTTP API, on a listener of its own
// (api_addr) apart from the loopback operations listener, so that a service
// in any language can track generations and providers can send webhooks.
//
// Tracking calls (/v1/generations) need "Authorization: Bearer <token>" with
// one of the configured tokens, compared in constant time; with no token
// configured every one of them is refused. POST validates every request of a
// body with the Go client's own code (genwatch.DecodeRequest and
// Client.Validate, as the CLI does) before enqueueing any, and enqueues a
// batch concurrently; GET and DELETE show and cancel a generation through
// tasks.Control. Provider webhooks (/v1/hooks/{provider}/{hooks token}) are
// hints: the generation ID is found where the provider's status body keeps
// it and handed to a hint.Poller, which makes a waiting generation poll now;
// the answer never tells whether it is tracked. GET /v1/openapi.json, the
// only call without a token, describes the whole API.
//
// Every error is JSON, {"error": {"code", "message"}}. Bodies are limited,
// calls time out, generation IDs in paths are one escaped segment, and no
// token is ever logged: only a route's pattern is.
//
// Further handlers, such as the event stream, mount through Config.Routes
// behind the same token check.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/hint"
	"github.com/genwatch/genwatch/internal/tasks"
	"github.com/genwatch/genwatch/secret"
)

// Config configures the API.
type Config struct {
	// Client validates and enqueues tracking requests. Required.
	Client *genwatch.Client
	// Control shows and cancels tracked generations. Required.
	Control *tasks.Control
	// Tokens are the bearer tokens tracking calls accept. None: every
	// tracking call is refused with 401.
	Tokens []secret.Value
	// Hooks configures the provider webhook endpoint.
	Hooks Hooks
	// Routes are further handlers by http.ServeMux pattern (for example
	// "GET /v1/events"), served behind the bearer token check without a
	// call timeout: a streaming handler clears its write deadline with
	// http.ResponseController.
	Routes map[string]http.Handler
	// Logger logs failures, never a token. If nil, nothing is logged.
	Logger *zap.Logger
	// MaxBodyBytes bounds a POST /v1/generations body. If zero,
	// DefaultMaxBodyBytes, room for a full batch with the largest metadata.
	MaxBodyBytes int64
	// CallTimeout bounds one tracking call. If zero, DefaultCallTimeout.
	CallTimeout time.Duration
	// EnqueueConcurrency is how many requests of a batch are enqueued at
	// once. If zero, DefaultEnqueueConcurrency.
	EnqueueConcurrency int
}

// Hooks configures POST /v1/hooks/{provider}/{token}.
type Hooks struct {
	// Token is the secret path segment. Empty: every hook call is
	// answered 404.
	Token secret.Value
	// IDPaths maps each provider name to the gjson paths, tried in order,
	// where its webhook body keeps the generation ID. A provider without
	// paths is answered 404.
	IDPaths map[string][]string
	// Poller is handed each hint. Required with Token.
	Poller hint.Poller
	// Observer counts hook calls. If nil, nothing is counted.
	Observer HookObserver
}

// HookObserver counts hook calls by provider and outcome (a hint.Outcome,
// or one of the Hook* outcomes). Implementations must be cheap and safe for
// concurrent use.
type HookObserver interface {
	Hook(provider, outcome string)
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes       = 20 << 20
	DefaultCallTimeout        = 30 * time.Second
	DefaultEnqueueConcurrency = 128
	// MaxBatch is the most requests one POST may carry.
	MaxBatch = 1000
	// MaxHookBodyBytes bounds a webhook body.
	MaxHookBodyBytes = 64 << 10
)

// Error codes of the JSON error body.
const (
	CodeInvalidRequest   = "invalid_request"
	CodeUnauthorized     = "unauthorized"
	CodeNotTracked       = "not_tracked"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "too_large"
	CodeUnavailable      = "unavailable"
)

// API is the handler of the public listener.
type API struct {
	cfg    Config
	log    *zap.Logger
	tokens [][sha256.Size]byte
	hooks  hookKeys
	mux    *http.ServeMux
}

// New returns the API; see Config for the defaults.
func New(cfg Config) (*API, error) {
	if cfg.Client == nil || cfg.Control == nil {
		return nil, errors.New("api: Client and Control are required")
	}
	if cfg.Hooks.Token != "" && cfg.Hooks.Poller == nil {
		return nil, errors.New("api: Hooks.Poller is required with Hooks.Token")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.EnqueueConcurrency <= 0 {
		cfg.EnqueueConcurrency = DefaultEnqueueConcurrency
	}
	a := &API{cfg: cfg, log: cfg.Logger, hooks: newHookKeys(cfg.Hooks.Token)}
	for _, tok := range cfg.Tokens {
		a.tokens = append(a.tokens, sha256.Sum256([]byte(tok.Reveal())))
	}
	a.mux = a.routes()
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// NewServer returns an http.Server for h with the API's limits: headers
// within 10 s and 64 KiB, a body within 1 min, an answer within 1 min
// (a streaming handler clears its own write deadline), idle connections
// kept 2 min. Its own error log goes to log at warn level.
func NewServer(h http.Handler, log *zap.Logger) *http.Server {
	if log == nil {
		log = zap.NewNop()
	}
	errLog, _ := zap.NewStdLogAt(log, zap.WarnLevel)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog,
	}
}

func (a *API) routes() *http.ServeMux {
	mux := http.NewServeMux()
	tracking := func(h http.HandlerFunc) http.Handler { return a.authorized(a.timed(h)) }
	mux.Handle("POST /v1/generations", tracking(a.track))
	mux.Handle("GET /v1/generations/{provider}/{generation_id}", tracking(a.status))
	mux.Handle("DELETE /v1/generations/{provider}/{generation_id}", tracking(a.cancel))
	mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI)
	mux.HandleFunc("POST /v1/hooks/{provider}/{token}", a.hook)
	for pattern, h := range a.cfg.Routes {
		mux.Handle(pattern, a.authorized(h))
	}
	// JSON answers for the rest: a known path with another method, or
	// nothing at all.
	allowed := map[string]string{
		"/v1/generations": "POST",
		"/v1/generations/{provider}/{generation_id}": "GET, DELETE",
		"/v1/openapi.json":                           "GET",
		"/v1/hooks/{provider}/{token}":               "POST",
	}
	for pattern := range a.cfg.Routes {
		if method, path, ok := strings.Cut(pattern, " "); ok && allowed[path] == "" {
			allowed[path] = method
		}
	}
	for path, allow := range allowed {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			WriteError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed; allowed: "+allow)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		WriteError(w, http.StatusNotFound, CodeNotFound, "no such endpoint; see /v1/openapi.json")
	})
	return mux
}

// authorized lets a request through when it carries one of the tokens.
func (a *API) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg, ok := a.checkToken(r); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="genwatch"`)
			WriteError(w, http.StatusUnauthorized, CodeUnauthorized, msg)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkToken compares the request's bearer token with every configured
// one, in time independent of where, or whether, it matches.
func (a *API) checkToken(r *http.Request) (string, bool) {
	if len(a.tokens) == 0 {
		return "no API tokens are configured (api_tokens, GENWATCH_API_TOKENS): every call is refused", false
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "an Authorization: Bearer <token> header is required", false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	match := 0
	for _, want := range a.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	if match != 1 {
		return "the bearer token is not accepted", false
	}
	return "", true
}

// timed bounds a tracking call by CallTimeout.
func (a *API) timed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.CallTimeout)
		defer cancel()
		h(w, r.WithContext(ctx))
	}
}

// errorBody is every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError answers with the API's JSON error body,
// {"error": {"code", "message"}}, code being one of the Code constants.
// Handlers served beside the API (Config.Routes) answer errors with it too.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// failed answers 503 for a failure of Redis or another dependency, and logs
// it with the route's pattern, never the URL. The cause stays in the log.
func (a *API) failed(w http.ResponseWriter, r *http.Request, message string, err error) {
	a.log.Error("api call failed", zap.String("route", r.Pattern), zap.Error(err))
	WriteError(w, http.StatusServiceUnavailable, CodeUnavailable, message)
}
