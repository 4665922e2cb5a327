package simulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// api is one provider's status endpoint: where it lives, how it checks keys
// and how it words its answers, together with the generations and faults
// the simulator keeps for it.
type api struct {
	name string
	// prefix is the path up to the ID, with its trailing slash.
	prefix string
	// credential returns the API key a request carries, or "".
	credential func(*http.Request) string
	// deniedStatus answers a missing or wrong key.
	deniedStatus int
	// notFoundMessage is the message of the 404 for an unknown ID.
	notFoundMessage string
	// render returns the body describing g in st, to be encoded as JSON.
	render func(g *generation, st state) any
	// errorBody returns an error body in the provider's shape.
	errorBody func(code, message string) any

	// key is the one key accepted; empty accepts any non-empty key.
	key string
	// Canned error bodies, encoded once.
	notFound, denied, internalError, rateLimited, closing []byte

	faults atomic.Pointer[faultSet]

	mu   sync.RWMutex
	gens map[string]*generation
}

// prepare readies a for serving with the given accepted key.
func (a *api) prepare(key string) {
	a.key = key
	a.gens = make(map[string]*generation)
	a.notFound = mustJSON(a.errorBody("not_found", a.notFoundMessage))
	a.denied = mustJSON(a.errorBody("unauthorized", "Invalid or missing API key"))
	a.internalError = mustJSON(a.errorBody("internal_error", "Internal server error"))
	a.rateLimited = mustJSON(a.errorBody("rate_limit_exceeded", "Too many requests"))
	a.closing = mustJSON(a.errorBody("service_unavailable", "The simulator is shutting down"))
}

// id returns the generation ID in an escaped request path, and whether the
// path is this API's endpoint for one ID.
func (a *api) id(escapedPath string) (string, bool) {
	rest, ok := strings.CutPrefix(escapedPath, a.prefix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	id, err := url.PathUnescape(rest)
	return id, err == nil
}

// authorized reports whether r carries a key this API accepts.
func (a *api) authorized(r *http.Request) bool {
	got := a.credential(r)
	return got != "" && (a.key == "" || got == a.key)
}

// lookup returns the generation with the given ID, creating it with
// create when it is unknown and create is not nil.
func (a *api) lookup(id string, create func(id string) *generation) *generation {
	a.mu.RLock()
	g := a.gens[id]
	a.mu.RUnlock()
	if g != nil || create == nil {
		return g
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if g = a.gens[id]; g == nil {
		g = create(id)
		a.gens[g.id] = g
	}
	return g
}

// store adds g, replacing any generation with the same ID, and returns the
// one replaced, or nil.
func (a *api) store(g *generation) *generation {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.gens[g.id]
	a.gens[g.id] = g
	return old
}

// body returns the encoded response for g in st, reusing the last one
// encoded while the state it describes lasts.
func (a *api) body(g *generation, st state) ([]byte, error) {
	if e := g.body.Load(); e != nil && e.phase == st.phase && e.progress == st.progress {
		return e.body, nil
	}
	body, err := json.Marshal(a.render(g, st))
	if err != nil {
		return nil, err
	}
	g.body.Store(&encodedState{phase: st.phase, progress: st.progress, body: body})
	return body, nil
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN" header,
// or "".
func bearerToken(r *http.Request) string {
	const scheme = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return ""
	}
	return strings.TrimSpace(h[len(scheme):])
}

// apiKeyHeader returns the value of the x-api-key header.
func apiKeyHeader(r *http.Request) string {
	return r.Header.Get("X-Api-Key")
}

// errorObject is the error body of Hoox and Token360, whose failed
// generations carry the same {code, message} object.
type errorObject struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorEnvelope wraps an errorObject as a whole response body.
func errorEnvelope(code, message string) any {
	return struct {
		Error errorObject `json:"error"`
	}{errorObject{Code: code, Message: message}}
}

// mustJSON encodes v, which is built here from strings and cannot fail to
// encode.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("simulator: encode canned body: " + err.Error())
	}
	return b
}
