//go:build chaos

package chaos_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/simulator"
)

const (
	queue  = "chaos"
	stream = "chaos:events"
	apiKey = "chaos-key"
)

// kind is what a generation's plan makes of it, and so the event it must
// end with.
type kind string

const (
	kindCompletes kind = "completes"
	kindFails     kind = "fails"
	kindLate      kind = "late"       // unknown for a moment, then completes
	kindNeverEnds kind = "never_ends" // runs past its max_wait_seconds
	kindUnknown   kind = "unknown"    // never known to the provider
	kindVanishes  kind = "vanishes"   // runs, then answers 404 for good
)

// mix is how many generations of each kind are drawn, per 100.
var mix = []struct {
	kind   kind
	weight int
}{
	{kindCompletes, 55}, {kindFails, 15}, {kindLate, 5}, {kindNeverEnds, 10}, {kindUnknown, 7}, {kindVanishes, 8},
}

// ending is the event a kind must end with: its status, and the error
// codes allowed ("" for none).
type ending struct {
	status genwatch.Status
	codes  []string
}

var endings = map[kind]ending{
	kindCompletes: {genwatch.StatusCompleted, []string{""}},
	kindLate:      {genwatch.StatusCompleted, []string{""}},
	kindFails:     {genwatch.StatusFailed, []string{genwatch.CodeGenerationFailed}},
	// Timed out, with a code that says what the last poll, at the
	// deadline, met: the generation running, or an injected fault (or the
	// account's circuit breaker, open after a run of them).
	kindNeverEnds: {genwatch.StatusTimedOut, []string{genwatch.CodeTimedOut, genwatch.CodeProviderUnavailable}},
	kindUnknown:   {genwatch.StatusFailed, []string{genwatch.CodeNotFound}},
	kindVanishes:  {genwatch.StatusFailed, []string{genwatch.CodeNotFound}},
}

// faults are the simulator's faults, by provider: a mix of every kind that
// leaves the ending of each generation known in advance. ForceStatus and
// the provider-wide VanishAfter are left out; IDs vanish one by one, as
// their plans say (Plan.VanishAfter).
var faults = map[string]simulator.Faults{
	simulator.Hoox: {
		HangRate:      0.005,
		StatusRates:   map[int]float64{500: 0.02, 502: 0.02, 503: 0.02, 504: 0.01},
		MalformedRate: 0.02,
		TruncateRate:  0.02,
		SlowBodyRate:  0.03,
		SlowBody:      1500 * time.Millisecond, // within the request timeout
	},
	simulator.Hooked: {
		HangRate:       0.01,
		RateLimitBurst: 6 * time.Second,
		RateLimitEvery: 45 * time.Second,
		StatusRates:    map[int]float64{500: 0.02, 503: 0.02},
		RateLimitRate:  0.01,
		RetryAfter:     2 * time.Second,
		MalformedRate:  0.02,
		SlowBodyRate:   0.02,
		SlowBody:       time.Second,
	},
	simulator.Token360: {
		HangRate:      0.005,
		StatusRates:   map[int]float64{502: 0.02, 503: 0.03, 504: 0.02},
		MalformedRate: 0.01,
		TruncateRate:  0.03,
		SlowBodyRate:  0.03,
		SlowBody:      5 * time.Second, // past the request timeout
	},
}

// workerConfig is the YAML given to every worker with --config: fast polls,
// a short not-found grace, and a request timeout that hung requests reach.
const workerConfig = `
request_timeout: 3s
shutdown_timeout: 5s
poll:
  initial: 1s
  max: 2s
  not_found_grace: 5s
`

// notFoundGrace is poll.not_found_grace in workerConfig.
const notFoundGrace = 5 * time.Second

