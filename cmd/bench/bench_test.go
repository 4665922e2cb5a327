package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// TestRunMeasuresBothPhases runs the whole bench briefly. asynq runs on the
// real clock, so this test takes a few seconds of real time.
func TestRunMeasuresBothPhases(t *testing.T) {
	srv := redistest.New(t)
	const generations, concurrency = 50, 10
	cfg := Config{
		RedisURL:    srv.URL,
		Force:       true, // miniredis serves database 0
		Generations: generations,
		Concurrency: concurrency,
		Warmup:      time.Second,
		Duration:    2 * time.Second,
	}

	report, err := Run(context.Background(), cfg, io.Discard)
	require.NoError(t, err)

	for _, p := range []PhaseResult{report.Bare, report.Genwatch} {
		t.Logf("%s: %.1f polls/s, %.3f round trips/poll, %.2f commands/poll", p.Name, p.PollsPerSec, p.RoundTripsPerPoll, p.CommandsPerPoll)
		require.InDelta(t, 2, p.WindowSeconds, 0.5, p.Name)
		require.Positive(t, p.Polls, p.Name)
		// Each generation asks to be polled again a second later.
		require.LessOrEqual(t, p.PollsPerSec, float64(generations)*1.2, p.Name)
		require.Positive(t, p.CommandsPerPoll, p.Name)
		require.NotEmpty(t, p.Breakdown, p.Name)
		require.Positive(t, p.ProcessCPUCores, p.Name)
		require.Positive(t, p.HeapAllocMiB, p.Name)
	}
	// Dequeue and retry, plus asynq's own background work spread over few
	// polls; genwatch adds one script call (Store.Record).
	require.GreaterOrEqual(t, report.Bare.RoundTripsPerPoll, 2.0)
	require.Less(t, report.Bare.RoundTripsPerPoll, 3.0)
	require.InDelta(t, report.Bare.RoundTripsPerPoll+1, report.Genwatch.RoundTripsPerPoll, 0.5)
	require.Zero(t, report.Bare.SimRequests)
	// The simulator counts a request when it arrives, the worker when the
	// answer is back: they differ by the requests in flight at most.
	require.InDelta(t, report.Genwatch.Polls, report.Genwatch.SimRequests, concurrency)
	require.Len(t, report.Targets, 3)

	require.Zero(t, srv.Client.DBSize(context.Background()).Val(), "the bench flushes its database at the end")
}

func TestRedisCounterCountsRoundTrips(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	opt, err := redis.ParseURL(srv.URL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	counter := &redisCounter{}
	rdb.AddHook(counter)
	script := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	// A new connection's handshake passes through the hook too, and
	// pipelines have a pool of their own: open one connection of each
	// kind before counting.
	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error { return p.Ping(ctx).Err() })
	require.NoError(t, err)

	steps := []struct {
		desc        string
		do          func() error
		wantTrips   int64
		wantScripts int64
	}{
		{desc: "one command", do: func() error { return rdb.Set(ctx, "k", "v", 0).Err() }, wantTrips: 1},
		{desc: "another command", do: func() error { return rdb.Get(ctx, "k").Err() }, wantTrips: 1},
		{desc: "a pipeline of three", do: func() error {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, "n")
				p.Incr(ctx, "n")
				p.Get(ctx, "n")
				return nil
			})
			return err
		}, wantTrips: 1},
		{desc: "a transaction of two", do: func() error {
			_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, "n")
				p.Get(ctx, "n")
				return nil
			})
			return err
		}, wantTrips: 1},
		{desc: "a script not yet loaded: EVALSHA, NOSCRIPT, then EVAL", do: func() error { return script.Run(ctx, rdb, []string{"s"}).Err() }, wantTrips: 2, wantScripts: 2},
		{desc: "the script again: EVALSHA", do: func() error { return script.Run(ctx, rdb, []string{"s"}).Err() }, wantTrips: 1, wantScripts: 1},
	}
	for _, step := range steps {
		trips, scripts := counter.Trips(), counter.scripts.Load()
		require.NoError(t, step.do(), step.desc)
		require.Equal(t, step.wantTrips, counter.Trips()-trips, step.desc)
		require.Equal(t, step.wantScripts, counter.scripts.Load()-scripts, step.desc)
	}
}

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=120,usec=2400,usec_per_call=20.00,rejected_calls=0,failed_calls=1\r\n" +
		"cmdstat_hset:calls=360,usec=720,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setname:calls=4,usec=2,usec_per_call=0.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=7,usec=300,usec_per_call=42.86,rejected_calls=0,failed_calls=0\r\n" +
		"# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\n"

	want := map[string]commandStat{
		"evalsha":        {calls: 120, usec: 2400},
		"hset":           {calls: 360, usec: 720},
		"client|setname": {calls: 4, usec: 2},
		"info":           {calls: 7, usec: 300},
	}
	if diff := cmp.Diff(want, parseCommandStats(info), cmp.AllowUnexported(commandStat{})); diff != "" {
		t.Errorf("parseCommandStats (-want +got):\n%s", diff)
	}
	cpu, ok := redisCPU(info)
	require.True(t, ok)
	require.Equal(t, 3750*time.Millisecond, cpu)
}

