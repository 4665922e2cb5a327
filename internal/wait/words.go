package wait

import (
	"fmt"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/genwatch/genwatch"
)

var (
	stateArchived = asynq.TaskStateArchived.String()
	stateRetry    = asynq.TaskStateRetry.String()
	statePending  = asynq.TaskStatePending.String()
	stateSched    = asynq.TaskStateScheduled.String()
)

// nextPollMarker separates what a waiting generation waits for from its
// delay in the task's last error ("running, 40%, next poll in 6s", see
// tasks.PollAgain).
const nextPollMarker = ", next poll in "

// StateWord says in a word or two where a generation is: its event's status
// once it has ended; "archived" when its task was archived without one;
// while it waits, what it waits for as its last poll said ("pending",
// "running", "not found yet", "rate limited", "unauthorized", "provider
// unavailable"), "retrying" after a poll that failed outright, "queued"
// before its first poll, and "polling" during it.
func StateWord(g genwatch.Generation) string {
	switch {
	case g.Event != nil:
		return string(g.Event.Status)
	case g.State == stateArchived:
		return "archived"
	}
	if reason, _, ok := strings.Cut(g.LastError, nextPollMarker); ok {
		if i := strings.IndexAny(reason, ",:("); i >= 0 {
			reason = reason[:i]
		}
		if reason = strings.TrimSpace(reason); reason != "" {
			return reason
		}
	}
	switch {
	case g.State == stateRetry && g.LastError != "":
		return "retrying"
	case g.State == statePending || g.State == stateSched:
		return "queued"
	}
	return "polling"
}

// DescribeEvent sums up a completion event in a line: "completed (5 polls):
// https://cdn.example.com/v.mp4", "failed (3 polls): generation_failed: The
// prompt was rejected."
func DescribeEvent(ev genwatch.Event) string {
	s := fmt.Sprintf("%s (%s)", ev.Status, pollCount(ev.Polls))
	switch {
	case ev.Error != nil && ev.Error.Message != "":
		s += ": " + ev.Error.Code + ": " + ev.Error.Message
	case ev.Error != nil:
		s += ": " + ev.Error.Code
	case ev.URL != "":
		s += ": " + ev.URL
	}
	return s
}

// progressLine reads like "running 40% (3 polls)".
func progressLine(g genwatch.Generation) string {
	s := StateWord(g)
	if g.Progress != nil {
		s += fmt.Sprintf(" %d%%", *g.Progress)
	}
	if g.Polls > 0 {
		s += " (" + pollCount(g.Polls) + ")"
	}
	return s
}

// outcomeLine says how a generation's wait ended, without its task ID.
func outcomeLine(o Outcome) string {
	switch o.Result {
	case ResultNotTracked:
		return "not tracked"
	case ResultArchived:
		if o.Last.LastError != "" {
			return "archived: " + o.Last.LastError
		}
		return "archived"
	case ResultUnfinished:
		return "still waiting: " + progressLine(o.Last)
	}
	if o.Last.Event != nil {
		return DescribeEvent(*o.Last.Event)
	}
	return string(o.Result)
}

func resultWords(r Result) string {
	switch r {
	case ResultNotTracked:
		return "not tracked"
	case ResultTimedOut:
		return "timed out"
	case ResultUnfinished:
		return "still waiting"
	}
	return string(r)
}

func pollCount(n int) string {
	if n == 1 {
		return "1 poll"
	}
	return fmt.Sprintf("%d polls", n)
}