// settings are the test's knobs, read from the environment.
type settings struct {
	generations int
	workers     int
	rate        float64 // generations enqueued per second
	killEvery   time.Duration
	seed        uint64
	redisStop   syscall.Signal
	settle      time.Duration
	report      string
	keep        bool
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	s := settings{generations: 3000, workers: 4, rate: 25, killEvery: 4 * time.Second, seed: 1,
		redisStop: syscall.SIGTERM, settle: 6 * time.Minute}
	var errs []error
	env := func(name string, parse func(string) error) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			if err := parse(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	}
	positiveInt := func(dst *int) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err == nil && n <= 0 {
				err = errors.New("want a positive number")
			}
			*dst = n
			return err
		}
	}
	positiveDuration := func(dst *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err == nil && d <= 0 {
				err = errors.New("want a positive duration")
			}
			*dst = d
			return err
		}
	}
	env("CHAOS_GENERATIONS", positiveInt(&s.generations))
	env("CHAOS_WORKERS", positiveInt(&s.workers))
	env("CHAOS_RATE", func(v string) error {
		r, err := strconv.ParseFloat(v, 64)
		if err == nil && !(r > 0) {
			err = errors.New("want a positive number")
		}
		s.rate = r
		return err
	})
	env("CHAOS_KILL_EVERY", positiveDuration(&s.killEvery))
	env("CHAOS_SETTLE", positiveDuration(&s.settle))
	env("CHAOS_SEED", func(v string) (err error) {
		s.seed, err = strconv.ParseUint(v, 10, 64)
		return err
	})
	env("CHAOS_REDIS_STOP", func(v string) error {
		switch v {
		case "term":
			s.redisStop = syscall.SIGTERM
		case "kill":
			s.redisStop = syscall.SIGKILL
		default:
			return errors.New("want term or kill")
		}
		return nil
	})
	s.report = os.Getenv("CHAOS_REPORT")
	s.keep = os.Getenv("CHAOS_KEEP") != ""
	require.NoError(t, errors.Join(errs...))
	return s
}

// generation is one tracked generation and the plan it follows.
type generation struct {
	provider string
	id       string
	kind     kind
	plan     simulator.Plan
	maxWait  int64 // max_wait_seconds; 0 for the default
	created  time.Time
}

func (g generation) taskID() string { return g.provider + ":" + g.id }

// earliestEnd is the earliest an event may be detected: when the plan
// ends, or the not-found grace after the generation vanishes, or the
// deadline.
func (g generation) earliestEnd() time.Time {
	p := g.plan
	switch g.kind {
	case kindNeverEnds:
		return g.created.Add(time.Duration(g.maxWait) * time.Second)
	case kindUnknown:
		return g.created.Add(notFoundGrace)
	case kindVanishes:
		return g.created.Add(p.VanishAfter + notFoundGrace)
	default:
		return g.created.Add(p.HiddenFor + p.PendingFor + p.RunFor)
	}
}

// drawGenerations draws n generations: provider, kind and plan.
func drawGenerations(rng *rand.Rand, n int) []generation {
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	providers := genwatch.Providers()
	gens := make([]generation, n)
	for i := range gens {
		g := generation{provider: providers[rng.IntN(len(providers))]}
		w := rng.IntN(total)
		for _, m := range mix {
			if w < m.weight {
				g.kind = m.kind
				break
			}
			w -= m.weight
		}
		switch g.kind {
		case kindCompletes, kindFails:
			g.plan = simulator.Plan{PendingFor: between(500*time.Millisecond, 4*time.Second), RunFor: between(time.Second, 15*time.Second)}
			if g.kind == kindFails {
				g.plan.Outcome = simulator.Fail
			}
		case kindLate:
			g.plan = simulator.Plan{HiddenFor: between(time.Second, 3*time.Second), PendingFor: between(500*time.Millisecond, 2*time.Second), RunFor: between(time.Second, 8*time.Second)}
		case kindNeverEnds:
			g.plan = simulator.Plan{PendingFor: between(500*time.Millisecond, 2*time.Second), RunFor: between(5*time.Second, 20*time.Second), Outcome: simulator.Never}
			g.maxWait = 15 + rng.Int64N(26)
		case kindUnknown:
			g.plan = simulator.Plan{HiddenFor: simulator.Forever}
		case kindVanishes:
			g.plan = simulator.Plan{PendingFor: between(500*time.Millisecond, 2*time.Second), RunFor: time.Minute, Outcome: simulator.Never,
				VanishAfter: between(4*time.Second, 20*time.Second)}
		}
		g.id = fmt.Sprintf("%05d-%s", i, g.kind)
		gens[i] = g
	}
	return gens
}

