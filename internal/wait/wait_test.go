package wait_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/wait"
)

// fakeSource answers Status from a map that the test changes between looks.
type fakeSource struct {
	mu    sync.Mutex
	gens  map[string]genwatch.Generation
	err   error
	calls map[string]int
}

func newFakeSource() *fakeSource {
	return &fakeSource{gens: map[string]genwatch.Generation{}, calls: map[string]int{}}
}

func (f *fakeSource) set(gens ...genwatch.Generation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range gens {
		f.gens[g.TaskID] = g
	}
}

func (f *fakeSource) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeSource) callsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeSource) Status(_ context.Context, id string) (genwatch.Generation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[id]++
	if f.err != nil {
		return genwatch.Generation{}, f.err
	}
	g, ok := f.gens[id]
	if !ok {
		return genwatch.Generation{}, fmt.Errorf("%s: %w", id, genwatch.ErrNotTracked)
	}
	return g, nil
}

// syncBuffer is a bytes.Buffer safe for the writer and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

type testBundle struct {
	clock *clockwork.FakeClock
	src   *fakeSource
	out   *syncBuffer
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{
		clock: clockwork.NewFakeClockAt(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)),
		src:   newFakeSource(),
		out:   &syncBuffer{},
	}
}

type runResult struct {
	sum wait.Summary
	err error
}

// start runs wait.Run in the background with the bundle's source, clock and
// output.
func (b *testBundle) start(ctx context.Context, format wait.Format, ids ...string) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		sum, err := wait.Run(ctx, wait.Config{
			TaskIDs: ids,
			Source:  b.src,
			Clock:   b.clock,
			Out:     b.out,
			Format:  format,
		})
		done <- runResult{sum, err}
	}()
	return done
}

// next waits until Run has looked at every generation and waits for the
// clock, applies the next look's states, and moves the clock on.
func (b *testBundle) next(t *testing.T, gens ...genwatch.Generation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.clock.BlockUntilContext(ctx, 1), "Run never waited for the clock")
	b.src.set(gens...)
	b.clock.Advance(wait.DefaultInterval)
}

// play runs a script: looks[0] is what the first look sees, and so on; it
// returns what Run returned.
func (b *testBundle) play(t *testing.T, format wait.Format, ids []string, looks ...[]genwatch.Generation) runResult {
	t.Helper()
	b.src.set(looks[0]...)
	done := b.start(t.Context(), format, ids...)
	for _, look := range looks[1:] {
		b.next(t, look...)
	}
	return b.result(t, done)
}

func (b *testBundle) result(t *testing.T, done <-chan runResult) runResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return runResult{}
	}
}

func pct(n int) *int { return &n }

func queued(id string) genwatch.Generation {
	return genwatch.Generation{TaskID: id, State: "pending"}
}

func waiting(id, word string, polls int, progress *int) genwatch.Generation {
	next := time.Date(2026, 5, 1, 12, 0, polls+1, 0, time.UTC)
	reason := word
	if progress != nil {
		reason += fmt.Sprintf(", %d%%", *progress)
	}
	return genwatch.Generation{
		TaskID: id, State: "retry", Polls: polls, Progress: progress,
		ProviderStatus: strings.ToUpper(word), NextPollAt: &next,
		LastError: reason + ", next poll in 1s",
	}
}

func ended(id string, status genwatch.Status, polls int, progress *int) genwatch.Generation {
	provider, genID, _ := strings.Cut(id, ":")
	ev := &genwatch.Event{
		ID: genwatch.EventID(provider, genID, status), Type: status.EventType(), Status: status,
		Provider: provider, GenerationID: genID, Account: "default", Polls: polls, Progress: progress,
	}
	switch status {
	case genwatch.StatusCompleted:
		ev.URL = "https://cdn.example.com/" + genID + ".mp4"
	case genwatch.StatusFailed:
		ev.Error = &genwatch.EventError{Code: genwatch.CodeGenerationFailed, Message: "The prompt was rejected."}
	case genwatch.StatusCanceled:
		ev.Error = &genwatch.EventError{Code: genwatch.CodeCanceled, Message: "tracking was canceled"}
	}
	return genwatch.Generation{TaskID: id, State: "completed", Polls: polls, Progress: progress, Event: ev}
}

