// Package cli holds what genwatch's commands (cmd/enqueue, cmd/genwatch)
// share: their exit codes; the connection flags --config, --redis-url,
// --queue and --json; loading the configuration with those flags winning
// over the environment, and the environment over the file; a Redis client
// whose errors never quote the URL's password; and the wait for
// generations to end behind `genwatch wait` and `enqueue --wait`.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/tasks"
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

// Redact returns the URL with its passwords replaced, for messages: the
// one before the host and, in the sentinel form, the password= of the
// query.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Where names the Redis that r configures, for messages, by its mode:
// "redis 127.0.0.1:6379 db 3", "redis sentinel mymaster via
// s1:26379,s2:26379 db 0" or "redis cluster n1:7001,n2:7002". It never
// includes a user name or a password.
func Where(r config.Redis) string {
	const unparsable = "redis (unparsable URL)"
	switch r.Mode {
	case config.RedisSentinel:
		opt, err := redis.ParseFailoverURL(r.URL)
		if err != nil {
			return unparsable
		}
		return fmt.Sprintf("redis sentinel %s via %s db %d", opt.MasterName, strings.Join(opt.SentinelAddrs, ","), opt.DB)
	case config.RedisCluster:
		opt, err := redis.ParseClusterURL(r.URL)
		if err != nil {
			return unparsable
		}
		return "redis cluster " + strings.Join(opt.Addrs, ",")
	default:
		opt, err := redis.ParseURL(r.URL)
		if err != nil {
			return unparsable
		}
		return fmt.Sprintf("redis %s db %d", opt.Addr, opt.DB)
	}
}

// NotTracked says that the generation with this task ID is not tracked
// where a command looked, by cfg: which Redis and queue, and why that may
// be.
func NotTracked(cfg config.Config, taskID string) string {
	return fmt.Sprintf("%s is not tracked on %s, queue %s (enqueued elsewhere, or ended more than %s ago?)",
		taskID, Where(cfg.Redis), cfg.Sharding().QueueOf(taskID), tasks.Approx(cfg.Retention))
}

// Wait runs wait.Run with cfg, for at most timeout when it is positive, and
// returns the exit code: ExitOK when every generation completed,
// ExitNotCompleted when one did not or the wait was cut short, ExitError
// when the generations' state could not be read. Problems go to stderr,
// prefixed with the command's name; a generation that is not tracked is
// said to be so on fleet's Redis and queue (see NotTracked).
func Wait(ctx context.Context, name string, fleet config.Config, cfg wait.Config, timeout time.Duration, stderr io.Writer) int {
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
	stopped := false
	for _, o := range sum.NotCompleted() {
		switch {
		case o.Result == wait.ResultNotTracked:
			fmt.Fprintf(stderr, "%s: %s\n", name, NotTracked(fleet, o.TaskID))
		case o.Result == wait.ResultUnfinished && !stopped && errors.Is(ctx.Err(), context.DeadlineExceeded):
			fmt.Fprintf(stderr, "%s: stopped waiting after %s\n", name, timeout)
			stopped = true
		}
	}
	return ExitNotCompleted
}

// FlushableRedis checks the --redis-url of a command that flushes its
// database (FLUSHDB), as the benchmarks do: it must parse, and database 0,
// most often a real one, is refused unless force. who names what flushes
// it in the message.
func FlushableRedis(rawURL string, force bool, who string) error {
	opt, err := redis.ParseURL(rawURL)
	switch {
	case err != nil:
		return fmt.Errorf("--redis-url: %w", err)
	case opt.DB == 0 && !force:
		return fmt.Errorf("--redis-url: refusing database 0, which %s flushes; name a dedicated database or pass --force", who)
	}
	return nil
}

// PrintJSON writes v to w as indented JSON, a report's --json form.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