func TestChaos(t *testing.T) {
	s := loadSettings(t)
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not in PATH (%v): the chaos test starts a Redis server of its own; install one (apt-get install redis-server)", err)
	}
	dir := workDir(t, s.keep)
	workerBin := buildWorker(t, dir)
	configPath := filepath.Join(dir, "genwatch.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(workerConfig), 0o600))

	srv := &redisServer{bin: redisBin, dir: filepath.Join(dir, "redis"), port: freePort(t)}
	require.NoError(t, os.Mkdir(srv.dir, 0o700))
	require.NoError(t, srv.start())
	t.Cleanup(func() { _ = srv.stop(syscall.SIGTERM) })
	redisURL := fmt.Sprintf("redis://127.0.0.1:%d/0", srv.port)
	// The test's own client fails to dial while Redis restarts, as
	// planned; its log would say so once a second.
	redis.SetLogger(quietRedisLog{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	inspector := asynq.NewInspectorFromRedisClient(rdb)

	sim := simulator.New(simulator.Config{Seed: int64(s.seed), Keys: map[string]string{
		simulator.Hoox: apiKey, simulator.Hooked: apiKey, simulator.Token360: apiKey,
	}})
	for provider, f := range faults {
		sim.SetFaults(provider, f)
	}
	byProvider := &requestCounter{}
	hs := httptest.NewServer(byProvider.wrap(sim))
	t.Cleanup(hs.Close)
	t.Cleanup(sim.Close) // first: release held requests so that hs can close

	fl := &fleet{
		bin:  workerBin,
		args: []string{"--config", configPath},
		env: workerEnv(map[string]string{
			"GENWATCH_REDIS_URL":         redisURL,
			"GENWATCH_QUEUE":             queue,
			"GENWATCH_EVENTS_STREAM":     stream,
			"GENWATCH_HTTP_ADDR":         "off",
			"GENWATCH_CONCURRENCY":       "50",
			"GENWATCH_HOOX_BASE_URL":     hs.URL,
			"GENWATCH_HOOKED_BASE_URL":   hs.URL,
			"GENWATCH_TOKEN360_BASE_URL": hs.URL,
			"GENWATCH_HOOX_API_KEY":      apiKey,
			"GENWATCH_HOOKED_API_KEY":    apiKey,
			"GENWATCH_TOKEN360_API_KEY":  apiKey,
		}),
		logDir: filepath.Join(dir, "workers"),
		log:    t.Logf,
		exits:  make(chan *workerProc, 16),
		live:   map[int]*workerProc{},
	}
	require.NoError(t, os.Mkdir(fl.logDir, 0o700))
	for range s.workers {
		require.NoError(t, fl.start())
	}
	t.Cleanup(fl.stop)

	gens := drawGenerations(rand.New(rand.NewPCG(s.seed, 1)), s.generations)
	chaosRand := rand.New(rand.NewPCG(s.seed, 2))
	enqueueFor := time.Duration(float64(len(gens)) / s.rate * float64(time.Second))
	chaosFor := enqueueFor + 30*time.Second
	restartAfter := time.Duration(float64(enqueueFor) * (0.3 + 0.4*chaosRand.Float64()))
	t.Logf("%d generations over %s, %d workers, a kill every %s or so, Redis restart at %s, seed %d; directory %s",
		len(gens), enqueueFor.Round(time.Second), s.workers, s.killEvery, restartAfter.Round(time.Second), s.seed, dir)

	begin := time.Now()
	chaosEnd := begin.Add(chaosFor)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	managed := make(chan struct{})
	go func() {
		defer close(managed)
		fl.manage(ctx, chaosRand, s.killEvery, chaosEnd)
	}()
	restarted := make(chan redisRestart, 1)
	go func() {
		if !waitUntil(ctx, begin.Add(restartAfter)) {
			restarted <- redisRestart{err: ctx.Err()}
			return
		}
		restarted <- restartRedis(ctx, srv, rdb, s.redisStop, t.Logf)
	}()

	aq := asynq.NewClientFromRedisClient(rdb)
	client := genwatch.NewClient(aq, genwatch.ClientConfig{Queue: queue})
	enqueueErr := enqueue(ctx, client, sim, gens, begin, s.rate)
	enqueued := time.Since(begin)
	rr := <-restarted
	if enqueueErr != nil || rr.err != nil {
		cancel()
		<-managed
		require.NoError(t, enqueueErr, "enqueue")
		require.NoError(t, rr.err, "Redis restart")
	}
	waitUntil(ctx, chaosEnd)
	t.Logf("chaos over after %s: %d kills; waiting up to %s for the last events", time.Since(begin).Round(time.Second), fl.counts().kills, s.settle)

	if ended, ok := settle(ctx, t.Logf, rdb, inspector, len(gens), s.settle); !ok {
		t.Errorf("gave up waiting after %s: %d of %d generations have an event", s.settle, ended, len(gens))
	}
	elapsed := time.Since(begin)
	cancel()
	<-managed
	fl.stop()

	// Check, from the stream and the queue as they are now.
	tl := &tally{byTask: map[string][]genwatch.Event{}}
	require.NoError(t, tl.read(context.Background(), rdb), "read the stream")
	rep, problems := check(gens, tl, inspector, fl.logDir)
	for i, p := range problems {
		if i == 20 {
			t.Logf("... and %d more problems", len(problems)-i)
			break
		}
		t.Log(p)
	}
	if len(problems) > 0 {
		name := filepath.Join(dir, "problems.txt")
		require.NoError(t, os.WriteFile(name, []byte(strings.Join(problems, "\n")), 0o644))
		t.Logf("every problem, with the worker log lines of its generation, is in %s", name)
	}
	c := fl.counts()
	rep.Workers, rep.Kills, rep.UnexpectedExits = s.workers, c.kills, c.unexpected
	rep.RedisRestarts, rep.StreamBeforeRestart, rep.StreamAfterRestart = 1, rr.before, rr.after
	rep.RedisStop = signalName(s.redisStop)
	rep.RedisDown = rr.down.Round(time.Millisecond).String()
	rep.Seed = s.seed
	rep.Requests = sim.TotalRequests()
	rep.RequestsByProvider = byProvider.totals()
	rep.WorkerLog = scanLogs(fl.logDir)
	rep.Commit = commit()
	rep.setFaults(sim.InjectedFaults())
	rep.EnqueueSeconds = enqueued.Seconds()
	rep.ElapsedSeconds = elapsed.Seconds()
	if rr.after < rr.before {
		t.Errorf("the Redis restart lost stream entries: %d before, %d after", rr.before, rr.after)
	}
	rep.Passed = !t.Failed() && rep.Lost == 0 && rep.Duplicated == 0 && rep.WrongStatus == 0 && rep.Waiting == 0 && rep.Unexpected == 0 && rep.BadEvents == 0
	t.Log("\n" + rep.table())
	if s.report != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(s.report, append(b, '\n'), 0o644))
	}
	if !rep.Passed {
		t.Errorf("lost %d, duplicated %d, wrong status %d, left waiting %d, unexpected events %d, events with a wrong id or type %d; logs in %s",
			rep.Lost, rep.Duplicated, rep.WrongStatus, rep.Waiting, rep.Unexpected, rep.BadEvents, dir)
	}
}

