package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/genwatch/genwatch/internal/cli"
	"github.com/genwatch/genwatch/internal/fleet"
	"github.com/genwatch/genwatch/internal/sink"
)

const deliveriesUsage = `Usage:
  genwatch deliveries list   [--sink SINK] [flags]
  genwatch deliveries replay --sink SINK EVENT_ID... [flags]
  genwatch deliveries replay [--sink SINK] --all [flags]
  genwatch deliveries enable ENDPOINT [flags]

Failed deliveries are those to a webhook endpoint or a Go handler that
gave up: after the last retry (about a day), at once for a 4xx other than
408, 409, 425 and 429, or while their endpoint was disabled. A SINK is
webhook:<endpoint> or handler:<name>.

Commands:
  list    failed deliveries (sink, event ID, attempts, when the last
          failed, why), and the webhook endpoints disabled by a 410 Gone
  replay  deliver again now: the given events of one sink, or --all of one
          sink (or of every sink without --sink); a replay that fails is
          retried, then listed again
  enable  enable a webhook endpoint that a 410 Gone disabled, for the whole
          fleet; replay its deliveries afterwards

Exit codes: 0 success, 2 invalid flags or an unknown sink, 1 any other
error (Redis unreachable, an event without a failed delivery).

Flags:
`

// deliveries runs "genwatch deliveries ...".
func deliveries(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	fs := flag.NewFlagSet("genwatch deliveries", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), deliveriesUsage)
		fs.PrintDefaults()
	}
	conn := cli.AddFlags(fs, "print one JSON object a line")
	route := fs.String("sink", "", "only this `sink`: webhook:<endpoint> or handler:<name>")
	all := fs.Bool("all", false, "replay: every failed delivery (of --sink, or of every sink)")
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "genwatch deliveries: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run genwatch deliveries --help for usage.")
		return cli.ExitUsage
	}
	if len(args) == 0 {
		return usageError("no command given: list, replay or enable")
	}
	if h := args[0]; h == "-h" || h == "-help" || h == "--help" || h == "help" {
		fs.Usage()
		return cli.ExitOK
	}
	sub := args[0]
	positional, err := parseInterleaved(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	switch sub {
	case "list":
		if len(positional) > 0 || *all {
			return usageError("list takes no arguments but --sink")
		}
	case "replay":
		switch {
		case *all && len(positional) > 0:
			return usageError("give event IDs or --all, not both")
		case !*all && len(positional) == 0:
			return usageError("replay what? give event IDs (with --sink) or --all")
		case !*all && *route == "":
			return usageError("replaying event IDs needs --sink")
		}
	case "enable":
		if len(positional) != 1 || *route != "" || *all {
			return usageError("enable takes one endpoint name")
		}
	default:
		return usageError("unknown command %q: want list, replay or enable", sub)
	}

	cfg, err := conn.Config(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "genwatch deliveries: %v\n", err)
		return cli.ExitUsage
	}
	rdb, err := cli.NewRedis(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "genwatch deliveries: %v\n", err)
		return cli.ExitUsage
	}
	defer rdb.Close()
	if err := cli.Ping(ctx, rdb, cfg.Redis.URL); err != nil {
		fmt.Fprintf(stderr, "genwatch deliveries: %v\n", err)
		return cli.ExitError
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "genwatch deliveries %s: %v\n", sub, err)
		if errors.Is(err, sink.ErrUnknownRoute) {
			return cli.ExitUsage
		}
		return cli.ExitError
	}
	endpoints := fleet.NewEndpoints(rdb, cfg)
	d := fleet.NewDeliveries(rdb, cfg)

	switch sub {
	case "enable":
		was, err := endpoints.Enable(ctx, positional[0])
		if err != nil {
			return fail(err)
		}
		if conn.JSON {
			return printJSON(stdout, stderr, map[string]any{"endpoint": positional[0], "enabled": true, "was_disabled": was})
		}
		if was {
			fmt.Fprintf(stdout, "endpoint %s enabled; replay its failed deliveries with: genwatch deliveries replay --sink webhook:%s --all\n", positional[0], positional[0])
		} else {
			fmt.Fprintf(stdout, "endpoint %s was not disabled\n", positional[0])
		}
		return cli.ExitOK
	case "replay":
		n, err := d.Replay(*route, positional)
		if conn.JSON {
			if code := printJSON(stdout, stderr, map[string]any{"replayed": n}); code != cli.ExitOK {
				return code
			}
		} else {
			fmt.Fprintf(stdout, "replayed %d deliveries\n", n)
		}
		if err != nil {
			return fail(err)
		}
		return cli.ExitOK
	}

	disabled, err := endpoints.List(ctx)
	if err != nil {
		return fail(err)
	}
	failed, err := d.List(*route)
	if err != nil {
		return fail(err)
	}
	if conn.JSON {
		for _, name := range slices.Sorted(maps.Keys(disabled)) {
			x := disabled[name]
			row := struct {
				Endpoint   string    `json:"endpoint"`
				DisabledAt time.Time `json:"disabled_at"`
				Reason     string    `json:"reason"`
			}{name, x.At, x.Reason}
			if code := printJSON(stdout, stderr, row); code != cli.ExitOK {
				return code
			}
		}
		for _, f := range failed {
			if code := printJSON(stdout, stderr, f); code != cli.ExitOK {
				return code
			}
		}
		return cli.ExitOK
	}
	for _, name := range slices.Sorted(maps.Keys(disabled)) {
		x := disabled[name]
		fmt.Fprintf(stdout, "endpoint %s DISABLED since %s (%s): genwatch deliveries enable %s\n",
			name, x.At.Format(time.RFC3339), x.Reason, name)
	}
	if len(failed) == 0 {
		fmt.Fprintln(stdout, "no failed deliveries")
		return cli.ExitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tEVENT_ID\tATTEMPTS\tFAILED_AT\tLAST_ERROR")
	for _, f := range failed {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", f.Route, f.EventID, f.Attempts, f.FailedAt.Format(time.RFC3339), oneLine(f.LastErr))
	}
	if err := tw.Flush(); err != nil {
		return fail(err)
	}
	return cli.ExitOK
}

func printJSON(stdout, stderr io.Writer, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(stderr, "genwatch deliveries: %v\n", err)
		return cli.ExitError
	}
	fmt.Fprintln(stdout, string(b))
	return cli.ExitOK
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
