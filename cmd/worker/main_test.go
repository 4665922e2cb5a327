package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// childEnv makes the test binary run main's code path, as the worker
// command would, so that the test can send it real signals.
const childEnv = "GENWATCH_TEST_WORKER_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, nil, os.Stdout, os.Stderr, os.LookupEnv)
		stop()
		os.Exit(code)
	}
	os.Exit(redistest.Main(m))
}

const waitFor = 60 * time.Second

func TestSIGTERMLosesNothingAndARestartPicksUp(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	sim := simulator.New(simulator.Config{})
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	t.Cleanup(sim.Close)

	// Every status call takes a while, so that polls are in flight when
	// the signal comes; every generation needs a few polls.
	for _, p := range genwatch.Providers() {
		sim.SetFaults(p, simulator.Faults{Latency: 300 * time.Millisecond})
	}
	const n = 24
	queue := redistest.Name(t, "q")
	cfg := config.Default()
	cfg.Redis.URL = srv.URL
	cfg.Queue = queue
	cfg.Events.Stream = queue + ":events"
	cfg.HTTPAddr = "off"
	cfg.Poll.Initial, cfg.Poll.Max, cfg.Poll.Jitter = time.Second, time.Second, -1
	for _, p := range genwatch.Providers() {
		cfg.Providers[p] = config.Provider{BaseURL: hs.URL, Accounts: map[string]config.Account{"default": {APIKey: secret.Value("k")}}}
	}

	aq := asynq.NewClientFromRedisClient(srv.Client)
	client := genwatch.NewClient(aq, genwatch.ClientConfig{Queue: queue})
	var ids []string
	for i := range n {
		p := genwatch.Providers()[i%3]
		id := fmt.Sprintf("sig-%d", i)
		sim.Create(p, id, simulator.Plan{PendingFor: time.Second, RunFor: 2 * time.Second})
		res, err := client.Track(context.Background(), genwatch.Request{Provider: p, GenerationID: id})
		require.NoError(t, err)
		ids = append(ids, res.TaskID)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	var out bytes.Buffer
	child.Stdout, child.Stderr = &out, &out
	child.Env = append(os.Environ(),
		childEnv+"=1",
		"GENWATCH_REDIS_URL="+srv.URL,
		"GENWATCH_QUEUE="+queue,
		"GENWATCH_EVENTS_STREAM="+cfg.Events.Stream,
		"GENWATCH_HTTP_ADDR=off",
		"GENWATCH_CONCURRENCY=8",
		"GENWATCH_HOOX_BASE_URL="+hs.URL, "GENWATCH_HOOKED_BASE_URL="+hs.URL, "GENWATCH_TOKEN360_BASE_URL="+hs.URL,
		"GENWATCH_HOOX_API_KEY=k", "GENWATCH_HOOKED_API_KEY=k", "GENWATCH_TOKEN360_API_KEY=k",
	)
	require.NoError(t, child.Start())
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()

	// Signal once the child has polls in flight.
	inspector := asynq.NewInspectorFromRedisClient(srv.Client)
	require.Eventually(t, func() bool {
		active, err := inspector.ListActiveTasks(queue)
		return err == nil && len(active) >= 4
	}, waitFor, 10*time.Millisecond, "the child never had polls in flight: %s", &out)
	require.NoError(t, child.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "the worker exits cleanly on SIGTERM: %s", &out)
	case <-time.After(waitFor):
		t.Fatalf("the worker did not exit on SIGTERM: %s", &out)
	}
	require.Contains(t, out.String(), "shutting down")

	// Nothing is lost: every generation is still tracked, none is left
	// active (in-flight polls finished or went back to the queue), and no
	// generation has more than one event.
	tracked := 0
	for _, id := range ids {
		info, err := inspector.GetTaskInfo(queue, id)
		require.NoError(t, err, id)
		require.NotEqual(t, asynq.TaskStateActive, info.State, id)
		require.NotEqual(t, asynq.TaskStateArchived, info.State, id)
		tracked++
	}
	require.Equal(t, n, tracked)
	before := clitest.ReadEvents(t, srv.Client, cfg.Events.Stream)

	// A restarted worker picks up where the first left off.
	w, err := worker.New(cfg, worker.Options{Redis: srv.Client})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	require.Eventually(t, func() bool {
		return len(clitest.ReadEvents(t, srv.Client, cfg.Events.Stream)) >= n
	}, waitFor, 50*time.Millisecond)
	events := clitest.ReadEvents(t, srv.Client, cfg.Events.Stream)
	require.Len(t, events, n, "one event per generation, none twice")
	seen := map[string]bool{}
	for _, e := range events {
		require.False(t, seen[e.GenerationID], "duplicate event for %s", e.GenerationID)
		seen[e.GenerationID] = true
		require.Equal(t, genwatch.StatusCompleted, e.Status)
	}
	t.Logf("%d of %d generations had ended before SIGTERM", len(before), n)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{desc: "unknown flag", args: []string{"--nope"}, code: 2, want: "flag provided but not defined"},
		{desc: "bad config file", args: []string{"--config", "/does/not/exist.yaml"}, code: 2, want: "no such file"},
		{desc: "invalid environment", env: map[string]string{"GENWATCH_CONCURRENCY": "lots"}, code: 2, want: "GENWATCH_CONCURRENCY"},
		{desc: "bad log level", args: []string{"--log-level", "loud"}, code: 2, want: "log.level"},
		{
			desc: "a flag overrides the environment",
			args: []string{"--log-format", "yaml"}, env: map[string]string{"GENWATCH_LOG_FORMAT": "json"},
			code: 2, want: `log.format: want json or console, got "yaml"`,
		},
		{
			desc: "the environment stands where no flag is given",
			env:  map[string]string{"GENWATCH_LOG_FORMAT": "xml"},
			code: 2, want: `"xml"`,
		},
		{desc: "help", args: []string{"--help"}, code: 0, want: "Usage: worker"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			getenv := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			code := run(context.Background(), tt.args, &stdout, &stderr, getenv)
			require.Equal(t, tt.code, code, stderr.String())
			require.True(t, strings.Contains(stderr.String(), tt.want), "stderr: %s", stderr.String())
		})
	}
}
