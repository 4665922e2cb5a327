// Package workload makes generation workloads as nasty as real providers
// are, and replays a pacing policy on them in virtual time.
//
// A Workload is a list of generations, each with the simulator plan it
// follows (queue time, run time, a progress curve that starts slow or fast,
// coarse progress steps, a plateau at 99 %, progress that never moves), the
// model it reports, the submitter's hint when there is one, and what
// becomes of its provider webhook (delivered late, delivered before the
// status says so, or lost). The same workload drives the simulator in the
// calls-vs-lag benchmark (cmd/pacebench) and Replayer, which runs
// schedule.Decide on it without Redis or HTTP, so that policies are compared
// on exactly the same durations, and the pacing's targets are checked in a
// plain test.
package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/simulator"
)

// Generation is one job of a workload.
type Generation struct {
	Provider string
	ID       string
	// Model is what the provider reports as the model (empty for Hooked,
	// which reports none).
	Model string
	// Plan is what the simulator makes of it, from its creation, which is
	// when it is enqueued.
	Plan simulator.Plan
	// Arrival is when it is enqueued, from the workload's start.
	Arrival time.Duration
	// Expected is the submitter's hint (expected_seconds); zero for none.
	Expected time.Duration
	// Webhook is what becomes of the provider's webhook.
	Webhook Webhook
	// WarmUp marks a generation that only warms the policy up: it is run
	// but left out of the results.
	WarmUp bool
}

// Webhook is the fate of one provider webhook.
type Webhook struct {
	// Lost webhooks never arrive.
	Lost bool
	// Delay is how long after the end it arrives; negative when it comes
	// before the status says ended (premature).
	Delay time.Duration
}

// End is how long after enqueueing the generation ends.
func (g Generation) End() time.Duration { return g.Plan.EndsAfter() }

// Workload is a named list of generations.
type Workload struct {
	Name        string
	Generations []Generation
	// Webhooks says whether the providers send webhooks in this workload.
	Webhooks bool
}

// AfterWarmUp returns w arriving right after warm's arrivals, which run
// first as its warm-up, in one unbroken stream: the warm-up is still
// ending when w's generations arrive, as in steady traffic, so that what
// was learned when w arrives is the recent endings of a stream, not the
// longest of a burst.
func (w Workload) AfterWarmUp(warm Workload) Workload {
	var offset time.Duration
	out := Workload{Name: w.Name, Webhooks: w.Webhooks}
	for _, g := range warm.Generations {
		g.WarmUp = true
		offset = max(offset, g.Arrival)
		out.Generations = append(out.Generations, g)
	}
	for _, g := range w.Generations {
		g.Arrival += offset
		out.Generations = append(out.Generations, g)
	}
	return out
}

// Kind names a workload shape.
type Kind string

// The workload kinds.
const (
	// Linear: Hooked and Token360, progress rising linearly after a queue.
	Linear Kind = "linear"
	// Curved: progress curves that start slow or fast, coarse steps,
	// plateaus at 99 % and progress that never moves.
	Curved Kind = "curved"
	// NoProgress: Hoox, which reports no progress, with models of
	// different speeds.
	NoProgress Kind = "noprogress"
	// Mixed: all three providers, every shape above.
	Mixed Kind = "mixed"
	// Webhooks: Mixed, with provider webhooks of which 5 % are lost, 3 %
	// premature and some late.
	Webhooks Kind = "webhooks"
	// Hinted: Mixed, each with the submitter's expected_seconds, a fifth
	// of them wildly wrong.
	Hinted Kind = "hinted"
	// Slower: Mixed, every duration doubled, to follow a provider that
	// got slower after a warm-up on Mixed.
	Slower Kind = "slower"
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{Linear, Curved, NoProgress, Mixed, Webhooks, Hinted, Slower}
}

// model is one provider model and its typical duration.
type model struct {
	provider string
	name     string
	// median is the median duration from enqueue to end.
	median time.Duration
	sigma  float64
	media  string
}

// models are the provider models a workload draws from: a median of about
// 40 s overall, as measured on real traffic.
var models = []model{
	{genwatch.ProviderHoox, "veo-3.1", 55 * time.Second, 0.45, simulator.MediaVideo},
	{genwatch.ProviderHoox, "flux-pro", 14 * time.Second, 0.4, simulator.MediaImage},
	{genwatch.ProviderHoox, "eleven-v3", 24 * time.Second, 0.5, simulator.MediaAudio},
	{genwatch.ProviderHooked, "", 40 * time.Second, 0.5, simulator.MediaVideo},
	{genwatch.ProviderToken360, "seedance-2.0", 45 * time.Second, 0.5, simulator.MediaVideo},
	{genwatch.ProviderToken360, "kling-2.1", 70 * time.Second, 0.45, simulator.MediaVideo},
}

