package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/cli"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/internal/wait"
)

func TestMain(m *testing.M) {
	cli.QuietRedis()
	os.Exit(redistest.Main(m))
}

// outcome is what one run of the command did.
type outcome struct {
	code           int
	stdout, stderr string
}

// runWith runs the command with env as its whole environment: the host's
// GENWATCH_* variables cannot interfere.
func runWith(t *testing.T, env map[string]string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	code := run(t.Context(), args, &stdout, &stderr, getenv)
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// decodeLines decodes every JSON line of out into a T, strictly.
func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var got []T
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	for dec.More() {
		var v T
		require.NoError(t, dec.Decode(&v), out)
		got = append(got, v)
	}
	require.Equal(t, len(got), strings.Count(out, "\n"), "one object a line")
	return got
}

func TestStatusOfARunningGeneration(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)
	e.Sim.Create(genwatch.ProviderHooked, "r1", simulator.Plan{Outcome: simulator.Never, RunFor: time.Minute})
	e.Start(t)
	id := e.Track(t, genwatch.ProviderHooked, "r1")
	e.WaitFor(t, id, func(g genwatch.Generation) bool { return g.Polls >= 1 && g.Progress != nil })

	// The task waits for its next poll most of the time; between polls it
	// is briefly pending or active, when no next poll is due.
	var got outcome
	require.Eventually(t, func() bool {
		got = runWith(t, e.Vars(), "status", id)
		return got.code == cli.ExitOK && strings.Contains(got.stdout, "next poll:")
	}, clitest.WaitFor, 50*time.Millisecond)
	require.Empty(t, got.stderr)
	for _, want := range []string{
		`^hooked:r1\n`,
		`\n  state: +running \(task retry\)\n`,
		`\n  generation: +hooked r1, account default\n`,
		`\n  polls: +[1-9]\d*\n`,
		`\n  progress: +\d+%\n`,
		`\n  provider status: +STARTED\n`,
		`\n  next poll: +(in [\d.]+m?s|due now) \(20\d\d-\d\d-\d\dT[\d:]+Z\)\n`,
		`\n  eta: +(in ~\d+[hms][\dms]*|any moment) \(20\d\d-\d\d-\d\dT[\d:]+Z\)\n`,
		`\n  last error: +running, \d+%(, done (in ~\d+[hms][\dms]*|any moment))?, next poll in 1s\n`,
		`\n  enqueued: +20\d\d-`,
	} {
		require.Regexp(t, regexp.MustCompile(want), got.stdout)
	}
	require.NotContains(t, got.stdout, "event")

	js := runWith(t, e.Vars(), "status", "--json", "--provider", "hooked", "--id", "r1")
	require.Equal(t, cli.ExitOK, js.code, js.stderr)
	gens := decodeLines[genwatch.Generation](t, js.stdout)
	require.Len(t, gens, 1)
	require.Equal(t, "hooked:r1", gens[0].TaskID)
	require.Equal(t, "r1", gens[0].GenerationID)
	require.GreaterOrEqual(t, gens[0].Polls, 1)
	require.NotNil(t, gens[0].Progress)
	require.Nil(t, gens[0].Event)
}

func TestStatusNotTracked(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)
	e.Sim.Create(genwatch.ProviderHoox, "d1", simulator.Plan{})
	e.Start(t)
	id := e.Track(t, genwatch.ProviderHoox, "d1")
	waitTaskState(t, e, id, asynq.TaskStateCompleted)

	got := runWith(t, e.Vars(), "status", "hoox:nope", id)
	require.Equal(t, cli.ExitUsage, got.code)
	require.Equal(t, "genwatch status: "+notTracked(t, e, "hoox:nope")+"\n", got.stderr)
	require.Regexp(t, `(?s)^hoox:d1\n  state: +completed \(task completed\)\n.*\n  event: +completed \(1 poll\): https://\S+\n  event id: +evt_[0-9a-f]+\n  detected: +20`, got.stdout)
	require.NotContains(t, got.stdout, "next poll")

	js := runWith(t, e.Vars(), "status", "--json", "hoox:nope", id)
	require.Equal(t, cli.ExitUsage, js.code)
	lines := strings.Split(strings.TrimSuffix(js.stdout, "\n"), "\n")
	require.Len(t, lines, 2)
	require.JSONEq(t, `{"task_id":"hoox:nope","error":"`+notTracked(t, e, "hoox:nope")+`","not_tracked":true}`, lines[0])
	gens := decodeLines[genwatch.Generation](t, lines[1]+"\n")
	require.Equal(t, genwatch.StatusCompleted, gens[0].Event.Status)
}

