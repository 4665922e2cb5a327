// Package demo runs genwatch end to end in one process: Redis (embedded
// miniredis unless a URL is given), the provider simulator on loopback, a
// worker, and a sample batch of generations across all three providers,
// printing each completion event as it arrives on the stream.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// Options configure a demo run.
type Options struct {
	// RedisURL, when set, is used instead of an embedded miniredis.
	RedisURL string
	// HTTPAddr is where the worker serves its dashboard and metrics; empty
	// means the configuration's default.
	HTTPAddr string
	// Out receives the events and progress lines.
	Out io.Writer
	// Logger logs the worker.
	Logger *zap.Logger
	// ExitWhenDone returns once every sample generation has ended, instead
	// of serving until ctx is done.
	ExitWhenDone bool
}

// Sample is one generation of the sample batch and the status it is
// expected to end with.
type Sample struct {
	Request genwatch.Request
	Want    genwatch.Status
}

// Samples is the demo's batch: for each provider one that completes, and
// across them one that fails, one that is never found and one that times
// out (its simulated job never ends).
func Samples() []Sample {
	var out []Sample
	for _, p := range genwatch.Providers() {
		out = append(out, Sample{Request: genwatch.Request{Provider: p, GenerationID: "demo-" + p + "-1",
			Metadata: json.RawMessage(`{"customer":"acme","job":"teaser"}`)}, Want: genwatch.StatusCompleted})
	}
	out = append(out,
		Sample{Request: genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "fail-demo-hoox-2"}, Want: genwatch.StatusFailed},
		Sample{Request: genwatch.Request{Provider: genwatch.ProviderToken360, GenerationID: "missing-demo-token360-2"}, Want: genwatch.StatusFailed},
		Sample{Request: genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "never-demo-hooked-2", MaxWaitSeconds: 15}, Want: genwatch.StatusTimedOut},
	)
	return out
}

// demoKeys returns the API keys the simulator accepts in the demo, one for
// each provider.
func demoKeys() map[string]string {
	keys := map[string]string{}
	for _, name := range genwatch.Providers() {
		keys[name] = "demo-" + name + "-key"
	}
	return keys
}

// Config returns the worker configuration of the demo for a simulator at
// simURL: fast polling and short grace periods, so that every sample ends
// within about half a minute.
func Config(redisURL, simURL string) config.Config {
	cfg := config.Default()
	cfg.Redis.URL = redisURL
	cfg.Concurrency = 20
	cfg.Poll = schedule.Policy{Initial: time.Second, Multiplier: 1.5, Max: 4 * time.Second, NotFoundGrace: 10 * time.Second}.WithDefaults()
	cfg.ShutdownTimeout = 5 * time.Second
	for name, key := range demoKeys() {
		cfg.Providers[name] = config.Provider{
			BaseURL:  simURL,
			Accounts: map[string]config.Account{genwatch.DefaultAccount: {APIKey: secret.Value(key)}},
		}
	}
	return cfg
}