// script is one completing and one failing generation: hoox:a's second look
// differs from its first only in the number of polls, which is no change.
var (
	scriptIDs   = []string{"hoox:a", "hooked:b"}
	scriptLooks = [][]genwatch.Generation{
		{waiting("hoox:a", "running", 1, pct(10)), queued("hooked:b")},
		{waiting("hoox:a", "running", 2, pct(10)), waiting("hooked:b", "pending", 1, nil)},
		{waiting("hoox:a", "running", 3, pct(40)), ended("hooked:b", genwatch.StatusFailed, 2, nil)},
		{ended("hoox:a", genwatch.StatusCompleted, 4, pct(100))},
	}
)

func TestRunPlain(t *testing.T) {
	t.Parallel()
	b := setup(t)

	got := b.play(t, wait.FormatPlain, scriptIDs, scriptLooks...)
	require.NoError(t, got.err)
	require.Equal(t, strings.Join([]string{
		"hoox:a: running 10% (1 poll)",
		"hooked:b: queued",
		"hooked:b: pending (1 poll)",
		"hoox:a: running 40% (3 polls)",
		"hooked:b: failed (2 polls): generation_failed: The prompt was rejected.",
		"hoox:a: completed (4 polls): https://cdn.example.com/a.mp4",
		"1 of 2 completed; not completed: hooked:b (failed)",
		"",
	}, "\n"), b.out.String())

	require.False(t, got.sum.AllCompleted())
	require.Len(t, got.sum.Outcomes, 2)
	a, bb := got.sum.Outcomes[0], got.sum.Outcomes[1]
	require.Equal(t, "hoox:a", a.TaskID)
	require.Equal(t, wait.ResultCompleted, a.Result)
	require.Equal(t, "https://cdn.example.com/a.mp4", a.Last.Event.URL)
	require.Equal(t, "hooked:b", bb.TaskID)
	require.Equal(t, wait.ResultFailed, bb.Result)
	require.Equal(t, []wait.Outcome{a}, got.sum.Completed())
	require.Equal(t, []wait.Outcome{bb}, got.sum.NotCompleted())
	require.Equal(t, 3, b.src.callsOf("hooked:b"), "an ended generation is not asked about again")
	require.Equal(t, 4, b.src.callsOf("hoox:a"))
}

func TestRunJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)

	got := b.play(t, wait.FormatJSON, scriptIDs, scriptLooks...)
	require.NoError(t, got.err)

	type line struct {
		TaskID, State string
		Progress      *int
		Polls         int
		Final         bool
		Result        wait.Result
		Completed     bool
		EventStatus   genwatch.Status
	}
	var lines []line
	var reports []wait.Report
	dec := json.NewDecoder(strings.NewReader(b.out.String()))
	dec.DisallowUnknownFields()
	for dec.More() {
		var r wait.Report
		require.NoError(t, dec.Decode(&r))
		reports = append(reports, r)
		l := line{TaskID: r.TaskID, State: r.State, Progress: r.Progress, Polls: r.Polls, Final: r.Final, Result: r.Result, Completed: r.Completed}
		if r.Event != nil {
			l.EventStatus = r.Event.Status
		}
		lines = append(lines, l)
	}
	require.Equal(t, []line{
		{TaskID: "hoox:a", State: "running", Progress: pct(10), Polls: 1},
		{TaskID: "hooked:b", State: "queued"},
		{TaskID: "hooked:b", State: "pending", Polls: 1},
		{TaskID: "hoox:a", State: "running", Progress: pct(40), Polls: 3},
		{TaskID: "hooked:b", State: "failed", Polls: 2, Final: true, Result: wait.ResultFailed, EventStatus: genwatch.StatusFailed},
		{TaskID: "hoox:a", State: "completed", Progress: pct(100), Polls: 4, Final: true, Result: wait.ResultCompleted, Completed: true, EventStatus: genwatch.StatusCompleted},
	}, lines)
	require.Equal(t, strings.Count(b.out.String(), "\n"), len(lines), "one object a line, and no summary line")

	first := reports[0]
	require.Equal(t, "retry", first.TaskState)
	require.Equal(t, "RUNNING", first.ProviderStatus)
	require.Equal(t, "running, 10%, next poll in 1s", first.LastError)
	require.NotNil(t, first.NextPollAt)
	last := reports[len(reports)-1]
	require.Equal(t, "https://cdn.example.com/a.mp4", last.Event.URL)
	require.Equal(t, genwatch.EventID("hoox", "a", genwatch.StatusCompleted), last.Event.ID)
}