// notTracked is what the commands say of a generation not tracked on e's
// Redis and queue.
func notTracked(t *testing.T, e *clitest.Env, taskID string) string {
	t.Helper()
	opt, err := redis.ParseURL(e.Config.Redis.URL)
	require.NoError(t, err)
	return fmt.Sprintf("%s is not tracked on redis %s db %d, queue %s (enqueued elsewhere, or ended more than 24h ago?)",
		taskID, opt.Addr, opt.DB, e.Config.Queue)
}

// TestNotTrackedNamesTheRedisButNeverItsPassword runs each command on a
// Redis that wants a password, given in the URL.
func TestNotTrackedNamesTheRedisButNeverItsPassword(t *testing.T) {
	t.Parallel()
	mr := miniredis.NewMiniRedis()
	mr.RequireUserAuth("genwatch", "hunter2")
	require.NoError(t, mr.Start())
	t.Cleanup(mr.Close)
	env := map[string]string{"GENWATCH_REDIS_URL": "redis://genwatch:hunter2@" + mr.Addr() + "/3"}
	want := "hoox:abc is not tracked on redis " + mr.Addr() + " db 3, queue genwatch (enqueued elsewhere, or ended more than 24h ago?)\n"

	for _, tt := range []struct {
		args     []string
		wantCode int
	}{
		{args: []string{"status", "hoox:abc"}, wantCode: cli.ExitUsage},
		{args: []string{"cancel", "hoox:abc"}, wantCode: cli.ExitUsage},
		{args: []string{"wait", "hoox:abc"}, wantCode: cli.ExitNotCompleted},
		{args: []string{"status", "--json", "hoox:abc"}, wantCode: cli.ExitUsage},
	} {
		got := runWith(t, env, tt.args...)
		require.Equal(t, tt.wantCode, got.code, "%v: %s", tt.args, got.stderr)
		require.Equal(t, "genwatch "+tt.args[0]+": "+want, got.stderr, tt.args)
		require.NotContains(t, got.stdout+got.stderr, "hunter2", tt.args)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)
	e.Sim.Create(genwatch.ProviderHoox, "c1", simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	e.Sim.Create(genwatch.ProviderHooked, "c2", simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	e.Start(t)
	c1 := e.Track(t, genwatch.ProviderHoox, "c1")
	c2 := e.Track(t, genwatch.ProviderHooked, "c2")
	e.WaitFor(t, c1, func(g genwatch.Generation) bool { return g.Polls >= 1 })
	e.WaitFor(t, c2, func(g genwatch.Generation) bool { return g.Polls >= 1 })

	got := runWith(t, e.Vars(), "cancel", c1)
	require.Equal(t, cli.ExitOK, got.code, got.stderr)
	require.Empty(t, got.stderr)
	require.Regexp(t, `^hoox:c1: canceled \(\d+ polls?\): canceled: tracking was canceled \(event evt_[0-9a-f]+\)\n$`, got.stdout)

	again := runWith(t, e.Vars(), "cancel", c1)
	require.Equal(t, cli.ExitOK, again.code, again.stderr)
	require.Equal(t, strings.Replace(got.stdout, ": canceled (", ": already ended: canceled (", 1), again.stdout)

	// The worker runs the waiting task at once; it ends with the event.
	info := waitTaskState(t, e, c1, asynq.TaskStateCompleted)
	result, err := genwatch.DecodeEvent(info.Result)
	require.NoError(t, err)
	require.Equal(t, genwatch.StatusCanceled, result.Status)
	events := e.Events(t)
	require.Len(t, events, 1, "exactly one event")
	require.Equal(t, result.ID, events[0].ID)
	require.Contains(t, got.stdout, events[0].ID)

	js := runWith(t, e.Vars(), "cancel", "--json", c2, c1)
	require.Equal(t, cli.ExitOK, js.code, js.stderr)
	lines := decodeLines[cancelLine](t, js.stdout)
	require.Len(t, lines, 2)
	require.Equal(t, c2, lines[0].TaskID)
	require.True(t, lines[0].Canceled)
	require.Equal(t, genwatch.StatusCanceled, lines[0].Event.Status)
	require.Equal(t, c1, lines[1].TaskID)
	require.False(t, lines[1].Canceled, "it had already ended")
	require.Equal(t, events[0].ID, lines[1].Event.ID)

	waitTaskState(t, e, c2, asynq.TaskStateCompleted)
	require.Len(t, e.Events(t), 2)
}

func TestCancelProblems(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)

	got := runWith(t, e.Vars(), "cancel", "hoox:nope")
	require.Equal(t, cli.ExitUsage, got.code)
	require.Empty(t, got.stdout)
	require.Equal(t, "genwatch cancel: "+notTracked(t, e, "hoox:nope")+"\n", got.stderr)

	js := runWith(t, e.Vars(), "cancel", "--json", "hoox:nope")
	require.Equal(t, cli.ExitUsage, js.code)
	require.JSONEq(t, `{"task_id":"hoox:nope","error":"`+notTracked(t, e, "hoox:nope")+`","not_tracked":true}`, js.stdout)

	// A task archived without an event cannot be canceled.
	aq := asynq.NewClientFromRedisClient(e.Redis.Client)
	t.Cleanup(func() { _ = aq.Close() })
	_, err := aq.Enqueue(asynq.NewTask(genwatch.TaskTypePoll, []byte(`{"provider":"hoox","generation_id":"arch"}`)),
		asynq.TaskID("hoox:arch"), asynq.Queue(e.Config.Queue))
	require.NoError(t, err)
	insp := asynq.NewInspectorFromRedisClient(e.Redis.Client)
	require.NoError(t, insp.ArchiveTask(e.Config.Queue, "hoox:arch"))
	arch := runWith(t, e.Vars(), "cancel", "hoox:arch", "hoox:nope")
	require.Equal(t, cli.ExitError, arch.code, "an error wins over not tracked")
	require.Contains(t, arch.stderr, "genwatch cancel: hoox:arch: its task was archived")
	require.Contains(t, arch.stderr, "genwatch cancel: "+notTracked(t, e, "hoox:nope")+"\n")
}

func TestWaitForACompletingAndAFailingGeneration(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)
	e.Sim.Create(genwatch.ProviderHoox, "ok", simulator.Plan{RunFor: time.Second, URL: "https://cdn.example.com/ok.mp4"})
	e.Sim.Create(genwatch.ProviderHooked, "bad", simulator.Plan{RunFor: time.Second, Outcome: simulator.Fail, FailMessage: "The prompt was rejected."})
	e.Start(t)
	ok := e.Track(t, genwatch.ProviderHoox, "ok")
	bad := e.Track(t, genwatch.ProviderHooked, "bad")

	got := runWith(t, e.Vars(), "wait", ok, bad)
	require.Equal(t, cli.ExitNotCompleted, got.code, got.stderr)
	require.Empty(t, got.stderr)
	lines := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
	require.Regexp(t, `^hoox:ok: (queued|polling|pending|running)`, lines[0], "the first look shows each generation")
	require.Contains(t, got.stdout, "\nhoox:ok: completed (")
	require.Contains(t, got.stdout, "): https://cdn.example.com/ok.mp4\n")
	require.Regexp(t, `\nhooked:bad: failed \(\d+ polls?\): generation_failed: The prompt was rejected.\n`, got.stdout)
	require.Equal(t, "1 of 2 completed; not completed: hooked:bad (failed)", lines[len(lines)-1])

	// Both have ended: a second wait reports them at once, here as JSON,
	// beside one that is not tracked.
	js := runWith(t, e.Vars(), "wait", "--json", ok, "hoox:nope", bad)
	require.Equal(t, cli.ExitNotCompleted, js.code, js.stderr)
	reports := decodeLines[wait.Report](t, js.stdout)
	require.Len(t, reports, 3)
	require.Equal(t, ok, reports[0].TaskID)
	require.True(t, reports[0].Final)
	require.True(t, reports[0].Completed)
	require.Equal(t, wait.ResultCompleted, reports[0].Result)
	require.Equal(t, "https://cdn.example.com/ok.mp4", reports[0].Event.URL)
	require.Equal(t, "hoox:nope", reports[1].TaskID)
	require.Equal(t, wait.ResultNotTracked, reports[1].Result)
	require.Equal(t, "genwatch wait: "+notTracked(t, e, "hoox:nope")+"\n", js.stderr)
	require.Equal(t, bad, reports[2].TaskID)
	require.Equal(t, wait.ResultFailed, reports[2].Result)
	require.Equal(t, genwatch.CodeGenerationFailed, reports[2].Event.Error.Code)

	done := runWith(t, e.Vars(), "wait", "--provider", "hoox", "--id", "ok")
	require.Equal(t, cli.ExitOK, done.code, done.stderr)
	require.Equal(t, "hoox:ok: completed (", done.stdout[:len("hoox:ok: completed (")])
	require.True(t, strings.HasSuffix(done.stdout, "\ncompleted\n"), done.stdout)
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)
	id := e.Track(t, genwatch.ProviderHoox, "q1") // no worker: it stays queued

	got := runWith(t, e.Vars(), "wait", id, "--timeout", "1500ms")
	require.Equal(t, cli.ExitNotCompleted, got.code, got.stderr)
	require.Equal(t, "hoox:q1: queued, done in ~1m\nhoox:q1: still waiting: queued\n0 of 1 completed; not completed: hoox:q1 (still waiting)\n", got.stdout)
	require.Equal(t, "genwatch wait: stopped waiting after 1.5s\n", got.stderr)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{desc: "no command", wantCode: cli.ExitUsage, wantStderr: "Usage:\n  genwatch status [flags] TASK_ID..."},
		{desc: "help", args: []string{"--help"}, wantCode: cli.ExitOK, wantStderr: "Exit codes:\n  status, cancel  0 success"},
		{desc: "command help", args: []string{"wait", "--help"}, wantCode: cli.ExitOK, wantStderr: "Exit codes: 0 every generation completed, 3 any did not (failed, timed\nout,"},
		{desc: "command help lists flags", args: []string{"status", "-h"}, wantCode: cli.ExitOK, wantStderr: "-redis-url URL"},
		{desc: "unknown command", args: []string{"list"}, wantCode: cli.ExitUsage, wantStderr: `genwatch: unknown command "list"`},
		{desc: "no task ID", args: []string{"status"}, wantCode: cli.ExitUsage, wantStderr: "genwatch status: no generation given"},
		{desc: "task ID without provider", args: []string{"cancel", "662f8c1d"}, wantCode: cli.ExitUsage, wantStderr: `genwatch cancel: invalid task ID "662f8c1d": want <provider>:<generation_id>`},
		{desc: "unknown provider", args: []string{"wait", "vimeo:x"}, wantCode: cli.ExitUsage, wantStderr: `invalid task ID "vimeo:x": unknown provider "vimeo"`},
		{desc: "empty generation ID", args: []string{"status", "hoox:"}, wantCode: cli.ExitUsage, wantStderr: `invalid task ID "hoox:": generation_id is required`},
		{desc: "--id without --provider", args: []string{"status", "--id", "x"}, wantCode: cli.ExitUsage, wantStderr: "provider is required"},
		{desc: "task IDs and --provider", args: []string{"status", "hoox:a", "--provider", "hoox", "--id", "b"}, wantCode: cli.ExitUsage, wantStderr: "give task IDs or --provider and --id, not both"},
		{desc: "timeout on status", args: []string{"status", "--timeout", "1s", "hoox:a"}, wantCode: cli.ExitUsage, wantStderr: "flag provided but not defined: -timeout"},
		{desc: "negative timeout", args: []string{"wait", "--timeout", "-1s", "hoox:a"}, wantCode: cli.ExitUsage, wantStderr: "--timeout must not be negative"},
		{desc: "bad config", args: []string{"status", "--queue", "", "hoox:a"}, wantCode: cli.ExitUsage, wantStderr: "queue: must not be empty"},
		{desc: "bad Redis URL", args: []string{"status", "--redis-url", "redis://u:hunter2@127.0.0.1:6379/x", "hoox:a"}, wantCode: cli.ExitUsage, wantStderr: `genwatch status: config: redis.url: redis: invalid database number: "x"`},
		{desc: "unreachable Redis", args: []string{"wait", "--redis-url", "redis://u:hunter2@127.0.0.1:1/0", "hoox:a"}, wantCode: cli.ExitError, wantStderr: "genwatch wait: cannot reach Redis at redis://u:xxxxx@127.0.0.1:1/0: dial tcp 127.0.0.1:1: connect: connection refused"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got := runWith(t, nil, tt.args...)
			require.Equal(t, tt.wantCode, got.code, got.stderr)
			require.Empty(t, got.stdout)
			require.Contains(t, got.stderr, tt.wantStderr)
			require.NotContains(t, got.stderr, "hunter2")
		})
	}
}