// settle waits, with the workers running and no more kills, until n
// generations have an event and no task is left to run, or for at most d.
// It returns how many generations have an event, and whether it saw the
// end.
func settle(ctx context.Context, logf func(string, ...any), rdb *redis.Client, inspector *asynq.Inspector, n int, d time.Duration) (int, bool) {
	deadline := time.Now().Add(d)
	tl := &tally{byTask: map[string][]genwatch.Event{}}
	lastLog := time.Now()
	for {
		readErr := tl.read(ctx, rdb)
		qi, qerr := inspector.GetQueueInfo(queue)
		if readErr == nil && qerr == nil && len(tl.byTask) >= n && waiting(qi) == 0 {
			return len(tl.byTask), true
		}
		if time.Now().After(deadline) || !waitUntil(ctx, time.Now().Add(time.Second)) {
			return len(tl.byTask), false
		}
		if time.Since(lastLog) >= 15*time.Second && qerr == nil {
			lastLog = time.Now()
			logf("%d/%d generations ended; tasks pending %d, active %d, scheduled %d, retry %d",
				len(tl.byTask), n, qi.Pending, qi.Active, qi.Scheduled, qi.Retry)
		}
	}
}

// workDir returns a directory for the run's Redis data and worker logs,
// removed at the end unless the test failed or keep is set.
func workDir(t *testing.T, keep bool) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "genwatch-chaos-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() || keep {
			t.Logf("kept %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// buildWorker builds cmd/worker into dir.
func buildWorker(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "worker")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/genwatch/genwatch/cmd/worker").CombinedOutput()
	require.NoError(t, err, "go build cmd/worker: %s", out)
	return bin
}

// freePort returns a loopback TCP port that was free a moment ago, never
// Redis's usual 6379.
func freePort(t *testing.T) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := ln.Addr().(*net.TCPAddr).Port
		require.NoError(t, ln.Close())
		if port != 6379 {
			return port
		}
	}
}

