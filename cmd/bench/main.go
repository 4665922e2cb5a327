// Command bench measures how many polls per second one genwatch worker
// sustains on a real Redis, and what each poll costs Redis, against asynq's
// bare retry cycle measured in the same run as the reference.
//
// It runs two phases on one dedicated Redis database, flushed (FLUSHDB, never
// FLUSHALL) before, between and after them:
//
//   - A, the bare cycle: an asynq server configured like the genwatch worker
//     (concurrency, check intervals, IsFailure and RetryDelayFunc), whose
//     handler does nothing but return tasks.PollAgain with a delay of one
//     second, over N tracking tasks with genwatch payloads.
//   - B, genwatch: the real worker (worker.New) polling N generations that
//     never end, spread over the three providers of the simulator served on
//     a loopback listener, with a policy of one poll a second (Initial = Max
//     = 1 s, Multiplier 1, no jitter), so that both phases ask asynq for the
//     same delay and the same RetryDelay rounds it up to a whole second.
//
// After a warm-up, each phase is measured over a window of whole seconds
// that starts on a whole second (asynq runs retries in bursts on whole
// seconds, so both ends of the window see the same point of the burst):
// handler runs per second; Redis round trips per poll, counted by a go-redis
// hook on the client the asynq server uses (one per command or pipeline
// sent, a new connection's handshake included); Redis commands per poll
// from INFO commandstats deltas (INFO itself excluded; commands run inside
// Lua scripts are counted like any other); the simulator's requests per
// second; the CPU used by this process, by Redis and by other processes; and
// the Go heap and GC cycles.
//
// Redis's counters are server-wide. Other clients' scripts and connections
// during the window, and other processes' CPU use, are reported, and each
// phase warns when they may have skewed its figures.
//
// Each generation asks to be polled again a second after its poll, which
// asynq rounds up to the next whole second and forwards on its next check:
// a generation waits 1.5 s or more between polls, so N generations cannot
// be polled more than about N/1.5 times a second. The default N, 30000, is
// enough for both phases to be limited by the worker rather than by the
// schedule, so that polls per second measure what one worker sustains.
//
// The targets: B's polls per second at least half of A's, at most 3 round
// trips and 20 commands per poll in B. Usage:
//
//	bench [--redis-url URL] [--generations N] [--concurrency C]
//	      [--warmup D] [--duration D] [--json] [--cpuprofile FILE]
//
// docs/benchmarks.md has the figures of this machine.
//
// Exit codes: 0 targets met, 1 error, 2 bad flags, 3 targets missed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/genwatch/genwatch/internal/cli"
)

func main() {
	// A failed dial is reported once, by run; go-redis would also log each
	// attempt to stderr.
	cli.QuietRedis()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// Exit codes of run.
const (
	exitOK     = 0
	exitError  = 1
	exitUsage  = 2
	exitMissed = 3
)

// envRedisURL names the variable that gives --redis-url its default.
const envRedisURL = "GENWATCH_BENCH_REDIS_URL"

// defaultRedisURL is a dedicated database of the local Redis.
const defaultRedisURL = "redis://127.0.0.1:6379/14"

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	cfg, asJSON, err := parseFlags(args, stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitUsage
	}
	progress := stderr
	if len(cfg.Scale) > 0 {
		rep, err := runScale(ctx, cfg, cfg.Scale, progress)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return exitError
		}
		if asJSON {
			if err := cli.PrintJSON(stdout, rep); err != nil {
				fmt.Fprintln(stderr, "bench:", err)
				return exitError
			}
			return exitOK
		}
		printScale(stdout, rep)
		return exitOK
	}
	report, err := Run(ctx, cfg, progress)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitError
	}
	if asJSON {
		if err := cli.PrintJSON(stdout, report); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return exitError
		}
	} else {
		printReport(stdout, report)
	}
	if !report.Met {
		fmt.Fprintln(stderr, "bench: targets missed:", report.missed())
		return exitMissed
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer, getenv func(string) (string, bool)) (Config, bool, error) {
	redisURL := defaultRedisURL
	if v, ok := getenv(envRedisURL); ok && v != "" {
		redisURL = v
	}
	var cfg Config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RedisURL, "redis-url", redisURL, "Redis database to use and flush (default from "+envRedisURL+")")
	fs.BoolVar(&cfg.Force, "force", false, "allow database 0")
	fs.IntVar(&cfg.Generations, "generations", 30000, "concurrently tracked generations (tasks in phase A); enough to keep both phases busy")
	fs.IntVar(&cfg.Concurrency, "concurrency", 100, "worker concurrency")
	fs.DurationVar(&cfg.Warmup, "warmup", 15*time.Second, "time before the measurement window")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "measurement window")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of each window to FILE with the phase before the extension (cpu.prof: cpu.bare.prof, cpu.genwatch.prof)")
	scale := fs.String("scale", "", "instead, the scaling benchmark: `LAYOUTS` such as 1:1,1:6,3:6 (primaries:shards), each on a Redis Cluster of its own started on free loopback ports (needs redis-server and redis-cli)")
	asJSON := fs.Bool("json", false, "print a JSON object instead of the table")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: bench [flags]\n\nMeasures sustained polls per second and Redis cost per poll of one genwatch\nworker against asynq's bare retry cycle. Flushes the database it is given.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, false, err
	}
	if fs.NArg() > 0 {
		return Config{}, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *scale != "" {
		layouts, err := parseLayouts(*scale)
		if err != nil {
			return Config{}, false, fmt.Errorf("--scale: %w", err)
		}
		cfg.Scale = layouts
	}
	if err := cfg.validate(); err != nil {
		return Config{}, false, err
	}
	return cfg, *asJSON, nil
}

// validate reports every problem with the configuration.
func (c Config) validate() error {
	var errs []error
	if err := cli.FlushableRedis(c.RedisURL, c.Force, "the bench"); err != nil {
		errs = append(errs, err)
	}
	if c.Generations < 1 {
		errs = append(errs, fmt.Errorf("--generations: must be at least 1, got %d", c.Generations))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("--concurrency: must be at least 1, got %d", c.Concurrency))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("--warmup: must not be negative, got %s", c.Warmup))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration: must be positive, got %s", c.Duration))
	}
	return errors.Join(errs...)
}
