// Command pacebench measures what genwatch's pacing costs and what it buys:
// provider status calls per generation against detection lag (how long
// after a generation ended its event was written), on a real Redis and the
// simulated providers, for workloads as nasty as real providers (see
// internal/workload): linear progress, curved progress in coarse steps with
// plateaus at 99 % and frozen progress, no progress at all (Hoox), mixed
// providers, submitter hints a fifth of which are wildly wrong, a provider
// that got twice as slow, and webhooks of which 5 % are lost, 3 % premature
// and 10 % late.
//
// Every policy runs on the very same durations, at the same time, each in
// a worker of its own (its own queue, stream and learned durations, one
// account per workload so that workloads learn apart):
//
//   - adaptive: the default pacing (schedule.ModeAdaptive);
//   - backoff: the backoff genwatch had before (2 s × 1.5 up to 30 s);
//   - webhooks: adaptive with provider webhooks (webhooks workload only),
//     delivered through the same hint path as the hook endpoint;
//   - fixed-5s and fixed-2s: a plain loop polling every 5 or 2 seconds
//     after enqueueing, computed exactly from each generation's end.
//
// The run has two rounds: the first (another draw of each workload, the
// Mixed one for "slower") is the cold start, with nothing learned; the
// second, measured after it, is warm. Usage:
//
//	pacebench [--redis-url URL] [--generations N] [--spread D]
//	          [--kinds linear,curved,...] [--plot FILE] [--json]
//
// It flushes the database it is given (FLUSHDB, never FLUSHALL; database 0
// is refused without --force). docs/benchmarks.md has the figures of this
// machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/genwatch/genwatch/internal/cli"
	"github.com/genwatch/genwatch/internal/workload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, asJSON, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "pacebench:", err)
		return exitUsage
	}
	report, err := Run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "pacebench:", err)
		return exitError
	}
	if cfg.Plot != "" {
		if err := plotReport(report, cfg.Plot); err != nil {
			fmt.Fprintln(stderr, "pacebench:", err)
			return exitError
		}
	}
	if asJSON {
		if err := cli.PrintJSON(stdout, report); err != nil {
			fmt.Fprintln(stderr, "pacebench:", err)
			return exitError
		}
		return exitOK
	}
	printReport(stdout, report)
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (Config, bool, error) {
	cfg := Config{}
	fs := flag.NewFlagSet("pacebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RedisURL, "redis-url", "redis://127.0.0.1:6379/14", "Redis database to use and flush")
	fs.BoolVar(&cfg.Force, "force", false, "allow database 0")
	fs.IntVar(&cfg.Generations, "generations", 300, "generations per workload and round")
	fs.DurationVar(&cfg.Spread, "spread", 5*time.Minute, "each round's arrivals are spread uniformly over this long")
	kinds := fs.String("kinds", "", "comma-separated workloads (default all: "+kindList(workload.Kinds())+")")
	fs.StringVar(&cfg.Plot, "plot", "", "write the calls-against-p95-lag plot to this PNG `FILE`")
	fs.DurationVar(&cfg.TargetLag, "target-lag", 0, "every worker's poll.target_lag (default the workers' default)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pacebench [flags]\n\nMeasures status calls against detection lag for each pacing policy on the\nsame workloads (real Redis, simulated providers). Flushes the database.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, false, err
	}
	if fs.NArg() > 0 {
		return Config{}, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *kinds != "" {
		for _, k := range strings.Split(*kinds, ",") {
			cfg.Kinds = append(cfg.Kinds, workload.Kind(strings.TrimSpace(k)))
		}
	}
	return cfg, *asJSON, cfg.validate()
}

func kindList(ks []workload.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

// validate reports every problem with the configuration.
func (c Config) validate() error {
	var errs []error
	if err := cli.FlushableRedis(c.RedisURL, c.Force, "pacebench"); err != nil {
		errs = append(errs, err)
	}
	if c.Generations < 1 {
		errs = append(errs, fmt.Errorf("--generations: must be at least 1, got %d", c.Generations))
	}
	if c.Spread < 0 {
		errs = append(errs, fmt.Errorf("--spread: must not be negative, got %s", c.Spread))
	}
	if c.TargetLag < 0 {
		errs = append(errs, fmt.Errorf("--target-lag: must not be negative, got %s", c.TargetLag))
	}
	known := map[workload.Kind]bool{}
	for _, k := range workload.Kinds() {
		known[k] = true
	}
	for _, k := range c.Kinds {
		if !known[k] {
			errs = append(errs, fmt.Errorf("--kinds: unknown workload %q (want some of %s)", k, kindList(workload.Kinds())))
		}
	}
	return errors.Join(errs...)
}
