// Command worker runs a genwatch worker: it polls AI media providers for
// the generations enqueued on the genwatch queue and emits one completion
// event per generation. With --demo it runs everything in one process.
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

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/demo"
	"github.com/genwatch/genwatch/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// flagVars names the variable each configuration flag stands for.
var flagVars = map[string]string{
	"http":       "GENWATCH_HTTP_ADDR",
	"api":        "GENWATCH_API_ADDR",
	"log-level":  "GENWATCH_LOG_LEVEL",
	"log-format": "GENWATCH_LOG_FORMAT",
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (see config/genwatch.example.yaml); GENWATCH_* variables override it")
	demoMode := fs.Bool("demo", false, "run a self-contained demo: embedded Redis (unless GENWATCH_REDIS_URL is set), simulated providers and a sample batch")
	exitWhenDone := fs.Bool("exit-when-done", false, "with --demo: exit once every sample generation has ended")
	httpAddr := fs.String("http", "", "address for /metrics, /healthz, /readyz and /monitoring/ (overrides GENWATCH_HTTP_ADDR)")
	fs.String("api", "", "address for the public HTTP API and provider webhooks (overrides GENWATCH_API_ADDR; off by default)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides GENWATCH_LOG_LEVEL)")
	logFormat := fs.String("log-format", "", "json or console (overrides GENWATCH_LOG_FORMAT; console in --demo)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: worker [flags]\n\nPolls providers for tracked generations and emits their completion events.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	if *demoMode {
		format := "console"
		if *logFormat != "" {
			format = *logFormat
		}
		level := "warn"
		if *logLevel != "" {
			level = *logLevel
		}
		log, err := worker.NewLogger(config.Log{Level: level, Format: format})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		defer func() { _ = log.Sync() }()
		redis.SetLogger(worker.RedisLogger(log))
		redisURL, _ := getenv("GENWATCH_REDIS_URL")
		err = demo.Run(ctx, demo.Options{RedisURL: redisURL, HTTPAddr: *httpAddr, Out: stdout, Logger: log, ExitWhenDone: *exitWhenDone})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}

	// A flag given stands for its variable, so that the configuration is
	// read, checked and reported once, the same way whatever set it.
	vars := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		if name, ok := flagVars[f.Name]; ok {
			vars[name] = f.Value.String()
		}
	})
	cfg, err := worker.LoadConfig(*configPath, config.Overlay(getenv, vars))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log, err := worker.NewLogger(cfg.Log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	redis.SetLogger(worker.RedisLogger(log))

	w, err := worker.New(cfg, worker.Options{Logger: log})
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 2
	}
	if err := w.Run(ctx); err != nil {
		log.Error("worker failed", zap.Error(err))
		return 1
	}
	return 0
}
