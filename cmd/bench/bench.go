package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/internal/tasks"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// Config configures a bench run.
type Config struct {
	// RedisURL names the database the bench uses and flushes.
	RedisURL string
	// Force allows database 0.
	Force bool
	// Generations is how many generations (tasks) cycle at once.
	Generations int
	// Concurrency is the asynq server's concurrency in both phases.
	Concurrency int
	// Warmup runs before the measurement window.
	Warmup time.Duration
	// Duration is the measurement window.
	Duration time.Duration
	// CPUProfile, when set, names the file pattern of a CPU profile of each
	// window (see profilePath).
	CPUProfile string
	// Scale, when set, runs the scaling benchmark on these layouts instead
	// of the two phases.
	Scale []ScaleRun
}

// The asynq settings worker.New uses, repeated for the bare cycle: the
// reference must schedule exactly like the worker.
const (
	delayedTaskCheckInterval = worker.DelayedTaskCheckInterval
	taskCheckInterval        = worker.TaskCheckInterval
	queuePriority            = 6
)

// pollDelay is the delay both phases ask for after each poll: the whole
// second that schedule.MinDelay and asynq's scheduling allow.
const pollDelay = time.Second

// benchMaxWait keeps every generation tracked far beyond any run.
const benchMaxWait = 24 * time.Hour

// enqueuers is how many goroutines enqueue the tasks of a phase.
const enqueuers = 16

// Queues of the two phases.
const (
	bareQueue     = "bench-bare"
	genwatchQueue = genwatch.DefaultQueue
)

// bench is one run: its configuration, the Redis it measures, and where
// progress goes.
type bench struct {
	cfg  Config
	ropt *redis.Options
	// control reads the server's counters and enqueues; controlCounter
	// counts its dials.
	control        *redis.Client
	controlCounter *redisCounter
	stats          *serverStats
	progress       io.Writer
}

// clientName names every connection the bench opens, so that other
// clients of the server can be told apart.
const clientName = "genwatch-bench"

// Run runs both phases and returns the report. progress receives a line at
// each step.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Report, error) {
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	ropt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return Report{}, fmt.Errorf("redis url: %w", err)
	}
	ropt.ClientName = clientName
	control := redis.NewClient(ropt)
	defer control.Close()
	controlCounter := &redisCounter{}
	control.AddHook(controlCounter)
	if err := control.Ping(ctx).Err(); err != nil {
		return Report{}, fmt.Errorf("redis: %w", err)
	}
	stats, err := newServerStats(ctx, control)
	if err != nil {
		return Report{}, err
	}
	b := &bench{cfg: cfg, ropt: ropt, control: control, controlCounter: controlCounter, stats: stats, progress: progress}
	defer func() { _ = b.flush(context.WithoutCancel(ctx)) }()

	report := Report{
		Machine:  machineInfo(ctx, stats),
		Settings: settingsOf(cfg),
	}
	if report.Bare, err = b.runPhase(ctx, b.bare); err != nil {
		return Report{}, err
	}
	if report.Genwatch, err = b.runPhase(ctx, b.genwatch); err != nil {
		return Report{}, err
	}
	report.Targets = checkTargets(report.Bare, report.Genwatch)
	report.Met = allMet(report.Targets)
	return report, nil
}

// runPhase flushes the database and runs one phase.
func (b *bench) runPhase(ctx context.Context, phase func(context.Context) (PhaseResult, error)) (PhaseResult, error) {
	if err := b.flush(ctx); err != nil {
		return PhaseResult{}, err
	}
	return phase(ctx)
}

func (b *bench) flush(ctx context.Context) error {
	if err := b.control.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flushdb: %w", err)
	}
	return nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

// hookedClient returns a new client of the database whose round trips are
// counted. The caller closes it.
func (b *bench) hookedClient() (*redis.Client, *redisCounter) {
	opt := *b.ropt
	rdb := redis.NewClient(&opt)
	counter := &redisCounter{}
	rdb.AddHook(counter)
	return rdb, counter
}

// bare runs phase A: asynq's retry cycle with a handler that only asks to be
// polled again.
func (b *bench) bare(ctx context.Context) (PhaseResult, error) {
	rdb, counter := b.hookedClient()
	defer rdb.Close()

	var polls atomic.Int64
	mux := asynq.NewServeMux()
	mux.HandleFunc(genwatch.TaskTypePoll, func(context.Context, *asynq.Task) error {
		polls.Add(1)
		return &tasks.PollAgain{Delay: pollDelay, Reason: "running"}
	})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              b.cfg.Concurrency,
		Queues:                   map[string]int{bareQueue: queuePriority},
		IsFailure:                tasks.IsFailure,
		RetryDelayFunc:           tasks.RetryDelay(time.Now),
		DelayedTaskCheckInterval: delayedTaskCheckInterval,
		TaskCheckInterval:        taskCheckInterval,
		ShutdownTimeout:          config.DefaultShutdownTimeout,
		Logger:                   zap.NewNop().Sugar(),
		LogLevel:                 asynq.WarnLevel,
	})

	b.logf("phase A (bare cycle): enqueuing %d tasks", b.cfg.Generations)
	if err := b.enqueue(ctx, bareQueue); err != nil {
		return PhaseResult{}, err
	}
	if err := srv.Start(mux); err != nil {
		return PhaseResult{}, fmt.Errorf("phase A: start: %w", err)
	}
	res, err := b.measure(ctx, probe{name: "bare", polls: polls.Load, redis: counter})
	srv.Shutdown()
	if err != nil {
		return PhaseResult{}, fmt.Errorf("phase A: %w", err)
	}
	return res, nil
}

