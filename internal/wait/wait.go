// Package wait follows tracked generations until each has its completion
// event: the loop behind `genwatch wait` and `enqueue --wait`.
//
// Run asks a Source (a *tasks.Control) for the state of every generation
// that has not ended yet, once per Interval on an injected clock, and shows
// what changed on Out in one of three forms:
//
//   - live progress bars, one per generation, when Out is a terminal: task
//     ID, state, progress and polls, and how it ended once it has;
//   - a plain line whenever a generation's state or progress changes, and a
//     last one when it ends, when Out is not a terminal;
//   - with FormatJSON, one Report object a line for each change and a final
//     one per generation carrying its event.
//
// Run ends when every generation has ended, or when ctx is done; either way
// it returns a Summary of how each one ended: completed, failed, timed out,
// canceled, not tracked, archived, or still waiting.
package wait

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/tty"
)

// DefaultInterval is the time between two looks at the generations.
const DefaultInterval = time.Second

// Source tells a tracked generation's state. *tasks.Control is one; it
// returns an error matching genwatch.ErrNotTracked for a task ID it does not
// know.
type Source interface {
	Status(ctx context.Context, taskID string) (genwatch.Generation, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, taskID string) (genwatch.Generation, error)

// Status implements Source.
func (f SourceFunc) Status(ctx context.Context, taskID string) (genwatch.Generation, error) {
	return f(ctx, taskID)
}

// Format is how Run shows progress.
type Format string

// Formats.
const (
	// FormatAuto is FormatBars when Out is a terminal, FormatPlain otherwise.
	FormatAuto Format = ""
	// FormatPlain writes a line when a generation's state or progress
	// changes, its outcome when it ends, and the summary.
	FormatPlain Format = "plain"
	// FormatBars draws a live progress bar per generation, then the summary.
	FormatBars Format = "bars"
	// FormatJSON writes one Report a line: on each change, and a final one
	// per generation.
	FormatJSON Format = "json"
)

// Config configures Run.
type Config struct {
	// TaskIDs are the generations to wait for, "<provider>:<generation_id>".
	// A task ID given twice is waited for once. At least one is required.
	TaskIDs []string
	// Source tells the generations' states. Required.
	Source Source
	// Clock paces the looks at the generations. If nil, the real clock.
	Clock clockwork.Clock
	// Interval is the time between two looks. If zero, DefaultInterval.
	Interval time.Duration
	// Out receives the progress and the outcomes. If nil, nothing is shown.
	Out io.Writer
	// Format is how progress is shown. If unset, FormatAuto.
	Format Format
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Format == FormatAuto {
		c.Format = FormatPlain
		if tty.IsTerminal(c.Out) {
			c.Format = FormatBars
		}
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if len(c.TaskIDs) == 0 {
		errs = append(errs, errors.New("TaskIDs: at least one is required"))
	}
	for _, id := range c.TaskIDs {
		if id == "" {
			errs = append(errs, errors.New("TaskIDs: an ID is empty"))
			break
		}
	}
	if c.Source == nil {
		errs = append(errs, errors.New("Source: required"))
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("Interval: must not be negative, got %s", c.Interval))
	}
	switch c.Format {
	case FormatPlain, FormatBars, FormatJSON:
	default:
		errs = append(errs, fmt.Errorf("Format: unknown format %q", c.Format))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	return nil
}

// Result is how a generation's wait ended.
type Result string

// Results. The first four are the statuses of the completion event.
const (
	ResultCompleted = Result(genwatch.StatusCompleted)
	ResultFailed    = Result(genwatch.StatusFailed)
	ResultTimedOut  = Result(genwatch.StatusTimedOut)
	ResultCanceled  = Result(genwatch.StatusCanceled)
	// ResultNotTracked: no tracking task has this ID (never enqueued, or
	// ended longer ago than the retention).
	ResultNotTracked Result = "not_tracked"
	// ResultArchived: the tracking task was archived without an event (an
	// invalid payload, or retries exhausted); it will not end by itself.
	ResultArchived Result = "archived"
	// ResultUnfinished: ctx was done before the generation ended.
	ResultUnfinished Result = "unfinished"
)

// Outcome is how one generation's wait ended.
type Outcome struct {
	TaskID string
	Result Result
	// Last is the generation as last seen: with its Event when it ended,
	// the zero Generation when it is not tracked.
	Last genwatch.Generation
}

// Completed reports whether the generation completed.
func (o Outcome) Completed() bool { return o.Result == ResultCompleted }

// Summary is how every generation's wait ended.
type Summary struct {
	// Outcomes has one entry per task ID, in the order given.
	Outcomes []Outcome
}

// Completed returns the outcomes of the generations that completed.
func (s Summary) Completed() []Outcome { return s.filter(true) }

// NotCompleted returns the outcomes of the generations that did not
// complete, for whatever reason.
func (s Summary) NotCompleted() []Outcome { return s.filter(false) }

// AllCompleted reports whether every generation completed.
func (s Summary) AllCompleted() bool { return len(s.NotCompleted()) == 0 }

func (s Summary) filter(completed bool) []Outcome {
	var out []Outcome
	for _, o := range s.Outcomes {
		if o.Completed() == completed {
			out = append(out, o)
		}
	}
	return out
}

// String reads like "1 of 3 completed; not completed: hooked:b (failed),
// hoox:x (not tracked)".
func (s Summary) String() string {
	done, notDone := s.Completed(), s.NotCompleted()
	if len(notDone) == 0 {
		if len(done) == 1 {
			return "completed"
		}
		return fmt.Sprintf("all %d completed", len(done))
	}
	parts := make([]string, len(notDone))
	for i, o := range notDone {
		parts[i] = fmt.Sprintf("%s (%s)", o.TaskID, resultWords(o.Result))
	}
	return fmt.Sprintf("%d of %d completed; not completed: %s", len(done), len(s.Outcomes), strings.Join(parts, ", "))
}

// Run waits until every generation of cfg.TaskIDs has ended, or ctx is done,
// showing progress on cfg.Out, and returns how each ended. A generation the
// Source does not know counts as not tracked; any other error from the
// Source, or from writing to Out, ends the wait and is returned with the
// outcomes known so far. When ctx is done, the generations still waiting
// are reported as unfinished, and the error is nil.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return Summary{}, err
	}
	ids := dedupe(cfg.TaskIDs)
	sum := Summary{Outcomes: make([]Outcome, len(ids))}
	for i, id := range ids {
		sum.Outcomes[i].TaskID = id
	}
	r := newRenderer(cfg.Format, cfg.Out, ids, cfg.Clock.Now)

	shown := make([]*view, len(ids)) // what was shown last, nil before the first look
	ended := make([]bool, len(ids))
	open := len(ids)
	var runErr error
look:
	for {
		for i, id := range ids {
			if ended[i] {
				continue
			}
			g, err := cfg.Source.Status(ctx, id)
			switch {
			case ctx.Err() != nil:
				break look
			case errors.Is(err, genwatch.ErrNotTracked):
				sum.Outcomes[i] = Outcome{TaskID: id, Result: ResultNotTracked}
			case err != nil:
				runErr = fmt.Errorf("wait: %w", err)
				break look
			default:
				g.TaskID = id
				sum.Outcomes[i].Last = g
				sum.Outcomes[i].Result = resultOf(g)
			}
			if sum.Outcomes[i].Result != "" {
				ended[i] = true
				open--
				r.final(i, sum.Outcomes[i])
				continue
			}
			if v := viewOf(g); shown[i] == nil || *shown[i] != v {
				shown[i] = &v
				r.update(i, g)
			}
		}
		r.flush()
		if open == 0 {
			break
		}
		timer := cfg.Clock.NewTimer(cfg.Interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			break look
		case <-timer.Chan():
		}
	}

	for i := range sum.Outcomes {
		if !ended[i] {
			sum.Outcomes[i].Result = ResultUnfinished
			if runErr == nil {
				r.final(i, sum.Outcomes[i])
			}
		}
	}
	var shownSum *Summary
	if runErr == nil {
		shownSum = &sum
	}
	if err := r.close(shownSum); err != nil && runErr == nil {
		runErr = fmt.Errorf("wait: write output: %w", err)
	}
	return sum, runErr
}

// resultOf returns how g ended, or "" while it has not.
func resultOf(g genwatch.Generation) Result {
	switch {
	case g.Event != nil:
		return Result(g.Event.Status)
	case g.State == stateArchived:
		return ResultArchived
	}
	return ""
}

// view is what a change is measured on: a plain line or a JSON report is
// written when it changes. Polls alone do not count, or every poll would
// print a line.
type view struct {
	word     string
	progress int // -1 when unknown
	eta      time.Time
}

func viewOf(g genwatch.Generation) view {
	v := view{word: StateWord(g), progress: -1}
	if g.ETA != nil {
		// Shown again only when the estimate moves by a second or more.
		v.eta = g.ETA.Truncate(time.Second)
	}
	if g.Progress != nil {
		v.progress = *g.Progress
	}
	return v
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
