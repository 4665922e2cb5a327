package simulator

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults makes one provider misbehave. The zero Faults is a provider that
// behaves. Rates are fractions of requests, from 0 (never) to 1 (always),
// drawn independently for each request.
//
// A request meets the faults in the order of the fields: it is held (Hang,
// HangRate, Latency), then may be answered ForceStatus, a rate-limit burst,
// one of StatusRates, an error or a rate limit before its key is checked;
// VanishAfter, MalformedRate, TruncateRate and SlowBodyRate apply to
// requests that would otherwise be answered with the generation.
type Faults struct {
	// Hang holds every request until its client gives up or the simulator
	// is closed. It overrides Latency.
	Hang bool
	// HangRate holds requests as Hang does.
	HangRate float64
	// Latency delays every answer by this long on the simulator's clock.
	// A request whose client gives up meanwhile is not answered.
	Latency time.Duration
	// ForceStatus, if not zero, answers every request with this status and
	// an error body in the provider's shape, until the faults are changed.
	ForceStatus int
	// RateLimitBurst answers every request with 429 (and RetryAfter) for
	// this long from the moment the faults are set, as a provider does when
	// a quota shared with other clients runs out. Zero sends no burst.
	RateLimitBurst time.Duration
	// RateLimitEvery, if not zero, starts another burst of RateLimitBurst
	// this long after the start of the previous one.
	RateLimitEvery time.Duration
	// StatusRates answers requests with a status code at the rate given
	// for it; the rates add up (one draw per request) and should not
	// exceed 1 together. 502, 503 and 504 come as an HTML page, as from a
	// gateway; 429 with RetryAfter; any other code with the provider's JSON
	// error body.
	StatusRates map[int]float64
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
	// provider had deleted it. Plan.VanishAfter does the same for one
	// generation.
	VanishAfter time.Duration
	// MalformedRate answers requests with 200 and the first half of the
	// body, which is not valid JSON.
	MalformedRate float64
	// TruncateRate answers requests with 200 and a Content-Length for the
	// whole body, sends the first half and drops the connection: the client
	// reads an unexpected EOF.
	TruncateRate float64
	// SlowBodyRate answers requests with 200 at once and then trickles the
	// body out over SlowBody, in four pieces spaced on the simulator's
	// clock. A client whose time runs out meanwhile has the headers but
	// not the body.
	SlowBodyRate float64
	// SlowBody is how long a slow body takes. Zero sends no slow bodies.
	SlowBody time.Duration
}

// none reports whether f injects nothing.
func (f Faults) none() bool {
	if len(f.StatusRates) == 0 {
		f.StatusRates = nil
	}
	return reflect.ValueOf(f).IsZero()
}

// slowPieces is how many pieces a slow body is sent in.
const slowPieces = 4

// faultSet is a provider's Faults with what they answer prepared.
type faultSet struct {
	Faults
	// since is when the faults were set; rate-limit bursts count from it.
	since time.Time
	// retryAfter is the Retry-After header value, or "".
	retryAfter string
	// forced is the body answered with Faults.ForceStatus.
	forced []byte
	// statuses are Faults.StatusRates in order of status code, their rates
	// added up, with what they answer.
	statuses []statusRate
}

// statusRate is one of Faults.StatusRates, ready to be drawn: a request
// whose draw is below upTo, and above the previous one's, gets status.
type statusRate struct {
	upTo   float64
	status int
	// body is the JSON body answered, or nil for a gateway's HTML page.
	body []byte
}

func newFaultSet(a *api, f Faults, now time.Time) *faultSet {
	fs := &faultSet{Faults: f, since: now}
	if f.RetryAfter > 0 {
		seconds := (f.RetryAfter + time.Second - 1) / time.Second
		fs.retryAfter = strconv.FormatInt(int64(seconds), 10)
	}
	if f.ForceStatus != 0 {
		fs.forced = statusBody(a, f.ForceStatus)
	}
	upTo := 0.0
	for _, status := range slices.Sorted(maps.Keys(f.StatusRates)) {
		rate := f.StatusRates[status]
		if rate <= 0 {
			continue
		}
		upTo += rate
		sr := statusRate{upTo: upTo, status: status}
		switch status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		case http.StatusInternalServerError:
			sr.body = a.internalError
		case http.StatusTooManyRequests:
			sr.body = a.rateLimited
		default:
			sr.body = statusBody(a, status)
		}
		fs.statuses = append(fs.statuses, sr)
	}
	return fs
}

