// Command enqueue starts tracking generations: it validates tracking
// requests and enqueues them as generation:poll tasks for the genwatch
// workers.
//
// One generation, by flags:
//
//	$ enqueue --provider hoox --id 662f8c1d --metadata '{"order":42}' --max-wait 10m
//	hoox:662f8c1d
//
// Many, as JSON lines (one contract payload object a line), from a file or
// from standard input:
//
//	$ enqueue --file batch.jsonl
//	$ producer | enqueue --json -
//
// Every line of a batch is validated before anything is enqueued: if one is
// invalid, each problem is printed as "line N: <message>" and nothing reaches
// Redis. A generation that is already tracked, or that ended within the
// retention window, is reported as "already tracked" and counts as success.
//
// Exit codes: 0 success, 2 invalid input or flags, 1 Redis or enqueue failure.
// Run with --help for the flags and the rule for accounts.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/config"
)

func main() {
	// Connection failures are reported once, by run, in its own words;
	// go-redis would also log each failed dial to stderr.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// Exit codes of run.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// maxLineBytes is the longest JSON line read from a batch: far above a
// request with the largest metadata the contract allows.
const maxLineBytes = 1 << 20

const usageText = `Usage:
  enqueue [flags] --provider NAME --id GENERATION_ID [--account A] [--metadata JSON] [--max-wait D]
  enqueue [flags] --file FILE      (FILE "-" reads standard input)
  enqueue [flags] -                (same as --file -)

Starts tracking generations: validates each request and enqueues it as a
generation:poll task with task ID <provider>:<generation_id>.

A batch holds one tracking request a line, as the JSON payload object of
the contract (provider, generation_id, account, metadata, max_wait_seconds,
enqueued_at); blank lines are skipped. Every line is validated first: if any
is invalid, each problem is printed as "line N: <message>" and nothing is
enqueued. Should Redis fail part-way through a batch, running the same batch
again is safe: generations already enqueued are reported as already tracked.

Accounts: a request's account (empty means "default") must be known before
it is enqueued. For a provider with accounts in the configuration (--config
file, or GENWATCH_<PROVIDER>_API_KEY for "default"), only those accounts are
accepted. For a provider with none configured, as on a host that holds no API
keys, only "default" is accepted.

Output: one line per generation, its task ID, followed by " (already
tracked)" when it was being tracked or ended within the retention window;
with --json, one object a line: {"task_id":"...","already_tracked":false}.

Exit codes: 0 success (including already tracked), 2 invalid input or flags,
1 Redis or enqueue failure.

Flags:
`

// result is one line of --json output.
type result struct {
	TaskID         string `json:"task_id"`
	AlreadyTracked bool   `json:"already_tracked"`
}

// numbered is a valid request of a batch, with its line number.
type numbered struct {
	line int
	req  genwatch.Request
}

// run enqueues what args ask for and returns the process exit code. Results
// go to stdout, problems to stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	fs := flag.NewFlagSet("enqueue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "YAML configuration `file`, the workers' (see config/genwatch.example.yaml); GENWATCH_* variables override it")
	redisURL := fs.String("redis-url", "", "redis:// or rediss:// `URL` (overrides GENWATCH_REDIS_URL and the file)")
	queue := fs.String("queue", "", "asynq `queue` (overrides GENWATCH_QUEUE and the file; default genwatch)")
	jsonOut := fs.Bool("json", false, "print one JSON object a line: {\"task_id\":...,\"already_tracked\":...}")
	file := fs.String("file", "", "read requests as JSON lines from `FILE`; - is standard input")
	provider := fs.String("provider", "", "provider `name`: hoox, hooked or token360")
	id := fs.String("id", "", "the provider's generation `ID`")
	account := fs.String("account", "", "configured `account` of the provider (default \"default\")")
	metadata := fs.String("metadata", "", "`JSON` object copied into the completion event, at most 16 KiB")
	maxWait := fs.Duration("max-wait", 0, "stop tracking this `duration` after enqueueing, whole seconds (default the workers' max_wait)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "enqueue: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run enqueue --help for usage.")
		return exitUsage
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch rest := fs.Args(); {
	case len(rest) == 1 && rest[0] == "-":
		if *file != "" && *file != "-" {
			return usageError("give --file or -, not both")
		}
		*file = "-"
	case len(rest) > 0:
		return usageError("unexpected argument %q (flags go before -)", rest[0])
	}
	single := set["provider"] || set["id"] || set["account"] || set["metadata"] || set["max-wait"]
	switch {
	case *file != "" && single:
		return usageError("--provider, --id, --account, --metadata and --max-wait cannot be combined with a batch (--file or -)")
	case *file == "" && !single:
		return usageError("nothing to enqueue: give --provider and --id, or --file")
	case *maxWait%time.Second != 0:
		return usageError("--max-wait must be whole seconds, got %s", *maxWait)
	}

	overrides := map[string]string{}
	if set["redis-url"] {
		overrides["GENWATCH_REDIS_URL"] = *redisURL
	}
	if set["queue"] {
		overrides["GENWATCH_QUEUE"] = *queue
	}
	cfg, err := config.Load(*configPath, overlay(getenv, overrides))
	if err != nil {
		fmt.Fprintln(stderr, "enqueue:", err)
		return exitUsage
	}
	opt, err := parseRedisURL(cfg.Redis.URL)
	if err != nil {
		fmt.Fprintln(stderr, "enqueue:", err)
		return exitUsage
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	v := validator{
		client: genwatch.NewClient(asynq.NewClientFromRedisClient(rdb), genwatch.ClientConfig{
			Queue:     cfg.Queue,
			Retention: cfg.Retention,
			Accounts:  acceptedAccounts(cfg),
		}),
		configured: cfg.Accounts(),
	}

	var reqs []numbered
	if single {
		req := genwatch.Request{
			Provider:       *provider,
			GenerationID:   *id,
			Account:        *account,
			MaxWaitSeconds: int64(*maxWait / time.Second),
		}
		if *metadata != "" {
			req.Metadata = json.RawMessage(*metadata)
		}
		if problems := v.check(req, nil); len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(stderr, "enqueue: invalid request:", p)
			}
			return exitUsage
		}
		reqs = []numbered{{req: req}}
	} else {
		var problems []string
		reqs, problems, err = readBatch(*file, stdin, v)
		if err != nil {
			fmt.Fprintln(stderr, "enqueue:", err)
			return exitUsage
		}
		if len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(stderr, p)
			}
			fmt.Fprintf(stderr, "enqueue: invalid requests in %s; nothing was enqueued\n", sourceName(*file))
			return exitUsage
		}
	}
	if len(reqs) == 0 {
		return exitOK
	}

	if err := rdb.Ping(ctx).Err(); err != nil {
		fmt.Fprintf(stderr, "enqueue: cannot reach Redis at %s: %v; nothing was enqueued\n", redact(cfg.Redis.URL), err)
		return exitError
	}
	return track(ctx, v.client, reqs, newPrinter(stdout, *jsonOut), stderr, redact(cfg.Redis.URL))
}

