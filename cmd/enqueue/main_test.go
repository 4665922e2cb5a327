package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
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

// testBundle is one test's Redis and queue.
type testBundle struct {
	srv   *redistest.Server
	queue string
	insp  *asynq.Inspector
	// env is what the command sees as its environment; the real one is
	// never read, so GENWATCH_* variables of the host cannot interfere.
	env map[string]string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	srv := redistest.New(t)
	return &testBundle{
		srv:   srv,
		queue: redistest.Name(t, "q"),
		insp:  asynq.NewInspectorFromRedisClient(srv.Client),
		env:   map[string]string{},
	}
}

// outcome is what one run of the command did.
type outcome struct {
	code           int
	stdout, stderr string
}

// run runs the command against the bundle's Redis and queue.
func (b *testBundle) run(t *testing.T, stdin string, args ...string) outcome {
	t.Helper()
	args = append([]string{"--redis-url", b.srv.URL, "--queue", b.queue}, args...)
	return runWith(t, b.env, stdin, args...)
}

func runWith(t *testing.T, env map[string]string, stdin string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	code := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr, getenv)
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// request returns the payload of the queue's task with the given ID.
func (b *testBundle) request(t *testing.T, taskID string) genwatch.Request {
	t.Helper()
	info, err := b.insp.GetTaskInfo(b.queue, taskID)
	require.NoError(t, err)
	require.Equal(t, genwatch.TaskTypePoll, info.Type)
	require.Equal(t, b.queue, info.Queue)
	require.Equal(t, asynq.TaskStatePending, info.State)
	req, err := genwatch.DecodeRequest(info.Payload)
	require.NoError(t, err)
	return req
}

// requireEmpty checks that nothing of the queue reached Redis.
func (b *testBundle) requireEmpty(t *testing.T) {
	t.Helper()
	keys, err := b.srv.Client.Keys(t.Context(), "asynq:{"+b.queue+"}:*").Result()
	require.NoError(t, err)
	require.Empty(t, keys)
	queues, err := b.insp.Queues()
	require.NoError(t, err)
	require.NotContains(t, queues, b.queue)
}

// writeFile writes content to a file in the test's directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// metadataOf returns a JSON object of exactly n bytes.
func metadataOf(n int) string {
	const frame = `{"pad":""}`
	return `{"pad":"` + strings.Repeat("x", n-len(frame)) + `"}`
}

func TestEnqueueByFlags(t *testing.T) {
	t.Parallel()
	b := setup(t)

	before := time.Now().UTC().Truncate(time.Second)
	got := b.run(t, "", "--provider", "hoox", "--id", "662f8c1d", "--metadata", `{"order":42}`, "--max-wait", "10m", "--expected", "90s")
	after := time.Now().UTC()
	require.Equal(t, exitOK, got.code, got.stderr)
	require.Equal(t, "hoox:662f8c1d\n", got.stdout)
	require.Empty(t, got.stderr)

	req := b.request(t, "hoox:662f8c1d")
	require.Equal(t, genwatch.ProviderHoox, req.Provider)
	require.Equal(t, "662f8c1d", req.GenerationID)
	require.Empty(t, req.Account)
	require.JSONEq(t, `{"order":42}`, string(req.Metadata))
	require.Equal(t, int64(600), req.MaxWaitSeconds)
	require.Equal(t, int64(90), req.ExpectedSeconds)
	require.NotNil(t, req.EnqueuedAt)
	require.WithinRange(t, *req.EnqueuedAt, before, after)

	again := b.run(t, "", "--provider", "hoox", "--id", "662f8c1d")
	require.Equal(t, exitOK, again.code, again.stderr)
	require.Equal(t, "hoox:662f8c1d (already tracked)\n", again.stdout)
	require.Equal(t, req, b.request(t, "hoox:662f8c1d"), "the first request is kept")
}