// statusBody returns the provider's error body for status, its code and
// message taken from the status text.
func statusBody(a *api, status int) []byte {
	text := http.StatusText(status)
	if text == "" {
		text = "Status " + strconv.Itoa(status)
	}
	code := strings.ToLower(strings.ReplaceAll(text, " ", "_"))
	return mustJSON(a.def.Imitation.ErrorBody(code, text))
}

// vanished reports whether g has been forgotten by now. A nil f forgets
// nothing.
func (f *faultSet) vanished(g *generation, now time.Time) bool {
	return f != nil && f.VanishAfter > 0 && now.Sub(g.created) >= f.VanishAfter
}

// inBurst reports whether now falls in a rate-limit burst.
func (f *faultSet) inBurst(now time.Time) bool {
	if f.RateLimitBurst <= 0 {
		return false
	}
	elapsed := now.Sub(f.since)
	if f.RateLimitEvery > 0 {
		elapsed %= f.RateLimitEvery
	}
	return elapsed >= 0 && elapsed < f.RateLimitBurst
}

// drawStatus returns the status of StatusRates drawn for one request, or
// nil when none is.
func (s *Simulator) drawStatus(f *faultSet) *statusRate {
	if len(f.statuses) == 0 {
		return nil
	}
	s.rngMu.Lock()
	u := s.rng.Float64()
	s.rngMu.Unlock()
	for i := range f.statuses {
		if u < f.statuses[i].upTo {
			return &f.statuses[i]
		}
	}
	return nil
}

// injectFault answers r as f says, before the request reaches its
// generation, and reports whether it did (or whether the client left while
// it was held, so that no answer is due).
func (s *Simulator) injectFault(w http.ResponseWriter, r *http.Request, a *api, f *faultSet) bool {
	if (f.Hang || f.HangRate > 0 || f.Latency > 0) && s.hold(w, r, a, f) {
		return true
	}
	if f.ForceStatus != 0 {
		s.counts.status(f.ForceStatus)
		writeJSON(w, f.ForceStatus, f.forced)
		return true
	}
	if f.inBurst(s.clock.Now()) {
		s.counts.burstRateLimited.Add(1)
		f.writeRateLimited(w, a.rateLimited)
		return true
	}
	if sr := s.drawStatus(f); sr != nil {
		s.counts.status(sr.status)
		switch {
		case sr.body == nil:
			writeGatewayPage(w, sr.status)
		case sr.status == http.StatusTooManyRequests:
			f.writeRateLimited(w, sr.body)
		default:
			writeJSON(w, sr.status, sr.body)
		}
		return true
	}
	switch {
	case s.chance(f.ErrorRate):
		status := s.pick(http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable)
		s.counts.status(status)
		switch status {
		case http.StatusInternalServerError:
			writeJSON(w, status, a.internalError)
		default:
			writeGatewayPage(w, status)
		}
	case s.chance(f.RateLimitRate):
		s.counts.rateLimited.Add(1)
		f.writeRateLimited(w, a.rateLimited)
	default:
		return false
	}
	return true
}

// writeRateLimited answers 429 with body and, if set, Retry-After.
func (f *faultSet) writeRateLimited(w http.ResponseWriter, body []byte) {
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	writeJSON(w, http.StatusTooManyRequests, body)
}

