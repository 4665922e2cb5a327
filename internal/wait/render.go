package wait

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/tasks"
)

// Report is one line of FormatJSON output.
type Report struct {
	TaskID string `json:"task_id"`
	// State is StateWord's, or "not_tracked".
	State string `json:"state"`
	// TaskState is the tracking task's asynq state (pending, active, retry,
	// completed, archived).
	TaskState      string     `json:"task_state,omitempty"`
	Polls          int        `json:"polls"`
	Progress       *int       `json:"progress,omitempty"`
	ProviderStatus string     `json:"provider_status,omitempty"`
	NextPollAt     *time.Time `json:"next_poll_at,omitempty"`
	ETA            *time.Time `json:"eta,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	// Final marks a generation's last report, and Result says how its wait
	// ended; Completed is Result == "completed".
	Final     bool   `json:"final"`
	Result    Result `json:"result,omitempty"`
	Completed bool   `json:"completed"`
	// Event is the completion event, on the final report of a generation
	// that ended.
	Event *genwatch.Event `json:"event,omitempty"`
}

func reportOf(g genwatch.Generation) Report {
	return Report{
		TaskID:         g.TaskID,
		State:          StateWord(g),
		TaskState:      g.State,
		Polls:          g.Polls,
		Progress:       g.Progress,
		ProviderStatus: g.ProviderStatus,
		NextPollAt:     g.NextPollAt,
		ETA:            g.ETA,
		LastError:      g.LastError,
		Event:          g.Event,
	}
}

// renderer shows progress. Run calls it from one goroutine.
type renderer interface {
	// update shows a change of a generation that has not ended.
	update(i int, g genwatch.Generation)
	// final shows how a generation's wait ended, once per generation.
	final(i int, o Outcome)
	// flush ends a look at every generation.
	flush()
	// close ends the output, with the summary unless it is nil, and
	// returns the first write error.
	close(s *Summary) error
}

func newRenderer(f Format, out io.Writer, ids []string, now func() time.Time) renderer {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		return &jsonRenderer{enc: enc}
	case FormatBars:
		return newBars(out, ids, now)
	}
	return &plainRenderer{w: out, ids: ids, now: now}
}

type plainRenderer struct {
	w   io.Writer
	ids []string
	now func() time.Time
	err error
}

func (p *plainRenderer) printf(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

func (p *plainRenderer) update(i int, g genwatch.Generation) {
	line := progressLine(g)
	if eta := etaWords(g.ETA, p.now()); eta != "" {
		line += ", " + eta
	}
	p.printf("%s: %s\n", p.ids[i], line)
}

func (p *plainRenderer) final(i int, o Outcome) {
	p.printf("%s: %s\n", p.ids[i], outcomeLine(o))
}

func (p *plainRenderer) flush() {}

func (p *plainRenderer) close(s *Summary) error {
	if s != nil {
		p.printf("%s\n", s)
	}
	return p.err
}

type jsonRenderer struct {
	enc *json.Encoder
	err error
}

func (j *jsonRenderer) encode(r Report) {
	if j.err == nil {
		j.err = j.enc.Encode(r)
	}
}

func (j *jsonRenderer) update(_ int, g genwatch.Generation) { j.encode(reportOf(g)) }

func (j *jsonRenderer) final(_ int, o Outcome) {
	r := reportOf(o.Last)
	r.TaskID = o.TaskID
	if o.Result == ResultNotTracked {
		r.State = string(ResultNotTracked)
	}
	r.Final, r.Result, r.Completed = true, o.Result, o.Completed()
	j.encode(r)
}

func (j *jsonRenderer) flush() {}

func (j *jsonRenderer) close(*Summary) error { return j.err }

// barWidth is the width of the bar itself, between the task ID and state
// on its left and the percentage and polls on its right.
const barWidth = 30

// bars draws one mpb bar per generation, redrawn by mpb on its own ticker
// (and once more when it shuts down, so the last state is always drawn).
// Once every bar has ended, it prints each generation's outcome line, which
// has what a bar has no room for (the URL, the error message), and the
// summary.
type bars struct {
	out      io.Writer
	p        *mpb.Progress
	rows     []*barRow
	outcomes []*Outcome
}

// barRow is what a bar's decorators show; they run on mpb's goroutines.
type barRow struct {
	bar *mpb.Bar

	mu     sync.Mutex
	word   string
	detail string
	eta    *time.Time
}

func (r *barRow) set(word, detail string) {
	r.mu.Lock()
	r.word, r.detail, r.eta = word, detail, nil
	r.mu.Unlock()
}

// setETA shows when the generation is expected to end, until the next set.
func (r *barRow) setETA(eta *time.Time) {
	r.mu.Lock()
	r.eta = eta
	r.mu.Unlock()
}

func (r *barRow) get() (word, detail string, eta *time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.word, r.detail, r.eta
}

// etaWords reads like "done in ~25s", or "" without an estimate.
func etaWords(eta *time.Time, now time.Time) string {
	switch {
	case eta == nil:
		return ""
	case eta.Sub(now) < time.Second:
		return "done any moment"
	default:
		return "done in ~" + tasks.Approx(eta.Sub(now))
	}
}

func newBars(out io.Writer, ids []string, now func() time.Time) *bars {
	b := &bars{out: out, outcomes: make([]*Outcome, len(ids))}
	// Auto refresh is on by itself for a terminal; forcing it keeps the
	// drawing the same when Out is not one.
	b.p = mpb.New(mpb.WithOutput(out), mpb.WithAutoRefresh())
	for _, id := range ids {
		row := &barRow{word: "queued", detail: barDetail(nil, 0, "")}
		row.bar = b.p.New(0, mpb.BarStyle(),
			mpb.BarWidth(barWidth),
			mpb.PrependDecorators(
				decor.Name(id, decor.WCSyncSpaceR),
				decor.Any(func(decor.Statistics) string { w, _, _ := row.get(); return w }, decor.WCSyncWidthR),
			),
			mpb.AppendDecorators(
				decor.Any(func(decor.Statistics) string {
					_, d, eta := row.get()
					if words := etaWords(eta, now()); words != "" {
						d += " · " + words
					}
					return d
				}),
			),
		)
		// A total set after construction does not complete the bar when a
		// running generation reports 100%; final does, or aborts it.
		row.bar.SetTotal(100, false)
		b.rows = append(b.rows, row)
	}
	return b
}

func (b *bars) update(i int, g genwatch.Generation) {
	row := b.rows[i]
	row.set(StateWord(g), barDetail(g.Progress, g.Polls, ""))
	row.setETA(g.ETA)
	if g.Progress != nil {
		row.bar.SetCurrent(int64(*g.Progress))
	}
}

func (b *bars) final(i int, o Outcome) {
	b.outcomes[i] = &o
	row := b.rows[i]
	g := o.Last
	switch {
	case o.Completed():
		full := 100 // providers that report no progress still end full
		row.set(StateWord(g), barDetail(&full, g.Polls, ""))
		row.bar.SetTotal(100, true)
		return
	case o.Result == ResultNotTracked:
		row.set("not tracked", "")
	case o.Result == ResultUnfinished:
		row.set(StateWord(g), barDetail(g.Progress, g.Polls, "still waiting"))
	case g.Event != nil && g.Event.Error != nil:
		row.set(StateWord(g), barDetail(g.Progress, g.Polls, g.Event.Error.Code))
	default:
		row.set(StateWord(g), barDetail(g.Progress, g.Polls, ""))
	}
	if g.Progress != nil {
		row.bar.SetCurrent(int64(*g.Progress))
	}
	row.bar.Abort(false)
}

// barDetail reads like " 40% · 3 polls · reason".
func barDetail(progress *int, polls int, reason string) string {
	s := "  -"
	if progress != nil {
		s = fmt.Sprintf("%3d%%", *progress)
	}
	s += " · " + pollCount(polls)
	if reason != "" {
		s += " · " + reason
	}
	return s
}

func (b *bars) flush() {}

func (b *bars) close(s *Summary) error {
	for _, row := range b.rows {
		row.bar.Abort(false) // a no-op for the bars that have ended
	}
	b.p.Wait()
	if s == nil {
		return nil
	}
	var err error
	printf := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(b.out, format, a...)
		}
	}
	for _, o := range b.outcomes {
		if o != nil {
			printf("%s: %s\n", o.TaskID, outcomeLine(*o))
		}
	}
	printf("%s\n", s)
	return err
}