func TestResultPerPoll(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	before := snapshot{
		at: at, polls: 100, trips: 300, scripts: 300, dials: 5,
		server: serverReading{connections: 10, commands: map[string]commandStat{
			"evalsha": {calls: 300, usec: 6000}, "get": {calls: 100, usec: 100},
		}},
	}
	after := snapshot{
		at: at.Add(2 * time.Second), polls: 1100, trips: 3300, scripts: 3300, dials: 6,
		server: serverReading{connections: 12, commands: map[string]commandStat{
			"evalsha": {calls: 3310, usec: 66000}, "get": {calls: 1100, usec: 1100}, "zadd": {calls: 2000, usec: 2000},
		}},
	}

	got := result("genwatch", before, after)

	require.Equal(t, int64(1000), got.Polls)
	require.InDelta(t, 500, got.PollsPerSec, 1e-9)
	require.InDelta(t, 3.0, got.RoundTripsPerPoll, 1e-9)
	require.InDelta(t, 6.01, got.CommandsPerPoll, 1e-9)
	want := []CommandCount{
		{Name: "evalsha", Calls: 3010, PerPoll: 3.01, Micros: 60000, MicrosPerPoll: 60},
		{Name: "zadd", Calls: 2000, PerPoll: 2, Micros: 2000, MicrosPerPoll: 2},
		{Name: "get", Calls: 1000, PerPoll: 1, Micros: 1000, MicrosPerPoll: 1},
	}
	if diff := cmp.Diff(want, got.Breakdown); diff != "" {
		t.Errorf("Breakdown (-want +got):\n%s", diff)
	}
	require.NotNil(t, got.Interference.OtherScripts)
	require.Equal(t, int64(10), *got.Interference.OtherScripts, "scripts the server ran beyond the bench's own")
	require.Equal(t, int64(1), got.Interference.OtherConnections, "connections beyond the bench's own dials")
}

func TestFlags(t *testing.T) {
	tests := []struct {
		desc     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{desc: "database 0 is refused", args: []string{"--redis-url", "redis://127.0.0.1:1/0"}, wantCode: exitUsage, wantErr: "refusing database 0"},
		{desc: "a URL without a database is database 0", args: []string{"--redis-url", "redis://127.0.0.1:1"}, wantCode: exitUsage, wantErr: "refusing database 0"},
		{desc: "the environment gives the default", env: map[string]string{envRedisURL: "redis://127.0.0.1:1/0"}, wantCode: exitUsage, wantErr: "refusing database 0"},
		{desc: "every bad number is named", args: []string{"--generations", "0", "--concurrency", "0", "--duration", "0s"}, wantCode: exitUsage, wantErr: "--generations: must be at least 1"},
		{desc: "stray arguments", args: []string{"now"}, wantCode: exitUsage, wantErr: "unexpected arguments"},
		{desc: "an unreachable server is an error", args: []string{"--redis-url", "redis://127.0.0.1:1/14"}, wantCode: exitError, wantErr: "redis:"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(name string) (string, bool) {
				v, ok := tt.env[name]
				return v, ok
			}
			code := run(context.Background(), tt.args, &stdout, &stderr, getenv)
			require.Equal(t, tt.wantCode, code, stderr.String())
			require.Contains(t, stderr.String(), tt.wantErr)
			require.Empty(t, stdout.String())
		})
	}
}

func TestProfilePath(t *testing.T) {
	require.Equal(t, "out/cpu.genwatch.prof", profilePath("out/cpu.prof", "genwatch"))
	require.Equal(t, "cpu.bare", profilePath("cpu", "bare"))
	require.True(t, strings.HasSuffix(profilePath("/tmp/x.pprof", "bare"), "x.bare.pprof"))
}

func TestInterferenceWarnings(t *testing.T) {
	scripts := func(n int64) *int64 { return &n }
	cores := func(v float64) *float64 { return &v }
	tests := []struct {
		desc string
		in   Interference
		want []string
	}{
		{desc: "quiet", in: Interference{OtherScripts: scripts(0), OtherCPUCores: cores(0.05)}},
		{desc: "a few scripts among many polls", in: Interference{OtherScripts: scripts(10)}},
		{desc: "enough scripts to move a figure", in: Interference{OtherScripts: scripts(11)},
			want: []string{"other clients ran 11 scripts in the window: the command figures include their commands"}},
		{desc: "connections, clients and CPU", in: Interference{OtherConnections: 20, OtherClients: 2, OtherCPUCores: cores(0.5)},
			want: []string{
				"other clients opened 20 connections to Redis in the window",
				"2 clients of other programs were connected to Redis at the end of the window",
				"other processes used 0.50 CPU cores in the window",
			}},
		{desc: "a server that cannot list its clients", in: Interference{OtherClients: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.warnings(10_000)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
