// Command genwatch shows, cancels and waits for tracked generations, for
// people and scripts.
//
//	$ genwatch status hooked:vid_abc123
//	$ genwatch cancel hoox:662f8c1d
//	$ genwatch wait --timeout 30m hooked:vid_abc123 hoox:662f8c1d
//
// A TASK_ID is <provider>:<generation_id>, as cmd/enqueue prints it;
// --provider and --id may stand for one. --json prints one JSON object a
// line. Run with --help for the flags and the exit codes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli"
	"github.com/genwatch/genwatch/internal/fleet"
	"github.com/genwatch/genwatch/internal/tasks"
	"github.com/genwatch/genwatch/internal/wait"
)

func main() {
	cli.QuietRedis()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

const usageText = `Usage:
  genwatch status [flags] TASK_ID...
  genwatch cancel [flags] TASK_ID...
  genwatch wait   [flags] TASK_ID...
  genwatch deliveries (list | replay | enable) [flags]

Shows, cancels and waits for tracked generations. A TASK_ID is
<provider>:<generation_id>, as enqueue prints it (hoox:662f8c1d); for one
generation, --provider NAME --id GENERATION_ID may stand instead. Flags
may come before or after the task IDs.

Commands:
  status  each generation's state: status, polls made, last progress,
          provider status, when the next poll is due, the last error, and
          its completion event once it has ended
  cancel  end each generation's tracking with a canceled event, whether it
          is waiting or being polled at that moment; one that has already
          ended keeps its event ("already ended: completed ...")
  wait    a live progress bar per generation (a line per change when the
          output is not a terminal) until each has ended, then how each
          ended and a summary
  deliveries  list failed webhook and Go handler deliveries, replay them,
          enable a webhook endpoint a 410 Gone disabled (see
          genwatch deliveries --help)

Exit codes:
  status, cancel  0 success (a cancel of an ended generation included),
                  2 invalid flags or a generation not tracked,
                  1 any other error (Redis unreachable, an archived task)
  wait            0 every generation completed, 3 any did not (failed,
                  timed out, canceled, not tracked, archived) or the wait
                  was cut short (--timeout, Ctrl-C), 2 invalid flags,
                  1 any other error

Run genwatch COMMAND --help for a command's flags and output.
`

// command is one of genwatch's commands.
type command struct {
	name, usage, about, jsonUsage string
	// exits says the command's exit codes.
	exits string
}

var (
	statusCommand = command{
		name:  "status",
		usage: "genwatch status [flags] TASK_ID...",
		about: `Shows each generation: its state (a word: queued, pending, running, ...,
then how it ended), the tracking task's state, polls made, last progress,
the provider's own status, when the next poll is due, the last error (what
it waits for), and its completion event once it has ended.`,
		jsonUsage: "print one JSON object a line: the generation (task_id, state, polls, progress, next_poll_at, last_error, event, ...), or {\"task_id\":...,\"error\":...}",
		exits: `0 success, 2 invalid flags or a generation not tracked,
1 any other error (Redis unreachable).`,
	}
	cancelCommand = command{
		name:  "cancel",
		usage: "genwatch cancel [flags] TASK_ID...",
		about: `Ends each generation's tracking with a canceled event, exactly once,
whether it is waiting for its next poll (it runs at once and ends) or being
polled (it ends when that poll does, canceled whatever the provider said).
Prints the canceled event, or "already ended: <status> ..." for a
generation that had ended, whose event stands.`,
		jsonUsage: "print one JSON object a line: {\"task_id\":...,\"canceled\":true|false,\"event\":{...}} (canceled false: it had already ended), or {\"task_id\":...,\"error\":...}",
		exits: `0 canceled or already ended, 2 invalid flags or a generation not
tracked, 1 any other error (Redis unreachable, an archived task).`,
	}
	waitCommand = command{
		name:  "wait",
		usage: "genwatch wait [flags] TASK_ID...",
		about: `Waits until every generation has ended, looking once a second. On a
terminal it draws a live progress bar per generation (task ID, state,
progress, polls); otherwise it prints a line whenever a generation's state
or progress changes. Then it prints how each ended (URL or error) and a
summary.`,
		jsonUsage: "print one JSON object a line: one per change, and a final one per generation (\"final\":true, \"result\", \"completed\", \"event\")",
		exits: `0 every generation completed, 3 any did not (failed, timed
out, canceled, not tracked, archived) or the wait was cut short (--timeout,
Ctrl-C), 2 invalid flags, 1 any other error (Redis unreachable).`,
	}
)

// run runs the command args name and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return cli.ExitUsage
	}
	var cmd command
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, usageText)
		return cli.ExitOK
	case statusCommand.name:
		cmd = statusCommand
	case cancelCommand.name:
		cmd = cancelCommand
	case waitCommand.name:
		cmd = waitCommand
	case "deliveries":
		return deliveries(ctx, args[1:], stdout, stderr, getenv)
	default:
		fmt.Fprintf(stderr, "genwatch: unknown command %q\nRun genwatch --help for usage.\n", args[0])
		return cli.ExitUsage
	}

	fs := flag.NewFlagSet("genwatch "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n  %s\n\n%s\n\nA TASK_ID is <provider>:<generation_id>; --provider and --id may stand for one.\n\nExit codes: %s\n\nFlags:\n", cmd.usage, cmd.about, cmd.exits)
		fs.PrintDefaults()
	}
	conn := cli.AddFlags(fs, cmd.jsonUsage)
	provider := fs.String("provider", "", "provider `name` of one generation (with --id): "+strings.Join(genwatch.Providers(), ", ")+", or one the configuration adds")
	id := fs.String("id", "", "the provider's generation `ID` (with --provider)")
	var timeout *time.Duration
	if cmd.name == waitCommand.name {
		timeout = fs.Duration("timeout", 0, "stop waiting after this `duration` (default no limit)")
	}
	positional, err := parseInterleaved(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "genwatch %s: "+format+"\n", append([]any{cmd.name}, a...)...)
		fmt.Fprintf(stderr, "Run genwatch %s --help for usage.\n", cmd.name)
		return cli.ExitUsage
	}

	var taskIDs []string
	switch {
	case (*provider != "" || *id != "") && len(positional) > 0:
		return usageError("give task IDs or --provider and --id, not both")
	case *provider != "" || *id != "":
		taskIDs = []string{genwatch.TaskID(*provider, *id)}
	case len(positional) == 0:
		return usageError("no generation given: give TASK_IDs (provider:generation_id), or --provider and --id")
	default:
		taskIDs = positional
	}
	if timeout != nil && *timeout < 0 {
		return usageError("--timeout must not be negative, got %s", *timeout)
	}

	cfg, err := conn.Config(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "genwatch %s: %v\n", cmd.name, err)
		return cli.ExitUsage
	}
	for _, t := range taskIDs {
		if err := checkTaskID(t, cfg.ProviderNames()); err != nil {
			return usageError("%v", err)
		}
	}
	rdb, err := cli.NewRedis(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "genwatch %s: %v\n", cmd.name, err)
		return cli.ExitUsage
	}
	defer rdb.Close()
	if err := cli.Ping(ctx, rdb, cfg.Redis.URL); err != nil {
		fmt.Fprintf(stderr, "genwatch %s: %v\n", cmd.name, err)
		return cli.ExitError
	}
	control := fleet.NewControl(rdb, cfg)
	out := output{w: stdout, stderr: stderr, prefix: "genwatch " + cmd.name + ": ", json: conn.JSON, fleet: cfg}

	switch cmd.name {
	case statusCommand.name:
		return status(ctx, control, taskIDs, out)
	case cancelCommand.name:
		return cancel(ctx, control, taskIDs, out)
	}
	format := wait.FormatAuto
	if conn.JSON {
		format = wait.FormatJSON
	}
	return cli.Wait(ctx, "genwatch wait", cfg, wait.Config{
		TaskIDs: taskIDs,
		Source:  control,
		Out:     stdout,
		Format:  format,
	}, *timeout, stderr)
}