// workerEnv is this process's environment without GENWATCH_ variables,
// plus vars.
func workerEnv(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GENWATCH_") {
			env = append(env, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// waitUntil waits until t or until ctx is done, and reports whether t came.
func waitUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// enqueue creates each generation in the simulator and tracks it, at rate
// per second from begin. A Track that fails (Redis is restarting) is
// retried for up to a minute.
func enqueue(ctx context.Context, client *genwatch.Client, sim *simulator.Simulator, gens []generation, begin time.Time, rate float64) error {
	for i := range gens {
		g := &gens[i]
		if !waitUntil(ctx, begin.Add(time.Duration(float64(i)/rate*float64(time.Second)))) {
			return ctx.Err()
		}
		g.created = time.Now()
		sim.Create(g.provider, g.id, g.plan)
		req := genwatch.Request{Provider: g.provider, GenerationID: g.id, MaxWaitSeconds: g.maxWait}
		for first := time.Now(); ; {
			_, err := client.Track(ctx, req)
			if err == nil {
				break
			}
			if time.Since(first) > time.Minute {
				return fmt.Errorf("track %s: %w", g.taskID(), err)
			}
			if !waitUntil(ctx, time.Now().Add(200*time.Millisecond)) {
				return ctx.Err()
			}
		}
	}
	return nil
}

// signalName names SIGTERM and SIGKILL as kill(1) does.
func signalName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGTERM"
}

// quietRedisLog drops go-redis's log lines.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

// waiting counts the tasks of a queue that have yet to run.
func waiting(qi *asynq.QueueInfo) int {
	return qi.Pending + qi.Active + qi.Scheduled + qi.Retry + qi.Aggregating
}

// redisServer is a redis-server process of the test's own, with its data
// in an append-only file that survives a restart.
type redisServer struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	exited   chan struct{}
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// start starts the server and waits until it answers PING.
func (r *redisServer) start() error {
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"),
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("redis-server exited at start; see %s", filepath.Join(r.dir, "redis.log"))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server does not answer PING: %w", err)
		}
	}
}

// stop sends sig and waits for the server to exit.
func (r *redisServer) stop(sig syscall.Signal) error {
	if r.cmd == nil {
		return nil
	}
	select {
	case <-r.exited:
		return nil
	default:
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal redis-server: %w", err)
	}
	select {
	case <-r.exited:
		return nil
	case <-time.After(time.Minute):
		_ = r.cmd.Process.Kill()
		<-r.exited
		return errors.New("redis-server did not stop within a minute")
	}
}

// redisRestart is what the Redis restart saw.
type redisRestart struct {
	before, after int64 // stream length just before the stop and just after the start
	down          time.Duration
	err           error
}

// restartRedis stops the server with sig, keeps it down for a few
// seconds, and starts it again on the same port and data.
func restartRedis(ctx context.Context, srv *redisServer, rdb *redis.Client, sig syscall.Signal, logf func(string, ...any)) redisRestart {
	var rr redisRestart
	rr.before, rr.err = rdb.XLen(ctx, stream).Result()
	if rr.err != nil {
		return rr
	}
	stopped := time.Now()
	if rr.err = srv.stop(sig); rr.err != nil {
		return rr
	}
	logf("Redis stopped (%s) with %d events in the stream", signalName(sig), rr.before)
	waitUntil(ctx, stopped.Add(3*time.Second))
	if rr.err = srv.start(); rr.err != nil {
		return rr
	}
	rr.down = time.Since(stopped)
	rr.after, rr.err = rdb.XLen(ctx, stream).Result()
	logf("Redis back after %s with %d events in the stream", rr.down.Round(time.Millisecond), rr.after)
	return rr
}

// workerProc is one worker process.
type workerProc struct {
	n      int
	cmd    *exec.Cmd
	log    string
	killed bool // by the chaos loop; guarded by fleet.mu
	err    error
	done   chan struct{}
}

// fleet runs the worker processes, kills them and replaces them.
type fleet struct {
	bin       string
	args, env []string
	logDir    string
	log       func(string, ...any)
	exits     chan *workerProc

	mu         sync.Mutex
	started    int
	live       map[int]*workerProc
	stopping   bool
	kills      int
	unexpected int
}

type fleetCounts struct{ kills, unexpected int }

func (f *fleet) counts() fleetCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fleetCounts{f.kills, f.unexpected}
}

// start starts one more worker, its stdout and stderr to a file of its own.
func (f *fleet) start() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	w := &workerProc{n: f.started, log: filepath.Join(f.logDir, fmt.Sprintf("worker-%03d.log", f.started)), done: make(chan struct{})}
	out, err := os.Create(w.log)
	if err != nil {
		return err
	}
	w.cmd = exec.Command(f.bin, f.args...)
	w.cmd.Env = f.env
	w.cmd.Stdout, w.cmd.Stderr = out, out
	// Die with the test, should it die first.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start worker: %w", err)
	}
	f.live[w.n] = w
	go func() {
		w.err = w.cmd.Wait()
		out.Close()
		close(w.done)
		f.exits <- w
	}()
	return nil
}

