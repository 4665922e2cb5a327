package workload

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/schedule"
)

// Policy is a way of pacing polls to replay.
type Policy struct {
	Name string
	// Every, when set, polls every Every after enqueueing, as a plain loop
	// does; the figures are computed exactly from each generation's end.
	Every time.Duration
	// Pace is the schedule policy used when Every is zero.
	Pace schedule.Policy
}

// Result is what one policy did on one workload.
type Result struct {
	Policy      string `json:"policy"`
	Workload    string `json:"workload"`
	Generations int    `json:"generations"`
	// Calls is the status calls made, all generations together.
	Calls int `json:"calls"`
	// Lags are the detection lags, sorted: detection minus the end.
	Lags []time.Duration `json:"-"`
	// Missing counts generations that ended but were not detected.
	Missing int `json:"missing"`
}

// CallsPerGeneration is the mean number of status calls a generation took.
func (r Result) CallsPerGeneration() float64 {
	if r.Generations == 0 {
		return 0
	}
	return float64(r.Calls) / float64(r.Generations)
}

// Pool returns r and o as one result: their calls, generations and
// missing summed, their lags merged. Pooling draws of a workload steadies
// the quantiles that one draw of a few hundred generations leaves ragged.
func (r Result) Pool(o Result) Result {
	if r.Policy == "" && r.Workload == "" {
		r.Policy, r.Workload = o.Policy, o.Workload
	}
	r.Generations += o.Generations
	r.Calls += o.Calls
	r.Missing += o.Missing
	r.Lags = append(slices.Clone(r.Lags), o.Lags...)
	slices.Sort(r.Lags)
	return r
}

// Lag returns the q-quantile (0 to 1) of the detection lags.
func (r Result) Lag(q float64) time.Duration {
	if len(r.Lags) == 0 {
		return 0
	}
	return r.Lags[min(int(math.Ceil(q*float64(len(r.Lags))))-1, len(r.Lags)-1)]
}

// Replayer runs policies on workloads in virtual time, the way the worker
// and asynq would: the first run on arrival, polling at once or deferring
// its first poll by what has been learned by then, every later poll on asynq's
// whole-second schedule (Decision.Strict delays rounded up, others to the
// nearest second) plus up to one forwarding tick, a webhook hint running
// the poll at once (debounced), and durations learned from every
// generation detected, shared by later ones.
type Replayer struct {
	// Tick is the worker's check for due polls. If zero, 100 ms.
	Tick time.Duration
	// HintLatency is how long a webhook takes to become a poll. If zero,
	// 200 ms.
	HintLatency time.Duration
	// HintDebounce is the least time between two hinted polls of one
	// generation. If zero, 3 s.
	HintDebounce time.Duration
	// MaxWait is every generation's deadline. If zero, 30 min.
	MaxWait time.Duration
	// Learned holds the learned durations by provider and model; Run adds
	// to it, so that a warm-up carries over. If nil, Run makes one.
	Learned map[string]*schedule.Durations
	// Seed seeds jitter and the forwarding tick.
	Seed uint64
	// ClockSkew is how far ahead of the workers' clock the providers'
	// clocks run, as their updated-at times show it.
	ClockSkew time.Duration
	// Undated leaves the updated-at times out, as from providers that
	// give none.
	Undated bool
}

// epoch is the virtual start: a whole second, as asynq's schedule is.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Run replays p on w.
func (r *Replayer) Run(w Workload, p Policy) Result {
	res := Result{Policy: p.Name, Workload: w.Name}
	for _, g := range w.Generations {
		if !g.WarmUp {
			res.Generations++
		}
	}
	if p.Every > 0 {
		for _, g := range w.Generations {
			if g.WarmUp {
				continue
			}
			end := g.End()
			calls := int(math.Ceil(float64(end) / float64(p.Every)))
			res.Calls += calls
			res.Lags = append(res.Lags, time.Duration(calls)*p.Every-end)
		}
		slices.Sort(res.Lags)
		return res
	}
	r.defaults()
	rng := rand.New(rand.NewPCG(r.Seed, 7))
	policy := p.Pace.WithDefaults()
	policy.Webhooks = policy.Webhooks && w.Webhooks

	gens := make([]genState, len(w.Generations))
	var q eventQueue
	for i, g := range w.Generations {
		gens[i].gen = g
		heap.Push(&q, event{at: g.Arrival, gen: i, arrival: true})
		if w.Webhooks && !g.Webhook.Lost {
			heap.Push(&q, event{at: g.Arrival + g.End() + g.Webhook.Delay, gen: i, hint: true})
		}
	}
	for q.Len() > 0 {
		ev := heap.Pop(&q).(event)
		s := &gens[ev.gen]
		if s.done {
			continue
		}
		if ev.arrival {
			// The worker's first run, at once: it polls, or defers the
			// first poll by what has been learned so far.
			first := ev.at + 50*time.Millisecond
			enqueued := epoch.Add(ev.at)
			if d := schedule.FirstPoll(schedule.Input{
				Now: enqueued, Deadline: enqueued.Add(r.MaxWait), EnqueuedAt: enqueued,
				Policy: policy, Expected: s.gen.Expected, Prior: r.Learned[s.gen.Provider+"/"],
			}); d > 0 {
				first = r.runsAt(ev.at+d, false, rng)
			}
			heap.Push(&q, event{at: first, gen: ev.gen, version: s.version})
			continue
		}
		if ev.hint {
			if !s.hintAt.IsZero() && ev.at-s.lastHint < r.HintDebounce {
				continue
			}
			s.lastHint, s.version = ev.at, s.version+1
			s.hintAt = epoch.Add(ev.at)
			heap.Push(&q, event{at: ev.at + r.HintLatency, gen: ev.gen, version: s.version})
			continue
		}
		if ev.version != s.version {
			continue // replaced by a hinted poll
		}
		next, done := r.poll(s, ev.at, policy, rng)
		counted := !s.gen.WarmUp
		if counted {
			res.Calls++
		}
		if done {
			s.done = true
			if !counted {
				continue
			}
			res.Lags = append(res.Lags, ev.at-s.gen.Arrival-s.gen.End())
			continue
		}
		if next < 0 {
			if counted {
				res.Missing++
			}
			s.done = true
			continue
		}
		heap.Push(&q, event{at: next, gen: ev.gen, version: s.version})
	}
	slices.Sort(res.Lags)
	return res
}

