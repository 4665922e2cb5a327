package simulator

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/genwatch/genwatch/internal/providers"
)

// phase is where a generation is in its life, the same for every provider.
type phase uint8

const (
	phaseHidden phase = iota
	phasePending
	phaseRunning
	phaseCompleted
	phaseFailed
)

// state is what a generation looks like at one instant.
type state struct {
	phase phase
	// progress is the percentage done, 0–100.
	progress int
	// since is when the generation entered this phase and progress; the
	// providers report it as the last update time.
	since time.Time
}

// generation is one simulated job at one provider.
type generation struct {
	id      string
	plan    Plan
	created time.Time

	// Offsets from created at which the generation becomes visible, starts
	// running and ends (Forever if it never does).
	visibleAt, runningAt, endsAt time.Duration

	requests atomic.Int64
	// callback is the webhook due when the generation ends, or nil. It is
	// set before the generation is published and never changed.
	callback clockwork.Timer
	// body is the last response encoded, reused while the state it was
	// encoded for lasts.
	body atomic.Pointer[encodedState]
}

// encodedState is a response body and the state it describes.
type encodedState struct {
	phase    phase
	progress int
	body     []byte
}

func newGeneration(def providers.Definition, id string, p Plan, created time.Time) *generation {
	p = p.withDefaults(def.Name, def.Imitation.MediaTypes, id)
	g := &generation{id: id, plan: p, created: created}
	g.visibleAt = p.HiddenFor
	g.runningAt = saturatingAdd(g.visibleAt, p.PendingFor)
	g.endsAt = saturatingAdd(saturatingAdd(g.runningAt, p.RunFor), p.StallFor)
	if p.Outcome == Never {
		g.endsAt = Forever
	}
	return g
}

// vanished reports whether g has vanished by now, as its plan says.
func (g *generation) vanished(now time.Time) bool {
	return g.plan.VanishAfter > 0 && now.Sub(g.created) >= g.plan.VanishAfter
}

// stateAt returns the state of g at now.
func (g *generation) stateAt(now time.Time) state {
	elapsed := now.Sub(g.created)
	switch {
	case elapsed < g.visibleAt:
		return state{phase: phaseHidden, since: g.created}
	case elapsed < g.runningAt:
		return state{phase: phasePending, since: g.created}
	case elapsed < g.endsAt:
		progress := g.plan.progressAt(elapsed - g.runningAt)
		return state{phase: phaseRunning, progress: progress, since: g.created.Add(g.runningAt + g.plan.reaching(progress))}
	case g.plan.Outcome == Fail:
		return state{phase: phaseFailed, since: g.created.Add(g.endsAt)}
	default:
		return state{phase: phaseCompleted, progress: 100, since: g.created.Add(g.endsAt)}
	}
}

// phaseStates are the normalized states of the visible phases.
var phaseStates = [...]providers.State{
	phasePending:   providers.StatePending,
	phaseRunning:   providers.StateRunning,
	phaseCompleted: providers.StateCompleted,
	phaseFailed:    providers.StateFailed,
}

// imitated describes g in st for a provider's Imitation.Render.
func (g *generation) imitated(st state) providers.Imitated {
	p := &g.plan
	return providers.Imitated{
		ID:              g.id,
		State:           phaseStates[st.phase],
		Progress:        st.progress,
		CreatedAt:       g.created,
		UpdatedAt:       st.since,
		MediaType:       p.MediaType,
		URL:             p.URL,
		ThumbnailURL:    p.ThumbnailURL,
		Width:           p.Width,
		Height:          p.Height,
		DurationSeconds: p.DurationSeconds,
		SizeBytes:       p.SizeBytes,
		Cost:            p.Cost,
		Model:           p.Model,
		ErrorCode:       p.FailCode,
		ErrorMessage:    p.FailMessage,
	}
}

// progressAt is the progress reported after running for ran: along the
// curve, in whole steps, at most 99 while running.
func (p Plan) progressAt(ran time.Duration) int {
	if p.Frozen || p.RunFor <= 0 {
		return 0
	}
	share := min(max(float64(ran)/float64(p.RunFor), 0), 1)
	progress := int(100 * math.Pow(share, p.Curve))
	progress -= progress % p.Step
	return min(progress, 99)
}

// reaching is how long after the run started progress reached percent.
func (p Plan) reaching(percent int) time.Duration {
	if p.RunFor <= 0 || percent <= 0 {
		return 0
	}
	return time.Duration(float64(p.RunFor) * math.Pow(float64(percent)/100, 1/p.Curve))
}

// EndsAfter is how long after its creation a generation of this plan ends,
// or Forever.
func (p Plan) EndsAfter() time.Duration {
	return newGeneration(providers.Definition{}, "", p, time.Time{}).endsAt
}

// UpdatedAfter is when, counted from its creation, a generation of this
// plan reached the state and progress it reports that long after its
// creation: the time a provider gives as its updated-at.
func (p Plan) UpdatedAfter(elapsed time.Duration) time.Duration {
	return p.stateAfter(elapsed).since.Sub(time.Time{})
}

// ProgressAfter is the progress a generation of this plan reports that long
// after its creation (0 while hidden or pending, 100 once ended).
func (p Plan) ProgressAfter(elapsed time.Duration) int {
	return p.stateAfter(elapsed).progress
}

// stateAfter is the state of a generation of this plan, created at the
// zero time, that long after its creation.
func (p Plan) stateAfter(elapsed time.Duration) state {
	return newGeneration(providers.Definition{}, "", p, time.Time{}).stateAt(time.Time{}.Add(elapsed))
}