// manage kills a random worker every killEvery or so (uniformly between
// half and one and a half of it) until chaosEnd, and replaces every worker
// that exits, until ctx is done.
func (f *fleet) manage(ctx context.Context, rng *rand.Rand, killEvery time.Duration, chaosEnd time.Time) {
	next := func() <-chan time.Time {
		d := killEvery/2 + time.Duration(rng.Int64N(int64(killEvery)))
		if time.Now().Add(d).After(chaosEnd) {
			return nil
		}
		return time.After(d)
	}
	kill := next()
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-f.exits:
			f.mu.Lock()
			delete(f.live, w.n)
			stopping, killed := f.stopping, w.killed
			if !killed && !stopping {
				f.unexpected++
			}
			f.mu.Unlock()
			if stopping {
				continue
			}
			if !killed {
				f.log("worker %d exited by itself (%v); see %s", w.n, w.err, w.log)
			}
			if err := f.start(); err != nil {
				f.log("cannot replace worker %d: %v", w.n, err)
			}
		case <-kill:
			f.killOne(rng)
			kill = next()
		}
	}
}

// killOne SIGKILLs a random live worker.
func (f *fleet) killOne(rng *rand.Rand) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := slices.Sorted(maps.Keys(f.live))
	if len(ids) == 0 {
		return
	}
	w := f.live[ids[rng.IntN(len(ids))]]
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err == nil {
		w.killed = true
		f.kills++
	}
}

