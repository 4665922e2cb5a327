package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/hint"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/internal/store"
	"github.com/genwatch/genwatch/internal/workload"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// Config configures a run.
type Config struct {
	RedisURL    string
	Force       bool
	Generations int
	Spread      time.Duration
	// Kinds are the workloads; all when empty.
	Kinds []workload.Kind
	// Plot names the PNG to draw, if any.
	Plot string
	// TargetLag is every worker's poll.target_lag; the default when zero.
	TargetLag time.Duration
	// Scale multiplies every duration of the workloads (1 when zero): a
	// test runs them in a fraction of their time. The fixed loops' figures
	// are then not comparable.
	Scale float64
}

// Policies measured by running a worker.
const (
	armAdaptive = "adaptive"
	armBackoff  = "backoff"
	armWebhooks = "webhooks"
)

// Rounds.
const (
	roundCold = "cold"
	roundWarm = "warm"
)

// Result is one policy on one workload in one round.
type Result struct {
	Policy      string  `json:"policy"`
	Workload    string  `json:"workload"`
	Round       string  `json:"round"`
	Generations int     `json:"generations"`
	Calls       int     `json:"calls"`
	PerGen      float64 `json:"calls_per_generation"`
	// OfFixed5s is Calls over the fixed 5-second loop's on the same
	// generations.
	OfFixed5s float64 `json:"calls_of_fixed_5s"`
	LagP50    float64 `json:"lag_p50_seconds"`
	LagP95    float64 `json:"lag_p95_seconds"`
	LagMax    float64 `json:"lag_max_seconds"`
	// Missing counts generations whose event never came, or came with
	// another status than completed.
	Missing int `json:"missing"`
}

// Report is a whole run.
type Report struct {
	Started  time.Time `json:"started"`
	Took     string    `json:"took"`
	Settings string    `json:"settings"`
	Results  []Result  `json:"results"`
}

// arm is one policy's worker.
type arm struct {
	name   string
	queue  string
	stream string
	client *genwatch.Client
	hinter *hint.Runner
}

// tracked is one generation of one arm in one round.
type tracked struct {
	arm, kind, round string
	gen              workload.Generation
	taskID           string
	enqueued         time.Time
}

// Run runs every round and returns the report. progress gets a line per
// step.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Report, error) {
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	kinds := cfg.Kinds
	if len(kinds) == 0 {
		kinds = workload.Kinds()
	}
	started := time.Now()
	ropt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return Report{}, fmt.Errorf("redis url: %w", err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return Report{}, fmt.Errorf("redis: %w", err)
	}
	defer rdb.FlushDB(context.WithoutCancel(ctx))

	sim := simulator.New(simulator.Config{})
	defer sim.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Report{}, fmt.Errorf("simulator: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	baseURL := "http://" + ln.Addr().String()

	var wg sync.WaitGroup
	defer wg.Wait() // after stop, below: the workers end when runCtx does
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	arms := map[string]*arm{}
	for _, name := range []string{armAdaptive, armBackoff, armWebhooks} {
		a, w, err := newArm(name, cfg, rdb, baseURL, kinds)
		if err != nil {
			return Report{}, err
		}
		arms[name] = a
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(progress, "worker %s: %v\n", name, err)
			}
		}()
	}

	report := Report{Started: started.UTC(), Settings: fmt.Sprintf("%d generations per workload and round, arrivals over %s each, the warm round right after the cold one, target_lag %s", cfg.Generations, cfg.Spread, config.Policy{TargetLag: cfg.TargetLag}.WithDefaults().TargetLag)}
	results, err := runRounds(ctx, cfg, kinds, arms, sim, rdb, progress)
	if err != nil {
		return Report{}, err
	}
	report.Results = results
	report.Took = time.Since(started).Round(time.Second).String()
	return report, nil
}

// newArm configures a worker of its own for one policy: one account per
// workload, every provider pointed at the simulator.
func newArm(name string, bench Config, rdb *redis.Client, baseURL string, kinds []workload.Kind) (*arm, *worker.Worker, error) {
	cfg := config.Default()
	cfg.Redis.URL = bench.RedisURL
	cfg.Poll.TargetLag = bench.TargetLag
	cfg.Queue = "pace-" + name
	cfg.Events.Stream = "pace-" + name + ":events"
	cfg.HTTPAddr = ""
	cfg.Concurrency = 200
	cfg.Log.Level = "error"
	switch name {
	case armBackoff:
		cfg.Poll.Mode = schedule.ModeBackoff
	case armWebhooks:
		cfg.Poll.Webhooks = true
	}
	accounts := map[string]config.Account{}
	for _, k := range kinds {
		accounts[string(k)] = config.Account{APIKey: secret.Value("bench-key")}
	}
	for p, pc := range cfg.Providers {
		pc.BaseURL = baseURL
		pc.Accounts = accounts
		cfg.Providers[p] = pc
	}
	w, err := worker.New(cfg, worker.Options{Logger: zap.NewNop(), Redis: rdb})
	if err != nil {
		return nil, nil, fmt.Errorf("worker %s: %w", name, err)
	}
	a := &arm{
		name: name, queue: cfg.Queue, stream: cfg.Events.Stream,
		client: genwatch.NewClient(asynq.NewClientFromRedisClient(rdb), genwatch.ClientConfig{Queue: cfg.Queue}),
		hinter: hint.New(hint.Config{
			Redis:     rdb,
			Recorder:  store.New(rdb, store.Config{Shards: cfg.Sharding()}),
			Inspector: asynq.NewInspectorFromRedisClient(rdb),
			Shards:    cfg.Sharding(),
		}),
	}
	return a, w, nil
}

