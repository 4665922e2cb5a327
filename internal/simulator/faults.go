package simulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Faults makes one provider misbehave. The zero Faults is a provider that
// behaves. Rates are fractions of requests, from 0 (never) to 1 (always),
// drawn independently for each request.
//
// A request meets the faults in the order of the fields: it is delayed
// (Hang, Latency), then may be answered ForceStatus, an error or a rate
// limit before its key is checked; VanishAfter and MalformedRate apply to
// requests that would otherwise be answered with the generation.
type Faults struct {
	// Hang holds every request until its client gives up or the simulator
	// is closed. It overrides Latency.
	Hang bool
	// Latency delays every answer by this long on the simulator's clock.
	// A request whose client gives up meanwhile is not answered.
	Latency time.Duration
	// ForceStatus, if not zero, answers every request with this status and
	// an error body in the provider's shape, until the faults are changed.
	ForceStatus int
	// ErrorRate answers requests with 500 (the provider's JSON error body),
	// 502 or 503 (an HTML page, as from a gateway), chosen at random.
	ErrorRate float64
	// RateLimitRate answers requests with 429.
	RateLimitRate float64
	// RetryAfter is sent with a 429 as a Retry-After header in whole
	// seconds, rounded up. Zero sends no header.
	RetryAfter time.Duration
	// VanishAfter, if not zero, makes every generation of the provider
	// answer 404 once this long has passed since it was created, as if the
	// provider had deleted it.
	VanishAfter time.Duration
	// MalformedRate answers requests with 200 and the first half of the
	// body, which is not valid JSON.
	MalformedRate float64
}

// faultSet is a provider's Faults with what they answer prepared.
type faultSet struct {
	Faults
	// retryAfter is the Retry-After header value, or "".
	retryAfter string
	// forced is the body answered with Faults.ForceStatus.
	forced []byte
}

func newFaultSet(a *api, f Faults) *faultSet {
	fs := &faultSet{Faults: f}
	if f.RetryAfter > 0 {
		seconds := (f.RetryAfter + time.Second - 1) / time.Second
		fs.retryAfter = strconv.FormatInt(int64(seconds), 10)
	}
	if f.ForceStatus != 0 {
		text := http.StatusText(f.ForceStatus)
		if text == "" {
			text = "Status " + strconv.Itoa(f.ForceStatus)
		}
		code := strings.ToLower(strings.ReplaceAll(text, " ", "_"))
		fs.forced = mustJSON(a.errorBody(code, text))
	}
	return fs
}

// vanished reports whether g has been forgotten by now. A nil f forgets
// nothing.
func (f *faultSet) vanished(g *generation, now time.Time) bool {
	return f != nil && f.VanishAfter > 0 && now.Sub(g.created) >= f.VanishAfter
}

// injectFault answers r as f says, before the request reaches its
// generation, and reports whether it did (or whether the client left while
// it was held, so that no answer is due).
func (s *Simulator) injectFault(w http.ResponseWriter, r *http.Request, a *api, f *faultSet) bool {
	if (f.Hang || f.Latency > 0) && s.hold(w, r, a, f) {
		return true
	}
	switch {
	case f.ForceStatus != 0:
		writeJSON(w, f.ForceStatus, f.forced)
	case s.chance(f.ErrorRate):
		switch status := s.pick(http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable); status {
		case http.StatusInternalServerError:
			writeJSON(w, status, a.internalError)
		default:
			writeGatewayPage(w, status)
		}
	case s.chance(f.RateLimitRate):
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		writeJSON(w, http.StatusTooManyRequests, a.rateLimited)
	default:
		return false
	}
	return true
}

// hold keeps r waiting for f's latency, or until its client gives up if f
// hangs. It reports whether r is done with: its client left, or the
// simulator was closed and r has been answered 503.
func (s *Simulator) hold(w http.ResponseWriter, r *http.Request, a *api, f *faultSet) bool {
	var elapsed <-chan time.Time // nil, so never ready, when f hangs
	if !f.Hang {
		t := s.clock.NewTimer(f.Latency)
		defer t.Stop()
		elapsed = t.Chan()
	}
	select {
	case <-elapsed:
		return false
	case <-r.Context().Done():
		return true
	case <-s.closed:
		writeJSON(w, http.StatusServiceUnavailable, a.closing)
		return true
	}
}

// chance reports true with probability p.
func (s *Simulator) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

// pick returns one of choices at random.
func (s *Simulator) pick(choices ...int) int {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return choices[s.rng.IntN(len(choices))]
}

// writeGatewayPage answers the way a reverse proxy in front of the
// provider does, with HTML where a client expects JSON.
func writeGatewayPage(w http.ResponseWriter, status int) {
	title := strconv.Itoa(status) + " " + http.StatusText(status)
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n</body>\r\n</html>\r\n", title, title)
}