// parseInterleaved parses fs from args, letting flags and positional
// arguments come in any order (a task ID never starts with "-"); after
// "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// checkTaskID checks that a task ID is <provider>:<generation_id> with a
// provider among known and a valid ID.
func checkTaskID(taskID string, known []string) error {
	provider, id, ok := strings.Cut(taskID, ":")
	if !ok {
		return fmt.Errorf("invalid task ID %q: want <provider>:<generation_id>", taskID)
	}
	err := genwatch.Request{Provider: provider, GenerationID: id}.ValidateFor(known)
	var invalid *genwatch.InvalidRequestError
	if errors.As(err, &invalid) {
		msgs := make([]string, len(invalid.Errs))
		for i, e := range invalid.Errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("invalid task ID %q: %s", taskID, strings.Join(msgs, "; "))
	}
	if err != nil {
		return fmt.Errorf("invalid task ID %q: %w", taskID, err)
	}
	return nil
}

// output writes a command's results: text or JSON lines on w, problems on
// stderr too.
type output struct {
	w, stderr io.Writer
	prefix    string
	json      bool
	// fleet is the configuration the command looked under, to say where a
	// generation is not tracked.
	fleet config.Config
	err   error
}

// errorLine is the JSON line for a generation that could not be shown or
// canceled.
type errorLine struct {
	TaskID     string `json:"task_id"`
	Error      string `json:"error"`
	NotTracked bool   `json:"not_tracked,omitempty"`
}

func (o *output) encode(v any) {
	if o.err != nil {
		return
	}
	enc := json.NewEncoder(o.w)
	enc.SetEscapeHTML(false)
	o.err = enc.Encode(v)
}