// stop ends every worker with SIGTERM, and SIGKILL after 30 s.
func (f *fleet) stop() {
	f.mu.Lock()
	f.stopping = true
	live := slices.Collect(maps.Values(f.live))
	f.mu.Unlock()
	for _, w := range live {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, w := range live {
		select {
		case <-w.done:
		case <-time.After(30 * time.Second):
			f.log("worker %d ignored SIGTERM; killing it", w.n)
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	}
	// Drain the exits of the stopped workers so that no sender blocks.
	for {
		select {
		case <-f.exits:
		default:
			return
		}
	}
}

// tally is the stream's events by task ID, read incrementally.
type tally struct {
	last    string
	entries int
	byTask  map[string][]genwatch.Event
	bad     []string // entries that do not decode
}

// read adds the entries appended since the last read.
func (tl *tally) read(ctx context.Context, rdb *redis.Client) error {
	for {
		start := "-"
		if tl.last != "" {
			start = "(" + tl.last
		}
		msgs, err := rdb.XRangeN(ctx, stream, start, "+", 1000).Result()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			tl.last = m.ID
			tl.entries++
			raw, _ := m.Values[genwatch.StreamField].(string)
			e, err := genwatch.DecodeEvent([]byte(raw))
			if err != nil {
				tl.bad = append(tl.bad, fmt.Sprintf("%s: %v", m.ID, err))
				continue
			}
			id := e.Provider + ":" + e.GenerationID
			tl.byTask[id] = append(tl.byTask[id], e)
		}
		if len(msgs) < 1000 {
			return nil
		}
	}
}

// report is the run's figures.
type report struct {
	Commit      string       `json:"commit"`
	Generations int          `json:"generations"`
	ByKind      map[kind]int `json:"by_kind"`
	Workers     int          `json:"workers"`
	Seed        uint64       `json:"seed"`
	Kills       int          `json:"kills"`
	// Reruns counts the runs of tracking tasks that asynq retried after a
	// poll that failed (Redis unreachable) or lost its lease (its worker
	// killed), and RerunTasks the tasks that had any; a "poll again" is
	// not a failure and not counted.
	Reruns              int              `json:"reruns"`
	RerunTasks          int              `json:"rerun_tasks"`
	UnexpectedExits     int              `json:"unexpected_worker_exits"`
	RedisRestarts       int              `json:"redis_restarts"`
	RedisStop           string           `json:"redis_stop_signal"`
	RedisDown           string           `json:"redis_down_for"`
	StreamBeforeRestart int64            `json:"stream_before_restart"`
	StreamAfterRestart  int64            `json:"stream_after_restart"`
	Requests            int64            `json:"provider_requests"`
	RequestsByProvider  map[string]int64 `json:"provider_requests_by_provider"`
	// Lag is how long after the earliest moment its plan allowed each
	// event was detected, in seconds: median, 95th percentile, maximum.
	LagP50      float64          `json:"lag_p50_seconds"`
	LagP95      float64          `json:"lag_p95_seconds"`
	LagMax      float64          `json:"lag_max_seconds"`
	Faults      map[string]int64 `json:"faults"`
	FaultsTotal int64            `json:"faults_total"`
	// WorkerLog counts telling lines of the worker logs (see scanLogs).
	WorkerLog      map[string]int `json:"worker_log"`
	Events         int            `json:"events"`
	Statuses       map[string]int `json:"statuses"`
	Lost           int            `json:"lost"`
	Duplicated     int            `json:"duplicated"`
	WrongStatus    int            `json:"wrong_status"`
	Waiting        int            `json:"left_waiting"`
	Unexpected     int            `json:"unexpected_events"`
	BadEvents      int            `json:"bad_events"`
	EnqueueSeconds float64        `json:"enqueue_seconds"`
	ElapsedSeconds float64        `json:"elapsed_seconds"`
	Passed         bool           `json:"passed"`
}

func (r *report) setFaults(c simulator.FaultCounts) {
	r.Faults = map[string]int64{
		"rate_limited_429":     c.RateLimited,
		"rate_limit_burst_429": c.BurstRateLimited,
		"hung":                 c.Hung,
		"malformed_body":       c.Malformed,
		"truncated_body":       c.Truncated,
		"slow_body":            c.SlowBodies,
		"vanished_404":         c.Vanished,
		"delayed":              c.Delayed,
	}
	for code, n := range c.Statuses {
		r.Faults["status_"+strconv.Itoa(code)] = n
	}
	r.FaultsTotal = c.Total()
}

// table renders the report for the test log.
func (r *report) table() string {
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(w, "%s\t%v\n", k, v) }
	row("commit", r.Commit)
	row("generations", r.Generations)
	for _, m := range mix {
		e := endings[m.kind]
		row("  "+string(m.kind), fmt.Sprintf("%d (want %s %s)", r.ByKind[m.kind], e.status, strings.Join(e.codes, "|")))
	}
	row("worker processes", r.Workers)
	row("SIGKILLs", r.Kills)
	row("polls rerun after a kill or a Redis error", fmt.Sprintf("%d, in %d generations", r.Reruns, r.RerunTasks))
	row("unexpected worker exits", r.UnexpectedExits)
	row("Redis restarts", fmt.Sprintf("%d (%s, down %s; stream %d entries before, %d after)", r.RedisRestarts, r.RedisStop, r.RedisDown, r.StreamBeforeRestart, r.StreamAfterRestart))
	row("provider requests", r.Requests)
	for _, k := range slices.Sorted(maps.Keys(r.RequestsByProvider)) {
		row("  "+k, r.RequestsByProvider[k])
	}
	row("faults injected", r.FaultsTotal)
	for _, k := range slices.Sorted(maps.Keys(r.Faults)) {
		if r.Faults[k] > 0 {
			row("  "+k, r.Faults[k])
		}
	}
	row("worker log", "")
	for _, k := range slices.Sorted(maps.Keys(r.WorkerLog)) {
		row("  "+k, r.WorkerLog[k])
	}
	row("events", r.Events)
	for _, k := range slices.Sorted(maps.Keys(r.Statuses)) {
		row("  "+k, r.Statuses[k])
	}
	row("lost", r.Lost)
	row("duplicated", r.Duplicated)
	row("wrong status", r.WrongStatus)
	row("left waiting", r.Waiting)
	row("unexpected events", r.Unexpected)
	row("events with a wrong id or type", r.BadEvents)
	row("event after the earliest end", fmt.Sprintf("median %.1fs, p95 %.1fs, max %.1fs", r.LagP50, r.LagP95, r.LagMax))
	row("enqueue", (time.Duration(r.EnqueueSeconds * float64(time.Second))).Round(time.Second))
	row("elapsed", (time.Duration(r.ElapsedSeconds * float64(time.Second))).Round(time.Second))
	row("passed", r.Passed)
	w.Flush()
	return b.String()
}

