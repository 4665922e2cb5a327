package wait

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
)

// TestBarsFollowUpdates checks what each bar is told, which the drawing
// (on mpb's own ticker) shows whenever it next draws.
func TestBarsFollowUpdates(t *testing.T) {
	t.Parallel()
	p := func(n int) *int { return &n }
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	b := newBars(io.Discard, []string{"hoox:a", "hooked:b"}, func() time.Time { return now })
	a, bb := b.rows[0], b.rows[1]

	word, detail, _ := a.get()
	require.Equal(t, "queued", word)
	require.Equal(t, "  - · 0 polls", detail)

	eta := now.Add(25 * time.Second)
	b.update(0, genwatch.Generation{State: "retry", Polls: 3, Progress: p(40), ETA: &eta, LastError: "running, 40%, next poll in 1s"})
	word, detail, shown := a.get()
	require.Equal(t, "running", word)
	require.Equal(t, " 40% · 3 polls", detail)
	require.Equal(t, "done in ~25s", etaWords(shown, now), "the bar shows the estimate")
	require.EqualValues(t, 40, a.bar.Current())

	b.update(0, genwatch.Generation{State: "active", Polls: 4, Progress: p(100), LastError: "running, 100%, next poll in 1s"})
	require.EqualValues(t, 100, a.bar.Current())
	require.False(t, a.bar.Completed(), "100% while running does not end the bar")

	ev := &genwatch.Event{Status: genwatch.StatusFailed, Polls: 2, Error: &genwatch.EventError{Code: "generation_failed", Message: "no"}}
	b.final(1, Outcome{TaskID: "hooked:b", Result: ResultFailed, Last: genwatch.Generation{Polls: 2, Progress: p(20), Event: ev}})
	word, detail, shown = bb.get()
	require.Nil(t, shown, "an ended generation has no estimate")
	require.Equal(t, "failed", word)
	require.Equal(t, " 20% · 2 polls · generation_failed", detail)
	require.True(t, bb.bar.Aborted())

	done := &genwatch.Event{Status: genwatch.StatusCompleted, Polls: 5}
	b.final(0, Outcome{TaskID: "hoox:a", Result: ResultCompleted, Last: genwatch.Generation{Polls: 5, Event: done}})
	word, detail, _ = a.get()
	require.Equal(t, "completed", word)
	require.Equal(t, "100% · 5 polls", detail)
	require.True(t, a.bar.Completed())

	require.NoError(t, b.close(nil))
}

func TestETAWords(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tt := range []struct {
		desc string
		eta  *time.Time
		want string
	}{
		{"none", nil, ""},
		{"seconds", at(25 * time.Second), "done in ~25s"},
		{"minutes", at(3*time.Minute + 10*time.Second), "done in ~3m10s"},
		{"hours", at(2*time.Hour + 5*time.Minute), "done in ~2h05m"},
		{"now", at(300 * time.Millisecond), "done any moment"},
		{"passed", at(-time.Minute), "done any moment"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			require.Equal(t, tt.want, etaWords(tt.eta, now))
		})
	}
}