func (o *output) printf(format string, a ...any) {
	if o.err == nil {
		_, o.err = fmt.Fprintf(o.w, format, a...)
	}
}

// problem reports a generation's error and returns its exit code.
func (o *output) problem(taskID string, err error) int {
	notTracked := errors.Is(err, genwatch.ErrNotTracked)
	msg := err.Error()
	if notTracked {
		msg = cli.NotTracked(o.fleet, taskID)
	}
	fmt.Fprintf(o.stderr, "%s%s\n", o.prefix, msg)
	if o.json {
		o.encode(errorLine{TaskID: taskID, Error: msg, NotTracked: notTracked})
	}
	if notTracked {
		return cli.ExitUsage
	}
	return cli.ExitError
}

// exit combines the per-generation exit codes (an error wins over a
// generation not tracked) with the output's own failure.
func (o *output) exit(codes []int) int {
	if o.err != nil {
		fmt.Fprintf(o.stderr, "%swrite output: %v\n", o.prefix, o.err)
		return cli.ExitError
	}
	code := cli.ExitOK
	for _, c := range codes {
		switch {
		case c == cli.ExitError:
			return cli.ExitError
		case c != cli.ExitOK:
			code = c
		}
	}
	return code
}

func status(ctx context.Context, control *tasks.Control, taskIDs []string, out output) int {
	codes := make([]int, 0, len(taskIDs))
	shown := 0
	for _, id := range taskIDs {
		g, err := control.Status(ctx, id)
		if err != nil {
			codes = append(codes, out.problem(id, err))
			continue
		}
		codes = append(codes, cli.ExitOK)
		if out.json {
			out.encode(g)
			continue
		}
		if shown > 0 {
			out.printf("\n") // a blank line between blocks
		}
		shown++
		out.printf("%s", describe(g, time.Now()))
	}
	return out.exit(codes)
}

// describe writes the readable block for one generation.
func describe(g genwatch.Generation, now time.Time) string {
	var b strings.Builder
	b.WriteString(g.TaskID + "\n")
	field := func(name, format string, a ...any) {
		fmt.Fprintf(&b, "  %-16s %s\n", name+":", fmt.Sprintf(format, a...))
	}
	field("state", "%s (task %s)", wait.StateWord(g), g.State)
	if g.Provider != "" {
		field("generation", "%s %s, account %s", g.Provider, g.GenerationID, g.Account)
	}
	field("polls", "%d", g.Polls)
	if g.Progress != nil {
		field("progress", "%d%%", *g.Progress)
	}
	if g.ProviderStatus != "" {
		field("provider status", "%s", g.ProviderStatus)
	}
	if g.NextPollAt != nil {
		if d := g.NextPollAt.Sub(now); d > 0 {
			field("next poll", "in %s (%s)", d.Round(100*time.Millisecond), g.NextPollAt.UTC().Format(time.RFC3339))
		} else {
			field("next poll", "due now (%s)", g.NextPollAt.UTC().Format(time.RFC3339))
		}
	}
	if g.ETA != nil {
		if d := g.ETA.Sub(now); d >= time.Second {
			field("eta", "in ~%s (%s)", tasks.Approx(d), g.ETA.UTC().Format(time.RFC3339))
		} else {
			field("eta", "any moment (%s)", g.ETA.UTC().Format(time.RFC3339))
		}
	}
	if g.LastError != "" {
		field("last error", "%s", g.LastError)
	}
	if g.EnqueuedAt != nil {
		field("enqueued", "%s", g.EnqueuedAt.UTC().Format(time.RFC3339))
	}
	if ev := g.Event; ev != nil {
		field("event", "%s", wait.DescribeEvent(*ev))
		field("event id", "%s", ev.ID)
		field("detected", "%s", ev.DetectedAt.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// cancelLine is the JSON line for a cancel: Canceled is false when the
// generation had already ended, and Event is the event that stands.
type cancelLine struct {
	TaskID   string         `json:"task_id"`
	Canceled bool           `json:"canceled"`
	Event    genwatch.Event `json:"event"`
}

func cancel(ctx context.Context, control *tasks.Control, taskIDs []string, out output) int {
	codes := make([]int, 0, len(taskIDs))
	for _, id := range taskIDs {
		ev, mine, err := control.Cancel(ctx, id)
		if err != nil {
			codes = append(codes, out.problem(id, err))
			continue
		}
		codes = append(codes, cli.ExitOK)
		switch {
		case out.json:
			out.encode(cancelLine{TaskID: id, Canceled: mine, Event: ev})
		case mine:
			out.printf("%s: %s (event %s)\n", id, wait.DescribeEvent(ev), ev.ID)
		default:
			out.printf("%s: already ended: %s (event %s)\n", id, wait.DescribeEvent(ev), ev.ID)
		}
	}
	return out.exit(codes)
}
