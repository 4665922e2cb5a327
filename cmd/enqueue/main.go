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
// With --wait, it then waits for every generation to end, as `genwatch
// wait` does, with a live progress bar each:
//
//	$ enqueue --wait --wait-timeout 30m --provider hooked --id vid_abc123
//
// Exit codes: 0 success, 2 invalid input or flags, 1 Redis or enqueue failure;
// with --wait, 0 only when every generation completed and 3 when one did not.
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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/cli"
	"github.com/genwatch/genwatch/internal/fleet"
	"github.com/genwatch/genwatch/internal/wait"
)

func main() {
	cli.QuietRedis()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// Exit codes of run (see package cli).
const (
	exitOK           = cli.ExitOK
	exitError        = cli.ExitError
	exitUsage        = cli.ExitUsage
	exitNotCompleted = cli.ExitNotCompleted
)

// maxLineBytes is the longest JSON line read from a batch: far above a
// request with the largest metadata the contract allows.
const maxLineBytes = 1 << 20

const usageText = `Usage:
  enqueue [flags] --provider NAME --id GENERATION_ID [--account A] [--metadata JSON] [--max-wait D] [--expected D]
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

--wait: once everything is enqueued, wait for every generation (those
already tracked included) to end, as "genwatch wait" does: a live progress
bar each on a terminal, a line per change otherwise, then how each ended and
a summary; with --json, wait's objects follow the enqueue ones, one per
change and a final one per generation with its completion event.
--wait-timeout stops waiting after that long.

Exit codes: 0 success (including already tracked), 2 invalid input or flags,
1 Redis or enqueue failure. With --wait: 0 only when every generation
completed, 3 when any did not (failed, timed out, canceled, archived) or the
wait was cut short (--wait-timeout, Ctrl-C).

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
	conn := cli.AddFlags(fs, "print one JSON object a line: {\"task_id\":...,\"already_tracked\":...}")
	file := fs.String("file", "", "read requests as JSON lines from `FILE`; - is standard input")
	provider := fs.String("provider", "", "provider `name`: hoox, hooked or token360")
	id := fs.String("id", "", "the provider's generation `ID`")
	account := fs.String("account", "", "configured `account` of the provider (default \"default\")")
	metadata := fs.String("metadata", "", "`JSON` object copied into the completion event, at most 16 KiB")
	maxWait := fs.Duration("max-wait", 0, "stop tracking this `duration` after enqueueing, whole seconds (default the workers' max_wait)")
	expected := fs.Duration("expected", 0, "how long the job is expected to take from now, whole seconds (for example the provider's estimate): a hint for pacing polls, never a deadline")
	waitEnd := fs.Bool("wait", false, "after enqueueing, wait for every generation to end; exit 3 if any did not complete")
	waitTimeout := fs.Duration("wait-timeout", 0, "with --wait, stop waiting after this `duration` (default no limit)")
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
	single := set["provider"] || set["id"] || set["account"] || set["metadata"] || set["max-wait"] || set["expected"]
	switch {
	case *file != "" && single:
		return usageError("--provider, --id, --account, --metadata, --max-wait and --expected cannot be combined with a batch (--file or -)")
	case *file == "" && !single:
		return usageError("nothing to enqueue: give --provider and --id, or --file")
	case *maxWait%time.Second != 0:
		return usageError("--max-wait must be whole seconds, got %s", *maxWait)
	case *expected%time.Second != 0:
		return usageError("--expected must be whole seconds, got %s", *expected)
	case set["wait-timeout"] && !*waitEnd:
		return usageError("--wait-timeout needs --wait")
	case *waitTimeout < 0:
		return usageError("--wait-timeout must not be negative, got %s", *waitTimeout)
	}

	cfg, err := conn.Config(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "enqueue:", err)
		return exitUsage
	}
	rdb, err := cli.NewRedis(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "enqueue:", err)
		return exitUsage
	}
	defer rdb.Close()
	v := validator{
		client:     genwatch.NewClient(asynq.NewClientFromRedisClient(rdb), cfg.ClientConfig()),
		configured: cfg.Accounts(),
	}

	var reqs []numbered
	if single {
		req := genwatch.Request{
			Provider:        *provider,
			GenerationID:    *id,
			Account:         *account,
			MaxWaitSeconds:  int64(*maxWait / time.Second),
			ExpectedSeconds: int64(*expected / time.Second),
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

	if err := cli.Ping(ctx, rdb, cfg.Redis.URL); err != nil {
		fmt.Fprintf(stderr, "enqueue: %v; nothing was enqueued\n", err)
		return exitError
	}
	taskIDs, code := track(ctx, v.client, reqs, newPrinter(stdout, conn.JSON), stderr, cli.Redact(cfg.Redis.URL))
	if code != exitOK || !*waitEnd {
		return code
	}
	format := wait.FormatAuto
	if conn.JSON {
		format = wait.FormatJSON
	}
	return cli.Wait(ctx, "enqueue", cfg, wait.Config{
		TaskIDs: taskIDs,
		Source:  fleet.NewControl(rdb, cfg),
		Out:     stdout,
		Format:  format,
	}, *waitTimeout, stderr)
}

// track enqueues reqs in order, printing each result, and stops at the
// first failure. It returns the task IDs enqueued or already tracked.
func track(ctx context.Context, client *genwatch.Client, reqs []numbered, out printer, stderr io.Writer, redisAddr string) ([]string, int) {
	taskIDs := make([]string, 0, len(reqs))
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
			return taskIDs, exitError
		}
		if err := out.print(res); err != nil {
			fmt.Fprintln(stderr, "enqueue: write output:", err)
			return taskIDs, exitError
		}
		taskIDs = append(taskIDs, res.TaskID)
	}
	return taskIDs, exitOK
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
