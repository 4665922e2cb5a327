package simulator

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jonboulle/clockwork"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/builtin"
)

// Config configures a Simulator. The zero Config serves only generations
// made with Create, accepts any non-empty key and runs on the real clock.
type Config struct {
	// Clock measures the life of generations and Faults.Latency. If nil,
	// the real clock is used.
	Clock clockwork.Clock
	// Providers are the providers served, as their Definitions describe
	// them. If nil, the built-in ones (package builtin).
	Providers []providers.Definition
	// Keys maps a provider name to the one API key it accepts. A provider
	// with no entry accepts any non-empty key.
	Keys map[string]string
	// AutoCreate creates an unknown ID on its first request, with a plan
	// read from the ID (see the package comment). If false, unknown IDs
	// are answered 404.
	AutoCreate bool
	// DefaultPlan is the plan of auto-created generations whose ID has no
	// known prefix, and the base that prefixes change. If zero, each ID
	// gets a few seconds pending and running, varied by a hash of the ID.
	DefaultPlan Plan
	// Seed seeds the random choices of Faults and the fates of Callbacks.
	// Zero is a seed like any other: a Simulator always draws the same
	// sequence for the same seed.
	Seed int64
	// Callbacks, when it has URLs, makes the simulator POST a webhook when
	// a generation ends, as the providers do. See Callbacks.
	Callbacks Callbacks
}

// Simulator serves the status endpoints of its providers. It is safe for
// concurrent use. Create one with New.
type Simulator struct {
	clock       clockwork.Clock
	autoCreate  bool
	defaultPlan Plan
	apis        []*api
	callbacks   *callbacks

	total     atomic.Int64
	counts    faultCounters
	closed    chan struct{}
	closeOnce sync.Once

	rngMu sync.Mutex
	rng   *rand.Rand
}

// New returns a Simulator configured by cfg.
func New(cfg Config) *Simulator {
	s := &Simulator{
		clock:       cfg.Clock,
		autoCreate:  cfg.AutoCreate,
		defaultPlan: cfg.DefaultPlan,
		closed:      make(chan struct{}),
		rng:         rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
	}
	if s.clock == nil {
		s.clock = clockwork.NewRealClock()
	}
	s.callbacks = newCallbacks(cfg.Callbacks, cfg.Seed, s.clock)
	defs := cfg.Providers
	if defs == nil {
		defs = builtin.Definitions()
	}
	for _, def := range defs {
		s.apis = append(s.apis, newAPI(def, cfg.Keys[def.Name]))
	}
	return s
}

// ServeHTTP answers a status request for any of the providers.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.total.Add(1)
	a, id := s.route(r.URL.EscapedPath())
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}

	g := s.generation(a, id)
	if g != nil {
		g.requests.Add(1)
	}
	f := a.faults.Load()
	if f != nil && s.injectFault(w, r, a, f) {
		return
	}
	if !a.authorized(r) {
		writeJSON(w, a.deniedStatus, a.denied)
		return
	}
	if g == nil {
		writeJSON(w, http.StatusNotFound, a.notFound)
		return
	}
	now := s.clock.Now()
	st := g.stateAt(now)
	if st.phase == phaseHidden {
		writeJSON(w, http.StatusNotFound, a.notFound)
		return
	}
	if g.vanished(now) || f.vanished(g, now) {
		s.counts.vanished.Add(1)
		writeJSON(w, http.StatusNotFound, a.notFound)
		return
	}
	body, err := a.body(g, st)
	if err != nil {
		http.Error(w, "simulator: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.writeGeneration(w, r, f, body)
}

// Create adds a generation that follows p from now on, replacing any
// generation of the provider with the same ID. It panics if the simulator
// does not serve provider.
func (s *Simulator) Create(provider, id string, p Plan) {
	a := s.mustAPI(provider)
	g := newGeneration(a.def, id, p, s.clock.Now())
	s.callbacks.schedule(a, g)
	if old := a.store(g); old != nil && old.callback != nil {
		old.callback.Stop()
	}
}

// SetFaults replaces the faults of provider; the zero Faults clears them.
// Rate-limit bursts count from now. It panics if the simulator does not
// serve provider.
func (s *Simulator) SetFaults(provider string, f Faults) {
	a := s.mustAPI(provider)
	if f.none() {
		a.faults.Store(nil)
		return
	}
	a.faults.Store(newFaultSet(a, f, s.clock.Now()))
}

// Requests returns how many status requests have reached the generation
// of provider with the given ID, whatever they were answered, or 0 if there
// is no such generation. Requests for an ID that was never created, by
// Create or AutoCreate, are not counted here; create the ID with
// Plan.HiddenFor set to Forever to count the polls of a missing generation.
func (s *Simulator) Requests(provider, id string) int {
	a := s.api(provider)
	if a == nil {
		return 0
	}
	g := a.lookup(id, nil)
	if g == nil {
		return 0
	}
	return int(g.requests.Load())
}

// TotalRequests returns how many HTTP requests the simulator has received,
// for any path.
func (s *Simulator) TotalRequests() int64 {
	return s.total.Load()
}

// CallbackCounts returns how many webhooks Config.Callbacks has sent, lost
// and so on so far.
func (s *Simulator) CallbackCounts() CallbackCounts { return s.callbacks.counts() }

// Close answers 503 to every request held by Faults.Hang or
// Faults.Latency, now and from now on, so that a server in front of the
// simulator can shut down, and cancels the webhooks not sent yet. Other
// requests are served as before. Close may be called more than once.
func (s *Simulator) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.callbacks.stop(s.apis[:])
	})
}

// route returns the API that serves escapedPath and the generation ID in
// it, or nil when no API does. A path under "/<name>/" goes to the provider
// of that name; any other to the first provider whose endpoint it is.
func (s *Simulator) route(escapedPath string) (*api, string) {
	for _, a := range s.apis {
		if rest, ok := strings.CutPrefix(escapedPath, "/"+a.name()); ok {
			if id, ok := a.id(rest); ok {
				return a, id
			}
		}
	}
	for _, a := range s.apis {
		if id, ok := a.id(escapedPath); ok {
			return a, id
		}
	}
	return nil, ""
}

// generation returns the generation of a with the given ID, creating it
// if the simulator auto-creates generations, or nil.
func (s *Simulator) generation(a *api, id string) *generation {
	if !s.autoCreate {
		return a.lookup(id, nil)
	}
	return a.lookup(id, func(id string) *generation {
		id = strings.Clone(id) // it may point into a request's URL
		g := newGeneration(a.def, id, autoPlan(id, s.defaultPlan), s.clock.Now())
		s.callbacks.schedule(a, g)
		return g
	})
}

func (s *Simulator) api(provider string) *api {
	for _, a := range s.apis {
		if a.name() == provider {
			return a
		}
	}
	return nil
}

func (s *Simulator) mustAPI(provider string) *api {
	a := s.api(provider)
	if a == nil {
		panic("simulator: unknown provider " + provider)
	}
	return a
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