// Make returns n generations of the kind, the same for the same seed.
// Arrivals are spread uniformly over spread.
func Make(kind Kind, n int, seed uint64, spread time.Duration) (Workload, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(len(kind))))
	w := Workload{Name: string(kind), Webhooks: kind == Webhooks}
	var pool []model
	switch kind {
	case Linear, Curved:
		for _, m := range models {
			if m.provider != genwatch.ProviderHoox {
				pool = append(pool, m)
			}
		}
	case NoProgress:
		for _, m := range models {
			if m.provider == genwatch.ProviderHoox {
				pool = append(pool, m)
			}
		}
	case Mixed, Webhooks, Hinted, Slower:
		pool = models
	default:
		return Workload{}, fmt.Errorf("unknown workload kind %q (want one of %v)", kind, Kinds())
	}
	for i := range n {
		m := pool[rng.IntN(len(pool))]
		g := Generation{
			Provider: m.provider,
			ID:       fmt.Sprintf("%s-%d-%d", kind, seed, i),
			Model:    m.name,
			Arrival:  time.Duration(rng.Float64() * float64(spread)),
		}
		total := lognormal(rng, m.median, m.sigma)
		if kind == Slower {
			total *= 2
		}
		queue := time.Duration((0.05 + 0.2*rng.Float64()) * float64(total))
		g.Plan = simulator.Plan{PendingFor: queue, RunFor: total - queue, MediaType: m.media, Model: m.name}
		switch kind {
		case Curved:
			shape(&g.Plan, rng, 1)
		case Mixed, Webhooks, Hinted, Slower:
			shape(&g.Plan, rng, 0.5)
		}
		if kind == Hinted {
			g.Expected = hint(rng, g.End())
		}
		if kind == Webhooks {
			g.Webhook = webhook(rng)
		}
		w.Generations = append(w.Generations, g)
	}
	sort.SliceStable(w.Generations, func(i, j int) bool { return w.Generations[i].Arrival < w.Generations[j].Arrival })
	return w, nil
}

// shape makes a plan's progress misbehave, each trait with probability
// about share: a curve, coarse steps, a plateau at 99 %, frozen progress.
func shape(p *simulator.Plan, rng *rand.Rand, share float64) {
	if rng.Float64() < share {
		p.Curve = []float64{0.5, 0.7, 1.5, 2.5}[rng.IntN(4)]
	}
	if rng.Float64() < share {
		p.Step = []int{5, 10, 25}[rng.IntN(3)]
	}
	if rng.Float64() < 0.4*share {
		// Encoding and upload: a plateau of 10 to 40 % of the run, taken
		// out of the run so the total stays as drawn.
		stall := time.Duration((0.1 + 0.3*rng.Float64()) * float64(p.RunFor))
		p.RunFor -= stall
		p.StallFor = stall
	}
	if rng.Float64() < 0.1*share {
		p.Frozen = true
	}
}

// hint is a submitter's estimate: within ±20 % mostly, a fifth of them off
// by a factor of three either way.
func hint(rng *rand.Rand, end time.Duration) time.Duration {
	f := 0.8 + 0.4*rng.Float64()
	if rng.Float64() < 0.2 {
		f = []float64{1.0 / 3, 3}[rng.IntN(2)]
	}
	return (time.Duration(f*float64(end)) / time.Second) * time.Second
}

// webhook draws a webhook's fate: 5 % lost, 3 % premature (0.5 to 5 s
// before the status says ended), 10 % late (2 to 8 s), the rest within
// 0.1 to 1 s.
func webhook(rng *rand.Rand) Webhook {
	switch r := rng.Float64(); {
	case r < 0.05:
		return Webhook{Lost: true}
	case r < 0.08:
		return Webhook{Delay: -time.Duration((0.5 + 4.5*rng.Float64()) * float64(time.Second))}
	case r < 0.18:
		return Webhook{Delay: time.Duration((2 + 6*rng.Float64()) * float64(time.Second))}
	default:
		return Webhook{Delay: time.Duration((0.1 + 0.9*rng.Float64()) * float64(time.Second))}
	}
}

func lognormal(rng *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
}

// Scaled returns w with every duration multiplied by f: arrivals, plans,
// hints and webhook delays. A test runs a workload in a fraction of its
// real time with it.
func (w Workload) Scaled(f float64) Workload {
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * f) }
	out := w
	out.Generations = make([]Generation, len(w.Generations))
	for i, g := range w.Generations {
		g.Arrival = scale(g.Arrival)
		g.Expected = scale(g.Expected).Round(time.Second)
		g.Webhook.Delay = scale(g.Webhook.Delay)
		g.Plan.HiddenFor = scale(g.Plan.HiddenFor)
		g.Plan.PendingFor = scale(g.Plan.PendingFor)
		g.Plan.RunFor = scale(g.Plan.RunFor)
		g.Plan.StallFor = scale(g.Plan.StallFor)
		out.Generations[i] = g
	}
	return out
}