// track enqueues reqs in order, printing each result, and stops at the
// first failure.
func track(ctx context.Context, client *genwatch.Client, reqs []numbered, out printer, stderr io.Writer, redisAddr string) int {
	for i, r := range reqs {
		res, err := client.Track(ctx, r.req)
		if err != nil {
			where := ""
			if r.line > 0 {
				where = fmt.Sprintf("line %d: ", r.line)
			}
			fmt.Fprintf(stderr, "enqueue: %s%v (Redis at %s)\n", where, err, redisAddr)
			if len(reqs) > 1 {
				fmt.Fprintf(stderr, "enqueue: %d of %d requests were done before the failure; running the same batch again is safe\n", i, len(reqs))
			}
			return exitError
		}
		if err := out.print(res); err != nil {
			fmt.Fprintln(stderr, "enqueue: write output:", err)
			return exitError
		}
	}
	return exitOK
}

// overlay returns getenv with the variables in overrides replaced, so that
// flags win over the environment and the file, and config.Load still
// validates them.
func overlay(getenv func(string) (string, bool), overrides map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := overrides[name]; ok {
			return v, true
		}
		if getenv == nil {
			return "", false
		}
		return getenv(name)
	}
}

// acceptedAccounts returns the accounts the CLI accepts for each provider:
// the configured ones, or only "default" for a provider with none
// configured (a host without API keys cannot know the workers' accounts,
// but every deployment is expected to have a default one).
func acceptedAccounts(cfg config.Config) map[string][]string {
	accepted := cfg.Accounts()
	for _, name := range genwatch.Providers() {
		if len(accepted[name]) == 0 {
			accepted[name] = []string{genwatch.DefaultAccount}
		}
	}
	return accepted
}