func TestParseInterleaved(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc     string
		args     []string
		wantPos  []string
		wantJSON bool
	}{
		{desc: "flags first", args: []string{"--json", "hoox:a", "hoox:b"}, wantPos: []string{"hoox:a", "hoox:b"}, wantJSON: true},
		{desc: "flags last", args: []string{"hoox:a", "hoox:b", "--json"}, wantPos: []string{"hoox:a", "hoox:b"}, wantJSON: true},
		{desc: "flags between", args: []string{"hoox:a", "--json", "hoox:b"}, wantPos: []string{"hoox:a", "hoox:b"}, wantJSON: true},
		{desc: "after --", args: []string{"hoox:a", "--", "--json"}, wantPos: []string{"hoox:a", "--json"}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			jsonOut := fs.Bool("json", false, "")
			pos, err := parseInterleaved(fs, tt.args)
			require.NoError(t, err)
			require.Equal(t, tt.wantPos, pos)
			require.Equal(t, tt.wantJSON, *jsonOut)
		})
	}
}

func waitTaskState(t *testing.T, e *clitest.Env, id string, state asynq.TaskState) *asynq.TaskInfo {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(e.Redis.Client)
	var info *asynq.TaskInfo
	require.Eventually(t, func() bool {
		i, err := insp.GetTaskInfo(e.Config.Queue, id)
		if err == nil && i.State == state {
			info = i
			return true
		}
		return false
	}, clitest.WaitFor, 20*time.Millisecond, "task %s never became %s", id, state)
	return info
}