// genwatch runs phase B: the real worker against the simulator.
func (b *bench) genwatch(ctx context.Context) (PhaseResult, error) {
	rdb, counter := b.hookedClient()
	defer rdb.Close()

	sim, simURL, stopSim, err := serveSimulator()
	if err != nil {
		return PhaseResult{}, fmt.Errorf("phase B: %w", err)
	}
	defer stopSim()
	for _, req := range requests(b.cfg.Generations) {
		sim.Create(req.Provider, req.GenerationID, simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	}

	httpClient, polls := countingHTTPClient(b.cfg.Concurrency)
	w, err := worker.New(workerConfig(b.cfg, simURL), worker.Options{Redis: rdb, HTTPClient: httpClient})
	if err != nil {
		return PhaseResult{}, fmt.Errorf("phase B: %w", err)
	}

	b.logf("phase B (genwatch): enqueuing %d generations", b.cfg.Generations)
	if err := b.enqueue(ctx, genwatchQueue); err != nil {
		return PhaseResult{}, err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(runCtx); err != nil {
			cancel(err)
		}
	}()
	res, err := b.measure(runCtx, probe{
		name: "genwatch", polls: polls.Load, redis: counter,
		requests: sim.TotalRequests,
	})
	cause := context.Cause(runCtx)
	cancel(nil)
	<-done
	if err != nil {
		if cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		return PhaseResult{}, fmt.Errorf("phase B: %w", err)
	}
	return res, nil
}

// workerConfig is the worker's default configuration with every provider
// pointed at the simulator and a policy of one poll a second.
func workerConfig(cfg Config, simURL string) config.Config {
	wc := worker.DefaultConfig()
	wc.Redis.URL = cfg.RedisURL
	wc.Queue = genwatchQueue
	wc.Concurrency = cfg.Concurrency
	// Nothing scrapes the dashboard or the metrics; the metrics are still
	// kept, as in any worker.
	wc.HTTPAddr = "off"
	wc.MaxWait = benchMaxWait
	wc.Poll = schedule.Policy{Initial: pollDelay, Max: pollDelay, Multiplier: 1, Jitter: -1}.WithDefaults()
	for _, name := range genwatch.Providers() {
		wc.Providers[name] = config.Provider{
			BaseURL:  simURL,
			Accounts: map[string]config.Account{genwatch.DefaultAccount: {APIKey: secret.Value("bench-key")}},
		}
	}
	return wc
}

// serveSimulator serves a simulator on a loopback listener; stop closes both.
func serveSimulator() (sim *simulator.Simulator, url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("simulator listener: %w", err)
	}
	sim = simulator.New(simulator.Config{})
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop = func() {
		sim.Close()
		_ = srv.Close()
	}
	return sim, "http://" + ln.Addr().String(), stop, nil
}

// countingHTTPClient returns a client pooled like the worker's own
// (worker.newHTTPClient, which is not exported), and the count of status
// calls it has completed: one per poll.
func countingHTTPClient(concurrency int) (*http.Client, *atomic.Int64) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(concurrency, 16)
	t.MaxIdleConns = 4 * t.MaxIdleConnsPerHost
	rt := &countingTransport{next: t}
	return &http.Client{Transport: rt}, &rt.n
}

// countingTransport counts the round trips it has completed.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

// RoundTrip implements http.RoundTripper.
func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	c.n.Add(1)
	return resp, err
}

// requests are the tracking requests of a run: n generations spread over
// the providers, each tracked for benchMaxWait.
func requests(n int) []genwatch.Request {
	providers := genwatch.Providers()
	out := make([]genwatch.Request, n)
	for i := range out {
		out[i] = genwatch.Request{
			Provider:       providers[i%len(providers)],
			GenerationID:   fmt.Sprintf("bench-%07d", i),
			MaxWaitSeconds: int64(benchMaxWait / time.Second),
		}
	}
	return out
}

// enqueue tracks the run's generations on queue through the control
// client, so that enqueuing is not counted as the server's round trips.
func (b *bench) enqueue(ctx context.Context, queue string) error {
	aq := asynq.NewClientFromRedisClient(b.control)
	client := genwatch.NewClient(aq, genwatch.ClientConfig{Queue: queue})
	return trackAll(ctx, client, requests(b.cfg.Generations))
}