// Run runs the demo until every sample has ended (ExitWhenDone) or ctx is
// done.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	redisURL := opts.RedisURL
	if redisURL == "" {
		mr, err := miniredis.Run()
		if err != nil {
			return fmt.Errorf("demo: embedded redis: %w", err)
		}
		defer mr.Close()
		redisURL = "redis://" + mr.Addr() + "/0"
		fmt.Fprintf(opts.Out, "Redis: embedded miniredis at %s\n", mr.Addr())
	} else {
		fmt.Fprintf(opts.Out, "Redis: %s\n", cli.Where(config.Redis{URL: redisURL}))
	}

	sim := simulator.New(simulator.Config{AutoCreate: true, Keys: demoKeys()})
	defer sim.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: simulator listener: %w", err)
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = simSrv.Serve(ln) }()
	defer simSrv.Close()
	simURL := "http://" + ln.Addr().String()
	fmt.Fprintf(opts.Out, "Provider simulator: %s (the %s APIs)\n", simURL, strings.Join(genwatch.Providers(), ", "))

	cfg := Config(redisURL, simURL)
	if opts.HTTPAddr != "" {
		cfg.HTTPAddr = opts.HTTPAddr
	}
	rdb, err := cfg.Redis.NewClient()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer rdb.Close()

	w, err := worker.New(cfg, worker.Options{Logger: log, Redis: rdb})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(ctx) }()
	waitWorker := sync.OnceValue(func() error { return <-workerDone })
	// However Run returns, the worker stops before rdb closes under it.
	defer func() { cancel(); _ = waitWorker() }()
	if addr := w.Addr(); addr != nil {
		fmt.Fprintf(opts.Out, "Dashboard: http://%s%s/   Metrics: http://%s/metrics\n", addr, worker.DashboardPath, addr)
	}

	// Read from the stream's current end, so that a real Redis with older
	// events shows only this run's.
	lastID, err := streamEnd(ctx, rdb, cfg.Events.Stream)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	aq := asynq.NewClientFromRedisClient(rdb)
	defer aq.Close()
	client := genwatch.NewClient(aq, cfg.ClientConfig())
	samples := Samples()
	waiting := map[string]bool{}
	for _, s := range samples {
		res, err := client.Track(ctx, s.Request)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		waiting[res.TaskID] = true
		note := ""
		if res.AlreadyTracked {
			note = " (already tracked)"
		}
		fmt.Fprintf(opts.Out, "tracking %-34s expect %s%s\n", res.TaskID, s.Want, note)
	}
	fmt.Fprintf(opts.Out, "\nWaiting for %d completion events on stream %q...\n\n", len(waiting), cfg.Events.Stream)

	started := time.Now()
	for len(waiting) > 0 {
		streams, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{cfg.Events.Stream, lastID}, Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("demo: read events: %w", err)
		}
		for _, msg := range streams[0].Messages {
			lastID = msg.ID
			raw, _ := msg.Values[genwatch.StreamField].(string)
			ev, err := genwatch.DecodeEvent([]byte(raw))
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			delete(waiting, genwatch.TaskID(ev.Provider, ev.GenerationID))
			printEvent(opts.Out, ev, raw)
		}
	}
	fmt.Fprintf(opts.Out, "All %d sample generations ended in %s.\n", len(samples), time.Since(started).Round(100*time.Millisecond))
	if opts.ExitWhenDone {
		cancel()
		return waitWorker()
	}
	fmt.Fprintf(opts.Out, "\nThe worker keeps running until Ctrl-C. Try, in another terminal"+
		" (any ID works; fail-, never-, missing- and slow- choose its outcome):\n\n"+
		"  export GENWATCH_REDIS_URL=%s\n"+
		"  go run ./cmd/enqueue --provider hoox --id slow-clip-1 --wait\n"+
		"  go run ./cmd/genwatch status hoox:slow-clip-1\n"+
		"  go run ./cmd/genwatch cancel hoox:slow-clip-1\n", cli.Redact(redisURL)) // a password is left for the user to fill in
	return waitWorker()
}

func streamEnd(ctx context.Context, rdb redis.UniversalClient, stream string) (string, error) {
	msgs, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("read stream end: %w", err)
	}
	if len(msgs) == 0 {
		return "0", nil
	}
	return msgs[0].ID, nil
}

func printEvent(out io.Writer, ev genwatch.Event, raw string) {
	took := ev.DetectedAt.Sub(ev.EnqueuedAt).Round(100 * time.Millisecond)
	fmt.Fprintf(out, "● %s  %s:%s  after %d polls, %s", ev.Type, ev.Provider, ev.GenerationID, ev.Polls, took)
	if ev.Error != nil {
		fmt.Fprintf(out, "  [%s: %s]", ev.Error.Code, ev.Error.Message)
	}
	fmt.Fprintln(out)
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(raw), "  ", "  ") == nil {
		fmt.Fprintf(out, "  %s\n\n", pretty.Bytes())
	}
}