func TestRunBars(t *testing.T) {
	t.Parallel()
	b := setup(t)

	got := b.play(t, wait.FormatBars, scriptIDs, scriptLooks...)
	require.NoError(t, got.err)

	// mpb redraws every bar on each refresh, moving the cursor back up
	// first; the last frame holds the outcomes. The outcome lines and the
	// summary follow it.
	out := b.out.String()
	frames := strings.Split(out, "\x1b[J")
	lines := strings.Split(strings.TrimSuffix(frames[len(frames)-1], "\n"), "\n")
	require.Len(t, lines, 5, "%q", out)
	require.Regexp(t, `^hoox:a\s+completed\s+\[=+\]\s+100% · 4 polls$`, lines[0])
	require.Regexp(t, `^hooked:b\s+failed\s+\[.*\]\s+- · 2 polls · generation_failed$`, lines[1])
	require.Equal(t, []string{
		"hoox:a: completed (4 polls): https://cdn.example.com/a.mp4",
		"hooked:b: failed (2 polls): generation_failed: The prompt was rejected.",
		"1 of 2 completed; not completed: hooked:b (failed)",
	}, lines[2:])
}

func TestRunAutoIsPlainWhenNotATerminal(t *testing.T) {
	t.Parallel()
	b := setup(t)

	got := b.play(t, wait.FormatAuto, []string{"hoox:a"}, []genwatch.Generation{ended("hoox:a", genwatch.StatusCompleted, 1, nil)})
	require.NoError(t, got.err)
	require.True(t, got.sum.AllCompleted())
	require.Equal(t, "hoox:a: completed (1 poll): https://cdn.example.com/a.mp4\ncompleted\n", b.out.String())
}

func TestRunEndings(t *testing.T) {
	t.Parallel()
	archived := genwatch.Generation{TaskID: "hoox:arch", State: "archived", LastError: "decode payload: bad"}
	for _, tt := range []struct {
		desc       string
		gens       []genwatch.Generation
		ids        []string
		wantResult []wait.Result
		wantOut    string
	}{
		{
			desc:       "not tracked",
			ids:        []string{"hoox:gone"},
			wantResult: []wait.Result{wait.ResultNotTracked},
			wantOut:    "hoox:gone: not tracked\n0 of 1 completed; not completed: hoox:gone (not tracked)\n",
		},
		{
			desc:       "not tracked beside one that completes",
			gens:       []genwatch.Generation{ended("hoox:a", genwatch.StatusCompleted, 2, nil)},
			ids:        []string{"hoox:gone", "hoox:a"},
			wantResult: []wait.Result{wait.ResultNotTracked, wait.ResultCompleted},
			wantOut:    "hoox:gone: not tracked\nhoox:a: completed (2 polls): https://cdn.example.com/a.mp4\n1 of 2 completed; not completed: hoox:gone (not tracked)\n",
		},
		{
			desc:       "archived without an event",
			gens:       []genwatch.Generation{archived},
			ids:        []string{"hoox:arch"},
			wantResult: []wait.Result{wait.ResultArchived},
			wantOut:    "hoox:arch: archived: decode payload: bad\n0 of 1 completed; not completed: hoox:arch (archived)\n",
		},
		{
			desc: "timed out and canceled",
			gens: []genwatch.Generation{
				ended("hooked:t", genwatch.StatusTimedOut, 9, pct(90)),
				ended("token360:c", genwatch.StatusCanceled, 1, nil),
			},
			ids:        []string{"hooked:t", "token360:c"},
			wantResult: []wait.Result{wait.ResultTimedOut, wait.ResultCanceled},
			wantOut:    "hooked:t: timed_out (9 polls)\ntoken360:c: canceled (1 poll): canceled: tracking was canceled\n0 of 2 completed; not completed: hooked:t (timed out), token360:c (canceled)\n",
		},
		{
			desc:       "a task ID given twice is waited for once",
			gens:       []genwatch.Generation{ended("hoox:a", genwatch.StatusCompleted, 2, nil)},
			ids:        []string{"hoox:a", "hoox:a"},
			wantResult: []wait.Result{wait.ResultCompleted},
			wantOut:    "hoox:a: completed (2 polls): https://cdn.example.com/a.mp4\ncompleted\n",
		},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)

			got := b.play(t, wait.FormatPlain, tt.ids, tt.gens)
			require.NoError(t, got.err)
			var results []wait.Result
			for _, o := range got.sum.Outcomes {
				results = append(results, o.Result)
			}
			require.Equal(t, tt.wantResult, results)
			require.Equal(t, tt.wantOut, b.out.String())
		})
	}
}

func TestRunNotTrackedJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)

	got := b.play(t, wait.FormatJSON, []string{"hoox:gone"}, nil)
	require.NoError(t, got.err)
	require.JSONEq(t, `{"task_id":"hoox:gone","state":"not_tracked","polls":0,"final":true,"result":"not_tracked","completed":false}`, b.out.String())
}

func TestRunContextDone(t *testing.T) {
	t.Parallel()
	for _, format := range []wait.Format{wait.FormatPlain, wait.FormatJSON, wait.FormatBars} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.src.set(waiting("hoox:a", "running", 1, pct(10)), ended("hooked:b", genwatch.StatusCompleted, 1, nil))
			ctx, cancel := context.WithCancel(t.Context())
			done := b.start(ctx, format, "hoox:a", "hooked:b")

			require.NoError(t, b.clock.BlockUntilContext(t.Context(), 1))
			cancel()
			got := b.result(t, done)
			require.NoError(t, got.err, "a wait cut short is no error")
			require.Equal(t, wait.ResultUnfinished, got.sum.Outcomes[0].Result)
			require.Equal(t, 1, got.sum.Outcomes[0].Last.Polls, "the last state seen is kept")
			require.Equal(t, wait.ResultCompleted, got.sum.Outcomes[1].Result)

			out := b.out.String()
			switch format {
			case wait.FormatPlain:
				require.Equal(t, "hoox:a: running 10% (1 poll)\nhooked:b: completed (1 poll): https://cdn.example.com/b.mp4\n"+
					"hoox:a: still waiting: running 10% (1 poll)\n1 of 2 completed; not completed: hoox:a (still waiting)\n", out)
			case wait.FormatJSON:
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				require.Len(t, lines, 3)
				var r wait.Report
				require.NoError(t, json.Unmarshal([]byte(lines[2]), &r))
				require.Equal(t, wait.Report{TaskID: "hoox:a", State: "running", TaskState: "retry", Polls: 1, Progress: pct(10),
					ProviderStatus: "RUNNING", NextPollAt: r.NextPollAt, LastError: "running, 10%, next poll in 1s",
					Final: true, Result: wait.ResultUnfinished}, r)
			case wait.FormatBars:
				require.Contains(t, out, "still waiting")
				require.True(t, strings.HasSuffix(out, "1 of 2 completed; not completed: hoox:a (still waiting)\n"), out)
			}
		})
	}
}

func TestRunContextDoneWhileAsking(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	src := wait.SourceFunc(func(ctx context.Context, id string) (genwatch.Generation, error) {
		cancel()
		return genwatch.Generation{}, ctx.Err()
	})

	sum, err := wait.Run(ctx, wait.Config{TaskIDs: []string{"hoox:a"}, Source: src, Clock: b.clock, Out: b.out, Format: wait.FormatPlain})
	require.NoError(t, err, "an error caused by ctx is ctx being done")
	require.Equal(t, wait.ResultUnfinished, sum.Outcomes[0].Result)
	require.Equal(t, "hoox:a: still waiting: polling\n0 of 1 completed; not completed: hoox:a (still waiting)\n", b.out.String())
}

func TestRunSourceError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.src.set(waiting("hoox:a", "running", 1, pct(10)))
	done := b.start(t.Context(), wait.FormatPlain, "hoox:a")

	require.NoError(t, b.clock.BlockUntilContext(t.Context(), 1))
	down := errors.New("dial tcp 127.0.0.1:6379: connection refused")
	b.src.fail(down)
	b.clock.Advance(wait.DefaultInterval)
	got := b.result(t, done)
	require.ErrorIs(t, got.err, down)
	require.EqualError(t, got.err, "wait: dial tcp 127.0.0.1:6379: connection refused")
	require.Equal(t, wait.ResultUnfinished, got.sum.Outcomes[0].Result)
	require.Equal(t, "hoox:a: running 10% (1 poll)\n", b.out.String(), "no outcome or summary is shown after an error")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestRunWriteError(t *testing.T) {
	t.Parallel()
	for _, format := range []wait.Format{wait.FormatPlain, wait.FormatJSON} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			src := newFakeSource()
			src.set(ended("hoox:a", genwatch.StatusCompleted, 1, nil))
			sum, err := wait.Run(t.Context(), wait.Config{TaskIDs: []string{"hoox:a"}, Source: src, Out: failingWriter{}, Format: format})
			require.EqualError(t, err, "wait: write output: broken pipe")
			require.True(t, sum.AllCompleted(), "the outcomes are known all the same")
		})
	}
}