func (r *Replayer) defaults() {
	if r.Tick <= 0 {
		r.Tick = 100 * time.Millisecond
	}
	if r.HintLatency <= 0 {
		r.HintLatency = 200 * time.Millisecond
	}
	if r.HintDebounce <= 0 {
		r.HintDebounce = 3 * time.Second
	}
	if r.MaxWait <= 0 {
		r.MaxWait = genwatch.DefaultMaxWait
	}
	if r.Learned == nil {
		r.Learned = map[string]*schedule.Durations{}
	}
}

// genState is what the store would keep of one generation.
type genState struct {
	gen      Generation
	polls    int
	lastPoll time.Duration
	samples  []schedule.Sample
	hintAt   time.Time
	lastHint time.Duration
	version  int
	done     bool
}

// maxSamples is how many progress readings the store keeps.
const maxSamples = 8

// poll makes one status call at now (from the workload's start) and
// returns when the next one runs, or done, or a negative time when the
// deadline passed.
func (r *Replayer) poll(s *genState, now time.Duration, p schedule.Policy, rng *rand.Rand) (time.Duration, bool) {
	g := s.gen
	elapsed := now - g.Arrival
	prev := s.lastPoll
	s.polls++
	s.lastPoll = now
	key := g.Provider + "/" + g.Model
	if elapsed >= g.End() {
		span := schedule.Span{To: elapsed}
		if s.polls > 1 {
			span.From = prev - g.Arrival
		}
		// As the store learns: under the model, and under the provider
		// alone, which paces first polls (the model is not known before).
		for _, k := range []string{key, g.Provider + "/"} {
			d := r.Learned[k]
			if d == nil {
				d = &schedule.Durations{}
				r.Learned[k] = d
			}
			d.AddSpan(span, p.LearnMemory)
		}
		return 0, true
	}
	if g.Provider != genwatch.ProviderHoox {
		pct := g.Plan.ProgressAfter(elapsed)
		if n := len(s.samples); n == 0 || s.samples[n-1].Percent != pct {
			// Hooked and Token360 both give an updated-at time, in whole
			// seconds of their own clocks.
			sm := schedule.Sample{At: epoch.Add(now), Percent: pct}
			if !r.Undated {
				sm.Reached = epoch.Add(g.Arrival + g.Plan.UpdatedAfter(elapsed) + r.ClockSkew).Truncate(time.Second)
			}
			if s.polls > 1 {
				sm.After = epoch.Add(prev)
			}
			s.samples = append(s.samples, sm)
			if len(s.samples) > maxSamples {
				s.samples = s.samples[1:]
			}
		}
	}
	h := schedule.History{Polls: s.polls, HintAt: s.hintAt, Answered: true, Progress: s.samples}
	if s.polls > 1 {
		h.LastPollAt = epoch.Add(prev)
	}
	enqueued := epoch.Add(g.Arrival)
	d := schedule.Decide(schedule.Input{
		Now:        epoch.Add(now),
		Deadline:   enqueued.Add(r.MaxWait),
		EnqueuedAt: enqueued,
		History:    h,
		Observed:   schedule.Observation{State: providers.StateRunning},
		Policy:     p,
		Expected:   g.Expected,
		Prior:      r.Learned[key],
		Rand:       rng.Float64(),
	})
	if d.Done {
		return -1, false
	}
	return r.runsAt(now+d.Delay, d.Strict, rng), false
}

// runsAt is when asynq runs a poll due at due: its whole-second score,
// then the next forwarding tick.
func (r *Replayer) runsAt(due time.Duration, strict bool, rng *rand.Rand) time.Duration {
	sec := due.Seconds()
	score := math.Round(sec)
	if strict {
		score = math.Ceil(sec)
	}
	return time.Duration(score*float64(time.Second)) + time.Duration(rng.Float64()*float64(r.Tick)) + 10*time.Millisecond
}

type event struct {
	at      time.Duration
	gen     int
	hint    bool
	arrival bool
	version int
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].gen < q[j].gen
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
