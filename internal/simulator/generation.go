package simulator

import (
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
	g.endsAt = saturatingAdd(g.runningAt, p.RunFor)
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
		progress := 0
		if run := g.plan.RunFor; run > 0 {
			progress = min(99, int(100*float64(elapsed-g.runningAt)/float64(run)))
		}
		reached := time.Duration(float64(g.plan.RunFor) * float64(progress) / 100)
		return state{phase: phaseRunning, progress: progress, since: g.created.Add(g.runningAt + reached)}
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