func TestEnqueueBatch(t *testing.T) {
	t.Parallel()
	batch := strings.Join([]string{
		`{"provider":"hoox","generation_id":"a1"}`,
		``,
		`  {"provider":"hooked","generation_id":"b2","metadata":{"order":7},"max_wait_seconds":90}  `,
		`{"provider":"token360","generation_id":"c3","enqueued_at":"2026-01-02T03:04:05Z"}`,
		`{"provider":"hoox","generation_id":"a1"}`,
		`{"provider":"hoox","generation_id":"big","metadata":` + metadataOf(genwatch.MaxMetadataBytes) + `}`,
		``,
	}, "\n")
	wantOut := "hoox:a1\nhooked:b2\ntoken360:c3\nhoox:a1 (already tracked)\nhoox:big\n"

	for _, tt := range []struct {
		desc  string
		stdin string
		args  func(t *testing.T) []string
	}{
		{desc: "stdin as -", stdin: batch, args: func(*testing.T) []string { return []string{"-"} }},
		{desc: "stdin as --file -", stdin: batch, args: func(*testing.T) []string { return []string{"--file", "-"} }},
		{desc: "file", args: func(t *testing.T) []string { return []string{"--file", writeFile(t, "batch.jsonl", batch)} }},
		{desc: "file with CRLF line ends", args: func(t *testing.T) []string {
			return []string{"--file", writeFile(t, "batch.jsonl", strings.ReplaceAll(batch, "\n", "\r\n"))}
		}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)

			got := b.run(t, tt.stdin, tt.args(t)...)
			require.Equal(t, exitOK, got.code, got.stderr)
			require.Equal(t, wantOut, got.stdout)

			require.Equal(t, genwatch.ProviderHoox, b.request(t, "hoox:a1").Provider)
			b2 := b.request(t, "hooked:b2")
			require.JSONEq(t, `{"order":7}`, string(b2.Metadata))
			require.Equal(t, int64(90), b2.MaxWaitSeconds)
			require.NotNil(t, b2.EnqueuedAt)
			c3 := b.request(t, "token360:c3")
			require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), c3.EnqueuedAt.UTC(), "a given enqueued_at is kept")
			require.Len(t, b.request(t, "hoox:big").Metadata, genwatch.MaxMetadataBytes)

			pending, err := b.insp.ListPendingTasks(b.queue)
			require.NoError(t, err)
			require.Len(t, pending, 4)
		})
	}
}

func TestEnqueueJSONOutput(t *testing.T) {
	t.Parallel()
	b := setup(t)

	got := b.run(t, `{"provider":"hoox","generation_id":"j1"}`+"\n"+`{"provider":"hoox","generation_id":"j1"}`, "--json", "-")
	require.Equal(t, exitOK, got.code, got.stderr)

	var results []result
	dec := json.NewDecoder(strings.NewReader(got.stdout))
	dec.DisallowUnknownFields()
	for dec.More() {
		var r result
		require.NoError(t, dec.Decode(&r))
		results = append(results, r)
	}
	require.Equal(t, []result{{TaskID: "hoox:j1"}, {TaskID: "hoox:j1", AlreadyTracked: true}}, results)
	require.Equal(t, 2, strings.Count(got.stdout, "\n"), "one object a line")

	single := b.run(t, "", "--json", "--provider", "hooked", "--id", "j2")
	require.Equal(t, exitOK, single.code, single.stderr)
	require.JSONEq(t, `{"task_id":"hooked:j2","already_tracked":false}`, single.stdout)
}

