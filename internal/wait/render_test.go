package wait

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/tasks"
)

// TestBarsFollowUpdates checks what each bar is told, which the drawing
// (on mpb's own ticker) shows whenever it next draws.
func TestBarsFollowUpdates(t *testing.T) {
	t.Parallel()
	p := func(n int) *int { return &n }
	b := newBars(io.Discard, []string{"hoox:a", "hooked:b"})
	a, bb := b.rows[0], b.rows[1]

	word, detail := a.get()
	require.Equal(t, "queued", word)
	require.Equal(t, "  - · 0 polls", detail)

	b.update(0, tasks.Generation{State: "retry", Polls: 3, Progress: p(40), LastError: "running, 40%, next poll in 1s"})
	word, detail = a.get()
	require.Equal(t, "running", word)
	require.Equal(t, " 40% · 3 polls", detail)
	require.EqualValues(t, 40, a.bar.Current())

	b.update(0, tasks.Generation{State: "active", Polls: 4, Progress: p(100), LastError: "running, 100%, next poll in 1s"})
	require.EqualValues(t, 100, a.bar.Current())
	require.False(t, a.bar.Completed(), "100% while running does not end the bar")

	ev := &genwatch.Event{Status: genwatch.StatusFailed, Polls: 2, Error: &genwatch.EventError{Code: "generation_failed", Message: "no"}}
	b.final(1, Outcome{TaskID: "hooked:b", Result: ResultFailed, Last: tasks.Generation{Polls: 2, Progress: p(20), Event: ev}})
	word, detail = bb.get()
	require.Equal(t, "failed", word)
	require.Equal(t, " 20% · 2 polls · generation_failed", detail)
	require.True(t, bb.bar.Aborted())

	done := &genwatch.Event{Status: genwatch.StatusCompleted, Polls: 5}
	b.final(0, Outcome{TaskID: "hoox:a", Result: ResultCompleted, Last: tasks.Generation{Polls: 5, Event: done}})
	word, detail = a.get()
	require.Equal(t, "completed", word)
	require.Equal(t, "100% · 5 polls", detail)
	require.True(t, a.bar.Completed())

	require.NoError(t, b.close(nil))
}
