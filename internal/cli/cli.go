// Package cli holds what genwatch's commands (cmd/enqueue, cmd/genwatch)
// share: their exit codes; the connection flags --config, --redis-url,
// --queue and --json; loading the configuration with those flags winning
// over the environment, and the environment over the file; a Redis client
// whose errors never quote the URL's password; and the wait for
// generations to end behind `genwatch wait` and `enqueue --wait`.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/wait"
)

// Exit codes of the commands.
const (
	ExitOK = 0
	// ExitError: Redis or another failure at run time.
	ExitError = 1
	// ExitUsage: invalid flags, arguments, configuration or input, or a
	// generation that is not tracked.
	ExitUsage = 2
	// ExitNotCompleted: a wait ended with a generation that did not
	// complete (failed, timed out, canceled, not tracked, archived), or was
	// cut short.
	ExitNotCompleted = 3
)

// QuietRedis discards go-redis's internal log lines, such as one per failed
// dial: the commands report a connection failure once, in their own words.
// Call it from main.
func QuietRedis() { redis.SetLogger(quietLogger{}) }

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// Flags are the connection flags every command takes.
type Flags struct {
	fs *flag.FlagSet

	ConfigPath string
	RedisURL   string
	Queue      string
	JSON       bool
}

// AddFlags defines --config, --redis-url, --queue and --json on fs;
// jsonUsage says what --json prints for this command.
func AddFlags(fs *flag.FlagSet, jsonUsage string) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.ConfigPath, "config", "", "YAML configuration `file`, the workers' (see config/genwatch.example.yaml); GENWATCH_* variables override it")
	fs.StringVar(&f.RedisURL, "redis-url", "", "redis:// or rediss:// `URL` (overrides GENWATCH_REDIS_URL and the file)")
	fs.StringVar(&f.Queue, "queue", "", "asynq `queue` (overrides GENWATCH_QUEUE and the file; default genwatch)")
	fs.BoolVar(&f.JSON, "json", false, jsonUsage)
	return f
}

// Config loads the configuration: the --config file, then the environment
// through getenv (os.LookupEnv), then --redis-url and --queue when they
// were given, all validated by config.Load. Call it after parsing.
func (f *Flags) Config(getenv func(string) (string, bool)) (config.Config, error) {
	overrides := map[string]string{}
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "redis-url":
			overrides["GENWATCH_REDIS_URL"] = f.RedisURL
		case "queue":
			overrides["GENWATCH_QUEUE"] = f.Queue
		}
	})
	return config.Load(f.ConfigPath, config.Overlay(getenv, overrides))
}

// NewRedis returns a client of the configuration's Redis (mode, URL and
// TLS CA file). It connects to nothing yet; see Ping. Its error never
// quotes the URL, which may hold a password.
func NewRedis(cfg config.Config) (redis.UniversalClient, error) {
	return cfg.Redis.NewClient()
}

// Ping checks that Redis answers; its error names the URL, redacted.
func Ping(ctx context.Context, rdb redis.UniversalClient, rawURL string) error {
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cannot reach Redis at %s: %w", Redact(rawURL), err)
	}
	return nil
}

// Redact returns the URL with its password replaced, for messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Wait runs wait.Run with cfg, for at most timeout when it is positive, and
// returns the exit code: ExitOK when every generation completed,
// ExitNotCompleted when one did not or the wait was cut short, ExitError
// when the generations' state could not be read. Problems go to stderr,
// prefixed with the command's name.
func Wait(ctx context.Context, name string, cfg wait.Config, timeout time.Duration, stderr io.Writer) int {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	sum, err := wait.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitError
	}
	if sum.AllCompleted() {
		return ExitOK
	}
	for _, o := range sum.NotCompleted() {
		if o.Result == wait.ResultUnfinished && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			fmt.Fprintf(stderr, "%s: stopped waiting after %s\n", name, timeout)
			break
		}
	}
	return ExitNotCompleted
}