func TestEnqueueBatchWithInvalidLinesEnqueuesNothing(t *testing.T) {
	t.Parallel()
	batch := strings.Join([]string{
		`{"provider":"hoox","generation_id":"ok1"}`,
		`{"provider":"vimeo","generation_id":"x"}`,
		``,
		`{"provider":"hooked","generation_id":"ok2"}`,
		`not json`,
		`{"provider":"hoox","generation_id":"x","colour":"red"}`,
		`{"provider":"token360","generation_id":"x","account":"team-b"}`,
		`{"provider":"hoox","generation_id":"","max_wait_seconds":-1}`,
		`{"provider":"hoox","generation_id":"x","metadata":` + metadataOf(genwatch.MaxMetadataBytes+1) + `}`,
		`{"provider":"hoox","generation_id":"ok3"}`,
	}, "\n")
	b := setup(t)
	path := writeFile(t, "batch.jsonl", batch)

	got := b.run(t, "", "--file", path)
	require.Equal(t, exitUsage, got.code)
	require.Empty(t, got.stdout)
	wantPrefixes := []string{
		`line 2: unknown provider "vimeo"`,
		`line 5: decode payload: `,
		`line 6: decode payload: json: unknown field "colour"`,
		`line 7: unknown account "team-b" for provider token360`,
		`line 8: generation_id is required`,
		`line 8: max_wait_seconds must not be negative, got -1`,
		`line 9: metadata is 16385 bytes encoded, at most 16384 allowed`,
		`enqueue: invalid requests in ` + path + `; nothing was enqueued`,
	}
	lines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n")
	require.Len(t, lines, len(wantPrefixes), got.stderr)
	for i, prefix := range wantPrefixes {
		require.True(t, strings.HasPrefix(lines[i], prefix), "stderr line %d: %q, want prefix %q", i+1, lines[i], prefix)
	}
	b.requireEmpty(t)
}

func TestEnqueueRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc       string
		stdin      string
		args       []string
		wantStderr string
	}{
		{
			desc:       "unknown provider",
			args:       []string{"--provider", "vimeo", "--id", "x"},
			wantStderr: fmt.Sprintf(`enqueue: invalid request: unknown provider "vimeo" (want one of %v)`, genwatch.Providers()),
		},
		{
			desc:       "no provider",
			args:       []string{"--id", "x"},
			wantStderr: "enqueue: invalid request: provider is required",
		},
		{
			desc:       "no generation ID",
			args:       []string{"--provider", "hoox"},
			wantStderr: "enqueue: invalid request: generation_id is required",
		},
		{
			desc:       "unknown account without configured accounts",
			args:       []string{"--provider", "hoox", "--id", "x", "--account", "team-b"},
			wantStderr: `enqueue: invalid request: unknown account "team-b" for provider hoox (configured: [default]); no accounts are configured for hoox here, so only "default" is accepted`,
		},
		{
			desc:       "metadata over 16 KiB",
			args:       []string{"--provider", "hoox", "--id", "x", "--metadata", metadataOf(genwatch.MaxMetadataBytes + 1)},
			wantStderr: "enqueue: invalid request: metadata is 16385 bytes encoded, at most 16384 allowed",
		},
		{
			desc:       "metadata not an object",
			args:       []string{"--provider", "hoox", "--id", "x", "--metadata", `[1,2]`},
			wantStderr: "enqueue: invalid request: metadata must be a JSON object",
		},
		{
			desc:       "metadata not JSON",
			args:       []string{"--provider", "hoox", "--id", "x", "--metadata", `{order:42}`},
			wantStderr: "enqueue: invalid request: metadata must be a JSON object",
		},
		{
			desc:       "negative max wait",
			args:       []string{"--provider", "hoox", "--id", "x", "--max-wait", "-1m"},
			wantStderr: "enqueue: invalid request: max_wait_seconds must not be negative, got -60",
		},
		{
			desc:       "max wait not whole seconds",
			args:       []string{"--provider", "hoox", "--id", "x", "--max-wait", "1500ms"},
			wantStderr: "enqueue: --max-wait must be whole seconds, got 1.5s",
		},
		{
			desc:       "negative expected duration",
			args:       []string{"--provider", "hoox", "--id", "x", "--expected", "-30s"},
			wantStderr: "enqueue: invalid request: expected_seconds must not be negative, got -30",
		},
		{
			desc:       "expected duration not whole seconds",
			args:       []string{"--provider", "hoox", "--id", "x", "--expected", "2500ms"},
			wantStderr: "enqueue: --expected must be whole seconds, got 2.5s",
		},
		{
			desc:       "nothing to enqueue",
			wantStderr: "enqueue: nothing to enqueue: give --provider and --id, or --file",
		},
		{
			desc:       "flags and a batch",
			args:       []string{"--provider", "hoox", "--id", "x", "-"},
			wantStderr: "enqueue: --provider, --id, --account, --metadata, --max-wait and --expected cannot be combined with a batch",
		},
		{
			desc:       "--file and -",
			args:       []string{"--file", "batch.jsonl", "-"},
			wantStderr: "enqueue: give --file or -, not both",
		},
		{
			desc:       "stray argument",
			args:       []string{"--provider", "hoox", "--id", "x", "extra"},
			wantStderr: `enqueue: unexpected argument "extra"`,
		},
		{
			desc:       "unknown flag",
			args:       []string{"--provider", "hoox", "--generation", "x"},
			wantStderr: "flag provided but not defined: -generation",
		},
		{
			desc:       "missing batch file",
			args:       []string{"--file", "/nonexistent/batch.jsonl"},
			wantStderr: "enqueue: read batch: open /nonexistent/batch.jsonl: no such file or directory",
		},
		{
			desc:       "line longer than 1 MiB",
			stdin:      `{"provider":"hoox","generation_id":"ok"}` + "\n" + `{"provider":"hoox","generation_id":"` + strings.Repeat("x", maxLineBytes) + `"}`,
			args:       []string{"-"},
			wantStderr: "line 2: longer than 1048576 bytes",
		},
		{
			desc:       "--wait-timeout without --wait",
			args:       []string{"--provider", "hoox", "--id", "x", "--wait-timeout", "1m"},
			wantStderr: "enqueue: --wait-timeout needs --wait",
		},
		{
			desc:       "negative --wait-timeout",
			args:       []string{"--provider", "hoox", "--id", "x", "--wait", "--wait-timeout", "-1m"},
			wantStderr: "enqueue: --wait-timeout must not be negative, got -1m0s",
		},
		{
			desc:       "bad queue",
			args:       []string{"--queue", "", "--provider", "hoox", "--id", "x"},
			wantStderr: "queue: must not be empty",
		},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)

			got := b.run(t, tt.stdin, tt.args...)
			require.Equal(t, exitUsage, got.code, got.stderr)
			require.Empty(t, got.stdout)
			require.Contains(t, got.stderr, tt.wantStderr)
			b.requireEmpty(t)
		})
	}
}