// validator checks requests with the client's rules and words the
// problems for an operator.
type validator struct {
	client *genwatch.Client
	// configured lists the accounts the configuration names, by provider.
	configured map[string][]string
}

// check returns every problem of req, or of decodeErr when the request
// could not be decoded.
func (v validator) check(req genwatch.Request, decodeErr error) []string {
	err := decodeErr
	if err == nil {
		err = v.client.Validate(req)
	}
	if err == nil {
		return nil
	}
	var invalid *genwatch.InvalidRequestError
	if !errors.As(err, &invalid) {
		return []string{err.Error()}
	}
	problems := make([]string, 0, len(invalid.Errs))
	for _, e := range invalid.Errs {
		msg := e.Error()
		if errors.Is(e, genwatch.ErrUnknownAccount) && len(v.configured[req.Provider]) == 0 {
			msg += fmt.Sprintf("; no accounts are configured for %s here, so only %q is accepted (pass the workers' --config)", req.Provider, genwatch.DefaultAccount)
		}
		problems = append(problems, msg)
	}
	return problems
}

// readBatch reads and validates every request of the batch at path ("-"
// for stdin). Problems are "line N: <message>", one a problem; the error
// is for a batch that cannot be read at all.
func readBatch(path string, stdin io.Reader, v validator) ([]numbered, []string, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read batch: %w", err)
		}
		defer f.Close()
		r = f
	}
	var (
		reqs     []numbered
		problems []string
		n        int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		req, err := genwatch.DecodeRequest(line)
		if p := v.check(req, err); len(p) > 0 {
			for _, msg := range p {
				problems = append(problems, fmt.Sprintf("line %d: %s", n, msg))
			}
			continue
		}
		reqs = append(reqs, numbered{line: n, req: req})
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		problems = append(problems, fmt.Sprintf("line %d: longer than %d bytes; reading stopped here", n+1, maxLineBytes))
	case err != nil:
		return nil, nil, fmt.Errorf("read %s: %w", sourceName(path), err)
	}
	return reqs, problems, nil
}

func sourceName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}

// parseRedisURL parses a Redis URL without ever quoting it in an error, as
// it may hold a password.
func parseRedisURL(raw string) (*redis.Options, error) {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("redis URL %s: %w", redact(raw), err)
	}
	return opt, nil
}

// redact returns the URL with its password replaced, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// printer writes one line per result.
type printer struct {
	w    io.Writer
	json *json.Encoder
}

func newPrinter(w io.Writer, asJSON bool) printer {
	p := printer{w: w}
	if asJSON {
		p.json = json.NewEncoder(w)
		p.json.SetEscapeHTML(false)
	}
	return p
}

func (p printer) print(res genwatch.TrackResult) error {
	if p.json != nil {
		return p.json.Encode(result{TaskID: res.TaskID, AlreadyTracked: res.AlreadyTracked})
	}
	line := res.TaskID
	if res.AlreadyTracked {
		line += " (already tracked)"
	}
	_, err := fmt.Fprintln(p.w, line)
	return err
}