func TestRunIntervalAndClock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.src.set(waiting("hoox:a", "running", 1, pct(10)))
	done := make(chan runResult, 1)
	go func() {
		sum, err := wait.Run(t.Context(), wait.Config{TaskIDs: []string{"hoox:a"}, Source: b.src, Clock: b.clock, Interval: 5 * time.Second, Format: wait.FormatJSON, Out: b.out})
		done <- runResult{sum, err}
	}()

	require.NoError(t, b.clock.BlockUntilContext(t.Context(), 1))
	b.src.set(ended("hoox:a", genwatch.StatusCompleted, 2, nil))
	b.clock.Advance(4 * time.Second)
	require.Equal(t, 1, b.src.callsOf("hoox:a"), "no look before the interval has passed")
	b.clock.Advance(time.Second)
	got := b.result(t, done)
	require.NoError(t, got.err)
	require.Equal(t, 2, b.src.callsOf("hoox:a"))
}

func TestRunValidatesConfig(t *testing.T) {
	t.Parallel()
	src := newFakeSource()
	for _, tt := range []struct {
		desc    string
		cfg     wait.Config
		wantErr []string
	}{
		{desc: "nothing", cfg: wait.Config{}, wantErr: []string{"TaskIDs: at least one is required", "Source: required"}},
		{desc: "empty ID", cfg: wait.Config{TaskIDs: []string{"hoox:a", ""}, Source: src}, wantErr: []string{"TaskIDs: an ID is empty"}},
		{desc: "unknown format", cfg: wait.Config{TaskIDs: []string{"hoox:a"}, Source: src, Format: "xml"}, wantErr: []string{`Format: unknown format "xml"`}},
		{desc: "negative interval", cfg: wait.Config{TaskIDs: []string{"hoox:a"}, Source: src, Interval: -time.Second}, wantErr: []string{"Interval: must not be negative, got -1s"}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := wait.Run(t.Context(), tt.cfg)
			require.Error(t, err)
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestStateWord(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc string
		g    genwatch.Generation
		want string
	}{
		{desc: "pending task", g: genwatch.Generation{State: "pending"}, want: "queued"},
		{desc: "first poll", g: genwatch.Generation{State: "active"}, want: "polling"},
		{desc: "running with progress", g: genwatch.Generation{State: "retry", Polls: 2, LastError: "running, 40%, next poll in 6s"}, want: "running"},
		{desc: "being polled again", g: genwatch.Generation{State: "active", Polls: 2, LastError: "pending, next poll in 2s"}, want: "pending"},
		{desc: "not found yet", g: genwatch.Generation{State: "retry", Polls: 1, LastError: "not found yet (for 3s), next poll in 2s"}, want: "not found yet"},
		{desc: "rate limited", g: genwatch.Generation{State: "retry", Polls: 1, LastError: "rate limited: 429 Too Many Requests, next poll in 30s"}, want: "rate limited"},
		{desc: "failed outright", g: genwatch.Generation{State: "retry", Polls: 1, LastError: "store: connection reset"}, want: "retrying"},
		{desc: "archived", g: genwatch.Generation{State: "archived", LastError: "decode payload"}, want: "archived"},
		{desc: "ended", g: ended("hoox:a", genwatch.StatusTimedOut, 3, nil), want: "timed_out"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, wait.StateWord(tt.g))
		})
	}
}

func TestDescribeEvent(t *testing.T) {
	t.Parallel()
	require.Equal(t, "completed (1 poll): https://cdn.example.com/a.mp4", wait.DescribeEvent(*ended("hoox:a", genwatch.StatusCompleted, 1, nil).Event))
	require.Equal(t, "failed (3 polls): generation_failed: The prompt was rejected.", wait.DescribeEvent(*ended("hoox:a", genwatch.StatusFailed, 3, nil).Event))
	require.Equal(t, "timed_out (0 polls): timed_out", wait.DescribeEvent(genwatch.Event{Status: genwatch.StatusTimedOut, Error: &genwatch.EventError{Code: "timed_out"}}))
}