func TestEnqueueAccounts(t *testing.T) {
	t.Parallel()
	const teamB = `
providers:
  hoox:
    accounts:
      team-b:
        api_key: k-team-b
`
	for _, tt := range []struct {
		desc     string
		config   string
		env      map[string]string
		provider string
		account  string
		wantCode int
	}{
		{desc: "default, nothing configured", provider: "hoox", wantCode: exitOK},
		{desc: "named default, nothing configured", provider: "hoox", account: "default", wantCode: exitOK},
		{desc: "other account, nothing configured", provider: "hoox", account: "team-b", wantCode: exitUsage},
		{desc: "account configured in the file", config: teamB, provider: "hoox", account: "team-b", wantCode: exitOK},
		{desc: "default not configured beside others", config: teamB, provider: "hoox", wantCode: exitUsage},
		{desc: "default from the environment beside the file", config: teamB, env: map[string]string{"GENWATCH_HOOX_API_KEY": "k"}, provider: "hoox", wantCode: exitOK},
		{desc: "other provider keeps default", config: teamB, provider: "hooked", wantCode: exitOK},
		{desc: "account of another provider", config: teamB, provider: "hooked", account: "team-b", wantCode: exitUsage},
		{desc: "unknown account beside a configured default", env: map[string]string{"GENWATCH_TOKEN360_API_KEY": "k"}, provider: "token360", account: "team-c", wantCode: exitUsage},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for k, v := range tt.env {
				b.env[k] = v
			}
			args := []string{"--provider", tt.provider, "--id", "acct1"}
			if tt.account != "" {
				args = append(args, "--account", tt.account)
			}
			if tt.config != "" {
				args = append(args, "--config", writeFile(t, "genwatch.yaml", tt.config))
			}

			got := b.run(t, "", args...)
			require.Equal(t, tt.wantCode, got.code, got.stderr)
			if tt.wantCode != exitOK {
				require.Contains(t, got.stderr, "unknown account")
				b.requireEmpty(t)
				return
			}
			req := b.request(t, genwatch.TaskID(tt.provider, "acct1"))
			require.Equal(t, tt.account, req.Account)
		})
	}
}

func TestEnqueueConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	envQueue := redistest.Name(t, "env")
	path := writeFile(t, "genwatch.yaml", "redis:\n  url: redis://127.0.0.1:1/0\nqueue: "+redistest.Name(t, "file")+"\n")
	b.env["GENWATCH_QUEUE"] = envQueue

	got := runWith(t, b.env, "", "--config", path, "--redis-url", b.srv.URL, "--provider", "hoox", "--id", "cfg1")
	require.Equal(t, exitOK, got.code, got.stderr)
	info, err := b.insp.GetTaskInfo(envQueue, "hoox:cfg1")
	require.NoError(t, err)
	require.Equal(t, envQueue, info.Queue, "the environment wins over the file")

	b.env["GENWATCH_REDIS_URL"] = b.srv.URL
	got = runWith(t, b.env, "", "--config", path, "--queue", b.queue, "--provider", "hoox", "--id", "cfg2")
	require.Equal(t, exitOK, got.code, got.stderr)
	require.Equal(t, "cfg2", b.request(t, "hoox:cfg2").GenerationID, "--queue wins over the environment")

	bad := runWith(t, b.env, "", "--config", writeFile(t, "bad.yaml", "queue: [\n"), "--provider", "hoox", "--id", "cfg3")
	require.Equal(t, exitUsage, bad.code)
	require.Contains(t, bad.stderr, "enqueue: config ")
}

// TestEnqueueRedisProblems covers a Redis that cannot be reached (exit 1)
// and URLs that cannot be used (exit 2); the password never shows.
func TestEnqueueRedisProblems(t *testing.T) {
	t.Parallel()
	const unreachable = "redis://genwatch:hunter2@127.0.0.1:1/0"
	for _, tt := range []struct {
		desc       string
		url        string
		stdin      string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{
			desc:       "unreachable, by flags",
			url:        unreachable,
			args:       []string{"--provider", "hoox", "--id", "x"},
			wantCode:   exitError,
			wantStderr: "enqueue: cannot reach Redis at redis://genwatch:xxxxx@127.0.0.1:1/0: dial tcp 127.0.0.1:1: connect: connection refused; nothing was enqueued",
		},
		{
			desc:       "unreachable, batch",
			url:        unreachable,
			stdin:      `{"provider":"hoox","generation_id":"x"}`,
			args:       []string{"-"},
			wantCode:   exitError,
			wantStderr: "enqueue: cannot reach Redis at redis://genwatch:xxxxx@127.0.0.1:1/0: ",
		},
		{
			desc:       "bad scheme",
			url:        "http://genwatch:hunter2@127.0.0.1:6379/0",
			args:       []string{"--provider", "hoox", "--id", "x"},
			wantCode:   exitUsage,
			wantStderr: "redis.url: want redis:// or rediss:// URL",
		},
		{
			desc:       "bad database",
			url:        "redis://genwatch:hunter2@127.0.0.1:6379/x",
			args:       []string{"--provider", "hoox", "--id", "x"},
			wantCode:   exitUsage,
			wantStderr: `enqueue: config: redis.url: redis: invalid database number: "x"`,
		},
		{
			desc:       "bad port",
			url:        "redis://genwatch:hunter2@127.0.0.1:port/0",
			args:       []string{"--provider", "hoox", "--id", "x"},
			wantCode:   exitUsage,
			wantStderr: "redis.url: want redis:// or rediss:// URL",
		},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got := runWith(t, nil, tt.stdin, append([]string{"--redis-url", tt.url}, tt.args...)...)
			require.Equal(t, tt.wantCode, got.code, got.stderr)
			require.Empty(t, got.stdout)
			require.Contains(t, got.stderr, tt.wantStderr)
			require.NotContains(t, got.stderr, "hunter2")
		})
	}
}

func TestEnqueueEmptyBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)

	got := b.run(t, "\n  \n", "-")
	require.Equal(t, exitOK, got.code, got.stderr)
	require.Empty(t, got.stdout)
	b.requireEmpty(t)
}

func TestEnqueueHelp(t *testing.T) {
	t.Parallel()
	got := runWith(t, nil, "", "--help")
	require.Equal(t, exitOK, got.code)
	require.Contains(t, got.stderr, "Usage:\n  enqueue [flags] --provider NAME --id GENERATION_ID")
	require.Contains(t, got.stderr, `For a provider with none configured, as on a host that holds no API
keys, only "default" is accepted.`)
	require.Contains(t, got.stderr, "-redis-url URL")
}

func TestEnqueueAndWait(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)
	e.Sim.Create(genwatch.ProviderHoox, "w1", simulator.Plan{RunFor: time.Second, URL: "https://cdn.example.com/w1.mp4"})
	e.Sim.Create(genwatch.ProviderHooked, "w2", simulator.Plan{RunFor: time.Second, Outcome: simulator.Fail, FailMessage: "The prompt was rejected."})
	e.Start(t)

	got := runWith(t, e.Vars(), "", "--wait", "--provider", "hoox", "--id", "w1")
	require.Equal(t, exitOK, got.code, got.stderr)
	require.Empty(t, got.stderr)
	require.True(t, strings.HasPrefix(got.stdout, "hoox:w1\nhoox:w1: "), "the task ID, then the wait: %q", got.stdout)
	require.Contains(t, got.stdout, "\nhoox:w1: completed (")
	require.True(t, strings.HasSuffix(got.stdout, "): https://cdn.example.com/w1.mp4\ncompleted\n"), got.stdout)
	require.Len(t, e.Events(t), 1)

	// A batch with one that fails, and the one that has completed: it is
	// already tracked, and reported at once.
	batch := `{"provider":"hooked","generation_id":"w2"}` + "\n" + `{"provider":"hoox","generation_id":"w1"}`
	mixed := runWith(t, e.Vars(), batch, "--wait", "--wait-timeout", "1m", "--json", "-")
	require.Equal(t, exitNotCompleted, mixed.code, mixed.stderr)
	lines := strings.Split(strings.TrimSuffix(mixed.stdout, "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 4)
	require.JSONEq(t, `{"task_id":"hooked:w2","already_tracked":false}`, lines[0])
	require.JSONEq(t, `{"task_id":"hoox:w1","already_tracked":true}`, lines[1])
	finals := map[string]wait.Report{}
	for _, l := range lines[2:] {
		var r wait.Report
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&r), l)
		if r.Final {
			finals[r.TaskID] = r
		}
	}
	require.Len(t, finals, 2)
	require.Equal(t, wait.ResultCompleted, finals["hoox:w1"].Result)
	require.Equal(t, wait.ResultFailed, finals["hooked:w2"].Result)
	require.Equal(t, "The prompt was rejected.", finals["hooked:w2"].Event.Error.Message)
	require.Len(t, e.Events(t), 2)
}

func TestEnqueueWaitTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t) // no worker: the generation stays queued

	got := b.run(t, "", "--provider", "hoox", "--id", "t1", "--wait", "--wait-timeout", "1s")
	require.Equal(t, exitNotCompleted, got.code, got.stderr)
	require.Equal(t, "hoox:t1\nhoox:t1: queued, done in ~1m\nhoox:t1: still waiting: queued\n0 of 1 completed; not completed: hoox:t1 (still waiting)\n", got.stdout)
	require.Equal(t, "enqueue: stopped waiting after 1s\n", got.stderr)
}