// armsOf returns the policies that run a workload.
func armsOf(k workload.Kind) []string {
	if k == workload.Webhooks {
		return []string{armWebhooks, armBackoff}
	}
	return []string{armAdaptive, armBackoff}
}

// round is the generations of one round, by workload kind.
type round struct {
	name   string
	byKind map[workload.Kind]workload.Workload
	all    []*tracked
}

// plan draws the generations of a round, arriving offset after the start.
func plan(cfg Config, name string, kinds []workload.Kind, offset time.Duration) (round, error) {
	seed := uint64(1)
	if name == roundCold {
		seed = 99
	}
	r := round{name: name, byKind: map[workload.Kind]workload.Workload{}}
	for _, k := range kinds {
		draw := k
		if k == workload.Slower && name == roundCold {
			draw = workload.Mixed
		}
		w, err := workload.Make(draw, cfg.Generations, seed, cfg.Spread)
		if err != nil {
			return round{}, err
		}
		w = w.Scaled(cfg.Scale)
		w.Name = string(k)
		r.byKind[k] = w
		for _, name := range armsOf(k) {
			for _, g := range w.Generations {
				g.Arrival += offset
				r.all = append(r.all, &tracked{arm: name, kind: string(k), round: r.name, gen: g,
					taskID: genwatch.TaskID(g.Provider, name+"-"+g.ID)})
			}
		}
	}
	return r, nil
}

// runRounds runs the cold round and, arriving right after it in one
// unbroken stream, the warm one: the cold round is still ending when the
// warm one arrives, as in steady traffic, so that what the warm round
// starts from is what a stream has learned, not the longest endings of a
// burst.
func runRounds(ctx context.Context, cfg Config, kinds []workload.Kind, arms map[string]*arm,
	sim *simulator.Simulator, rdb *redis.Client, progress io.Writer,
) ([]Result, error) {
	cold, err := plan(cfg, roundCold, kinds, 0)
	if err != nil {
		return nil, err
	}
	warm, err := plan(cfg, roundWarm, kinds, time.Duration(float64(cfg.Spread)*cfg.Scale))
	if err != nil {
		return nil, err
	}
	all := append(append([]*tracked{}, cold.all...), warm.all...)

	// Enqueue each at its arrival, creating it at the simulator at the same
	// moment, and deliver its webhook when it ends (unless lost).
	fmt.Fprintf(progress, "%d workloads, two rounds: enqueuing %d generations\n", len(kinds), len(all))
	start := time.Now()
	var (
		mu      sync.Mutex
		errs    []error
		pending sync.WaitGroup
	)
	for _, tr := range all {
		pending.Add(1)
		time.AfterFunc(tr.gen.Arrival, func() {
			defer pending.Done()
			a := arms[tr.arm]
			id := tr.arm + "-" + tr.gen.ID
			sim.Create(tr.gen.Provider, id, tr.gen.Plan)
			now := time.Now()
			tr.enqueued = now
			req := genwatch.Request{Provider: tr.gen.Provider, GenerationID: id, Account: tr.kind,
				EnqueuedAt: &now, ExpectedSeconds: int64(tr.gen.Expected / time.Second)}
			if _, err := a.client.Track(ctx, req); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			if cold.byKind[workload.Kind(tr.kind)].Webhooks && !tr.gen.Webhook.Lost {
				time.AfterFunc(max(tr.gen.End()+tr.gen.Webhook.Delay, 0), func() {
					_, _ = a.hinter.PollNow(context.WithoutCancel(ctx), tr.taskID)
				})
			}
		})
	}
	pending.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "%d generations enqueued in %s; waiting for their events\n", len(all), time.Since(start).Round(time.Second))

	events, err := collect(ctx, rdb, arms, all, progress)
	if err != nil {
		return nil, err
	}
	results := summarize(cold.name, kinds, cold.byKind, cold.all, events)
	return append(results, summarize(warm.name, kinds, warm.byKind, warm.all, events)...), nil
}

// collect reads every arm's stream until each tracked generation has its
// event.
func collect(ctx context.Context, rdb *redis.Client, arms map[string]*arm, all []*tracked, progress io.Writer) (map[string]genwatch.Event, error) {
	want := map[string]bool{}
	for _, tr := range all {
		want[tr.taskID] = true
	}
	got := map[string]genwatch.Event{}
	cursors := map[string]string{}
	var streams []string
	for _, a := range arms {
		streams = append(streams, a.stream)
		cursors[a.stream] = "0"
	}
	sort.Strings(streams)
	lastReport := time.Now()
	for len(got) < len(want) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		args := append([]string{}, streams...)
		for _, s := range streams {
			args = append(args, cursors[s])
		}
		res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: args, Count: 1000, Block: time.Second}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read events: %w", err)
		}
		for _, s := range res {
			for _, m := range s.Messages {
				cursors[s.Stream] = m.ID
				raw, _ := m.Values[genwatch.StreamField].(string)
				e, err := genwatch.DecodeEvent([]byte(raw))
				if err != nil {
					return nil, fmt.Errorf("read events: %w", err)
				}
				if id := genwatch.TaskID(e.Provider, e.GenerationID); want[id] {
					got[id] = e
				}
			}
		}
		if time.Since(lastReport) > 30*time.Second {
			fmt.Fprintf(progress, "  %d of %d ended\n", len(got), len(want))
			lastReport = time.Now()
		}
	}
	return got, nil
}