// check compares the events and the queue with the plans, and returns the
// figures and each problem with what is known of its generation.
func check(gens []generation, tl *tally, inspector *asynq.Inspector, logDir string) (*report, []string) {
	rep := &report{Generations: len(gens), ByKind: map[kind]int{}, Statuses: map[string]int{}, Events: tl.entries}
	known := map[string]bool{}
	var problems []string
	var lags []float64
	for _, g := range gens {
		rep.ByKind[g.kind]++
		known[g.taskID()] = true
		events := tl.byTask[g.taskID()]
		var issues []string
		switch len(events) {
		case 0:
			rep.Lost++
			issues = append(issues, "no event")
		case 1:
		default:
			rep.Duplicated++
			issues = append(issues, fmt.Sprintf("%d events", len(events)))
		}
		if len(events) > 0 {
			e := events[0]
			code := ""
			if e.Error != nil {
				code = e.Error.Code
			}
			rep.Statuses[strings.TrimSuffix(string(e.Status)+" "+code, " ")]++
			want := endings[g.kind]
			if e.Status != want.status || !slices.Contains(want.codes, code) {
				rep.WrongStatus++
				issues = append(issues, fmt.Sprintf("ended %s %q, want %s %q", e.Status, code, want.status, want.codes))
			}
			lags = append(lags, e.DetectedAt.Sub(g.earliestEnd()).Seconds())
			if e.ID != genwatch.EventID(g.provider, g.id, e.Status) || e.Type != e.Status.EventType() {
				rep.BadEvents++
				issues = append(issues, fmt.Sprintf("event id %q, type %q", e.ID, e.Type))
			}
		}
		info, err := inspector.GetTaskInfo(queue, g.taskID())
		if err == nil && info.Retried > 0 {
			rep.Reruns += info.Retried
			rep.RerunTasks++
		}
		switch {
		case err != nil:
			rep.Waiting++
			issues = append(issues, fmt.Sprintf("task: %v", err))
		case info.State != asynq.TaskStateCompleted:
			rep.Waiting++
			issues = append(issues, fmt.Sprintf("task %s (retried %d, last error %q)", info.State, info.Retried, info.LastErr))
		}
		if len(issues) > 0 {
			problems = append(problems, describe(g, issues, events, logDir))
		}
	}
	for id, events := range tl.byTask {
		if !known[id] {
			rep.Unexpected += len(events)
			problems = append(problems, fmt.Sprintf("%s: %d events for a generation never tracked", id, len(events)))
		}
	}
	for _, bad := range tl.bad {
		rep.Unexpected++
		problems = append(problems, "undecodable stream entry "+bad)
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		rep.LagP50, rep.LagP95, rep.LagMax = lags[len(lags)/2], lags[len(lags)*95/100], lags[len(lags)-1]
	}
	return rep, problems
}

// requestCounter counts the requests that reach each provider.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int64
}

var providerPaths = map[string]string{
	simulator.Hoox: "/api/public/v1/asset/status/", simulator.Hooked: "/v1/video/", simulator.Token360: "/v1/videos/",
}

func (c *requestCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for provider, prefix := range providerPaths {
			if strings.HasPrefix(r.URL.Path, prefix) {
				c.mu.Lock()
				if c.counts == nil {
					c.counts = map[string]int64{}
				}
				c.counts[provider]++
				c.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (c *requestCounter) totals() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// describe tells what is known of a generation with a problem: its plan,
// its events and the worker log lines that name it.
func describe(g generation, issues []string, events []genwatch.Event, logDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, plan %+v, max_wait_seconds %d): %s\n", g.taskID(), g.kind, g.plan, g.maxWait, strings.Join(issues, "; "))
	for _, e := range events {
		raw, _ := json.Marshal(e)
		fmt.Fprintf(&b, "  event %s\n", raw)
	}
	for _, line := range grepLogs(logDir, g.id) {
		fmt.Fprintf(&b, "  log %s\n", line)
	}
	return b.String()
}

// scanLogs counts, in the worker logs in dir, the lines that show the
// fleet at work: circuit breakers opening, fleet-wide pauses after a 429,
// and reruns of a task that found its generation's event already written.
func scanLogs(dir string) map[string]int {
	counts := map[string]int{"circuit_breaker_opened": 0, "fleet_pauses_after_429": 0, "reruns_after_the_event": 0}
	files, _ := filepath.Glob(filepath.Join(dir, "worker-*.log"))
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, To string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch {
			case line.Msg == "circuit breaker changed state" && line.To == "open":
				counts["circuit_breaker_opened"]++
			case strings.HasPrefix(line.Msg, "provider asked to pause"):
				counts["fleet_pauses_after_429"]++
			case line.Msg == "generation had already ended":
				counts["reruns_after_the_event"]++
			}
		}
		f.Close()
	}
	return counts
}

// commit names the source the workers were built from.
func commit() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// grepLogs returns the lines of the worker logs in dir that contain s.
func grepLogs(dir, s string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "worker-*.log"))
	var out []string
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), s) {
				out = append(out, filepath.Base(name)+": "+sc.Text())
			}
		}
		f.Close()
	}
	return out
}
