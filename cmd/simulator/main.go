// Command simulator serves imitations of the Hoox, Hooked and Token360
// status APIs on one address, so that genwatch can be run and demonstrated
// without real provider credentials.
//
// It prints the base URLs to export before starting genwatch:
//
//	$ go run ./cmd/simulator
//	GENWATCH_HOOX_BASE_URL=http://127.0.0.1:8089
//	GENWATCH_HOOKED_BASE_URL=http://127.0.0.1:8089
//	GENWATCH_TOKEN360_BASE_URL=http://127.0.0.1:8089
//
// With --auto (the default), any ID is created on its first request, and its
// prefix chooses its fate: fail-, never-, missing-, slow- and late- (see the
// internal/simulator package comment). It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/genwatch/genwatch/internal/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes of run.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// shutdownTimeout bounds how long requests in flight may take to finish
// once the simulator is asked to stop.
const shutdownTimeout = 5 * time.Second

// run serves until ctx is done, and returns the process exit code. The base
// URLs go to stdout, everything else to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: simulator [flags]\n\nServes the Hoox, Hooked and Token360 status APIs for genwatch.\n\nFlags:")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8089", "`address` to listen on")
	auto := fs.Bool("auto", true, "create unknown IDs on their first request, their fate chosen by the ID's prefix")
	keys := map[string]*string{
		simulator.Hoox:     fs.String("hoox-key", "", "the one API `key` Hoox accepts (default any non-empty key)"),
		simulator.Hooked:   fs.String("hooked-key", "", "the one API `key` Hooked accepts (default any non-empty key)"),
		simulator.Token360: fs.String("token360-key", "", "the one API `key` Token360 accepts (default any non-empty key)"),
	}
	errorRate := fs.Float64("error-rate", 0, "`fraction` of requests answered 500, 502 or 503, from 0 to 1")
	latency := fs.Duration("latency", 0, "`delay` before every answer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if err := validate(fs, *errorRate, *latency); err != nil {
		fmt.Fprintln(stderr, "simulator:", err)
		fs.Usage()
		return exitUsage
	}

	cfg := simulator.Config{AutoCreate: *auto, Keys: map[string]string{}}
	for provider, key := range keys {
		if *key != "" {
			cfg.Keys[provider] = *key
		}
	}
	sim := simulator.New(cfg)
	for provider := range keys {
		sim.SetFaults(provider, simulator.Faults{ErrorRate: *errorRate, Latency: *latency})
	}

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "simulator:", err)
		return exitError
	}
	base := baseURL(ln.Addr())
	fmt.Fprintf(stdout, "GENWATCH_HOOX_BASE_URL=%s\nGENWATCH_HOOKED_BASE_URL=%s\nGENWATCH_TOKEN360_BASE_URL=%s\n", base, base, base)
	fmt.Fprintf(stderr, "simulator: serving on %s; IDs prefixed fail-, never-, missing-, slow- or late- misbehave; interrupt to stop\n", base)

	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintln(stderr, "simulator:", err)
		return exitError
	case <-ctx.Done():
	}

	sim.Close() // answer held requests, or Shutdown would wait for them
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(stderr, "simulator: shut down:", err)
		return exitError
	}
	fmt.Fprintf(stderr, "simulator: stopped after %d requests\n", sim.TotalRequests())
	return exitOK
}

func validate(fs *flag.FlagSet, errorRate float64, latency time.Duration) error {
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if !(errorRate >= 0 && errorRate <= 1) {
		errs = append(errs, fmt.Errorf("--error-rate %v: want a fraction from 0 to 1", errorRate))
	}
	if latency < 0 {
		errs = append(errs, fmt.Errorf("--latency %v: want a non-negative duration", latency))
	}
	return errors.Join(errs...)
}

// baseURL returns the URL a client on this machine reaches addr at: a
// wildcard listen address is reached on the loopback address.
func baseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