// hold keeps r waiting for f's latency, or until its client gives up if f
// hangs it. It reports whether r is done with: its client left, or the
// simulator was closed and r has been answered 503.
func (s *Simulator) hold(w http.ResponseWriter, r *http.Request, a *api, f *faultSet) bool {
	var elapsed <-chan time.Time // nil, so never ready, when r hangs
	switch {
	case f.Hang || s.chance(f.HangRate):
		s.counts.hung.Add(1)
	case f.Latency > 0:
		s.counts.delayed.Add(1)
		t := s.clock.NewTimer(f.Latency)
		defer t.Stop()
		elapsed = t.Chan()
	default:
		return false
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

// writeGeneration answers with body, the generation's status, unless f
// garbles it: cut short, dropped midway or trickled out.
func (s *Simulator) writeGeneration(w http.ResponseWriter, r *http.Request, f *faultSet, body []byte) {
	if f != nil {
		switch {
		case s.chance(f.MalformedRate):
			s.counts.malformed.Add(1)
			writeJSON(w, http.StatusOK, body[:len(body)/2])
			return
		case s.chance(f.TruncateRate):
			s.counts.truncated.Add(1)
			writeTruncated(w, body)
			return
		case f.SlowBody > 0 && s.chance(f.SlowBodyRate):
			s.counts.slowBodies.Add(1)
			s.trickle(w, r, body, f.SlowBody)
			return
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// writeTruncated announces body in full and sends its first half. The
// server then closes the connection, since the answer is shorter than its
// Content-Length.
func writeTruncated(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
}

// trickle answers 200 with body's length at once, then sends body in
// slowPieces pieces, one every d/slowPieces on the simulator's clock. A
// client that gives up ends it; Close sends the rest at once.
func (s *Simulator) trickle(w http.ResponseWriter, r *http.Request, body []byte, d time.Duration) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	for i := range slowPieces {
		from, to := len(body)*i/slowPieces, len(body)*(i+1)/slowPieces
		t := s.clock.NewTimer(d / slowPieces)
		select {
		case <-t.Chan():
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closed:
			t.Stop()
			w.Write(body[from:])
			return
		}
		w.Write(body[from:to])
		_ = rc.Flush()
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

// FaultCounts says how many requests each kind of fault has been injected
// into, over every provider, since the simulator was made.
type FaultCounts struct {
	// Statuses counts error answers by status code, from ForceStatus,
	// StatusRates and ErrorRate.
	Statuses map[int]int64
	// RateLimited counts the 429s of RateLimitRate, and BurstRateLimited
	// those of rate-limit bursts.
	RateLimited, BurstRateLimited int64
	// Hung counts requests held by Hang or HangRate, and Delayed those held
	// by Latency.
	Hung, Delayed int64
	// Vanished counts 404s for generations that had vanished, by
	// Faults.VanishAfter or Plan.VanishAfter.
	Vanished int64
	// Malformed, Truncated and SlowBodies count the bodies garbled by
	// MalformedRate, TruncateRate and SlowBodyRate.
	Malformed, Truncated, SlowBodies int64
}

// Total returns how many requests met a fault.
func (c FaultCounts) Total() int64 {
	n := c.RateLimited + c.BurstRateLimited + c.Hung + c.Delayed + c.Vanished + c.Malformed + c.Truncated + c.SlowBodies
	for _, v := range c.Statuses {
		n += v
	}
	return n
}

// InjectedFaults returns how many requests each kind of fault has been
// injected into so far.
func (s *Simulator) InjectedFaults() FaultCounts {
	c := &s.counts
	out := FaultCounts{
		RateLimited:      c.rateLimited.Load(),
		BurstRateLimited: c.burstRateLimited.Load(),
		Hung:             c.hung.Load(),
		Delayed:          c.delayed.Load(),
		Vanished:         c.vanished.Load(),
		Malformed:        c.malformed.Load(),
		Truncated:        c.truncated.Load(),
		SlowBodies:       c.slowBodies.Load(),
	}
	c.mu.Lock()
	out.Statuses = maps.Clone(c.statuses)
	c.mu.Unlock()
	if out.Statuses == nil {
		out.Statuses = map[int]int64{}
	}
	return out
}

// faultCounters are the live counts behind FaultCounts.
type faultCounters struct {
	rateLimited, burstRateLimited atomic.Int64
	hung, delayed                 atomic.Int64
	vanished                      atomic.Int64
	malformed, truncated          atomic.Int64
	slowBodies                    atomic.Int64

	mu       sync.Mutex
	statuses map[int]int64
}

// status counts an error answer with the given status.
func (c *faultCounters) status(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.statuses == nil {
		c.statuses = map[int]int64{}
	}
	c.statuses[code]++
}
