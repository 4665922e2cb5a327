package simulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/genwatch/genwatch/internal/providers"
)

// api is one provider's status endpoint, as its Definition describes it,
// together with the generations and faults the simulator keeps for it.
type api struct {
	def providers.Definition
	// prefix is the path up to the ID, with its trailing slash; suffix is
	// what follows the ID, if anything.
	prefix, suffix string
	// deniedStatus answers a missing or wrong key.
	deniedStatus int

	// key is the one key accepted; empty accepts any non-empty key.
	key string
	// Canned error bodies, encoded once.
	notFound, denied, internalError, rateLimited, closing []byte

	faults atomic.Pointer[faultSet]

	mu   sync.RWMutex
	gens map[string]*generation
}

// newAPI readies the API that def describes for serving, accepting key.
func newAPI(def providers.Definition, key string) *api {
	before, after, found := strings.Cut(def.Endpoint, providers.IDPlaceholder)
	if !found {
		before = def.Endpoint + "/"
	}
	im := def.Imitation
	if im.DeniedStatus == 0 {
		im.DeniedStatus = http.StatusUnauthorized
	}
	if im.NotFoundMessage == "" {
		im.NotFoundMessage = "Generation not found"
	}
	if im.ErrorBody == nil {
		im.ErrorBody = errorEnvelope
	}
	def.Imitation = im
	return &api{
		def:           def,
		prefix:        before,
		suffix:        after,
		deniedStatus:  im.DeniedStatus,
		key:           key,
		gens:          make(map[string]*generation),
		notFound:      mustJSON(im.ErrorBody("not_found", im.NotFoundMessage)),
		denied:        mustJSON(im.ErrorBody("unauthorized", "Invalid or missing API key")),
		internalError: mustJSON(im.ErrorBody("internal_error", "Internal server error")),
		rateLimited:   mustJSON(im.ErrorBody("rate_limit_exceeded", "Too many requests")),
		closing:       mustJSON(im.ErrorBody("service_unavailable", "The simulator is shutting down")),
	}
}

// name is the provider's name.
func (a *api) name() string { return a.def.Name }

// id returns the generation ID in an escaped request path, and whether the
// path is this API's endpoint for one ID.
func (a *api) id(escapedPath string) (string, bool) {
	rest, ok := strings.CutPrefix(escapedPath, a.prefix)
	if ok {
		rest, ok = strings.CutSuffix(rest, a.suffix)
	}
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	id, err := url.PathUnescape(rest)
	return id, err == nil
}

// authorized reports whether r carries a key this API accepts.
func (a *api) authorized(r *http.Request) bool {
	got := r.Header.Get(a.def.AuthHeader)
	if scheme := a.def.AuthScheme + " "; a.def.AuthScheme != "" {
		if len(got) < len(scheme) || !strings.EqualFold(got[:len(scheme)], scheme) {
			return false
		}
		got = strings.TrimSpace(got[len(scheme):])
	}
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
	body, err := json.Marshal(a.def.Imitation.Render(g.imitated(st)))
	if err != nil {
		return nil, err
	}
	g.body.Store(&encodedState{phase: st.phase, progress: st.progress, body: body})
	return body, nil
}

// errorObject is the error answer of a provider whose Imitation has no
// ErrorBody of its own.
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
