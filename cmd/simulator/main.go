// Command simulator serves imitations of the Hoox, Hooked and Token360
// status APIs on one address, so that genwatch can be run and demonstrated
// without real provider credentials. With --config it serves the providers
// of a genwatch configuration instead, those declared in it or added as
// OpenAI-compatible videos APIs included, each under "/<name>", so that a
// provider can be tried before genwatch is pointed at the real API:
//
//	$ go run ./cmd/simulator --config genwatch.yaml
//	GENWATCH_ACME_BASE_URL=http://127.0.0.1:8089/acme
//	GENWATCH_HOOKED_BASE_URL=http://127.0.0.1:8089
//	...
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
// internal/simulator package comment). Fault flags make every provider
// misbehave the same way:
//
//	$ go run ./cmd/simulator --status-rate 502=0.02 --status-rate 503=0.03 \
//	    --rate-limit-rate 0.02 --retry-after 2s --burst 5s --burst-every 1m \
//	    --hang-rate 0.01 --malformed-rate 0.02 --truncate-rate 0.02 \
//	    --slow-body-rate 0.05 --slow-body 3s
//
// Webhook flags make it call back like the providers when a generation
// ends, POSTing the provider's status body to a URL, here genwatch's hook
// endpoint, with a seeded fraction lost, premature or late:
//
//	$ go run ./cmd/simulator --seed 1 \
//	    --webhook hooked=http://127.0.0.1:8090/v1/hooks/hooked/$GENWATCH_HOOKS_TOKEN \
//	    --webhook-delay 200ms --webhook-lost-rate 0.05 --webhook-premature-rate 0.03
//
// It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/providers/builtin"
	"github.com/genwatch/genwatch/internal/providers/declared"
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
		fmt.Fprintf(fs.Output(), "Usage: simulator [flags]\n\nServes the status APIs of %s for genwatch.\n\nFlags:\n", strings.Join(genwatch.Providers(), ", "))
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:8089", "`address` to listen on")
	configPath := fs.String("config", "", "genwatch configuration `file` whose providers to serve, those declared in it or added as OpenAI-compatible videos APIs included (default the built-in ones)")
	auto := fs.Bool("auto", true, "create unknown IDs on their first request, their fate chosen by the ID's prefix")
	keys := map[string]*string{}
	for _, name := range genwatch.Providers() {
		keys[name] = fs.String(name+"-key", "", "the one API `key` "+name+" accepts (default any non-empty key)")
	}
	var faults simulator.Faults
	fs.Float64Var(&faults.ErrorRate, "error-rate", 0, "`fraction` of requests answered 500, 502 or 503, from 0 to 1")
	statusRates := statusRateFlag{}
	fs.Var(statusRates, "status-rate", "answer a fraction of requests with a status, given as `CODE=FRACTION` (repeatable, e.g. 503=0.02)")
	fs.Float64Var(&faults.RateLimitRate, "rate-limit-rate", 0, "`fraction` of requests answered 429")
	fs.DurationVar(&faults.RetryAfter, "retry-after", 0, "Retry-After sent with every 429 (`delay`, rounded up to seconds; 0 sends none)")
	fs.DurationVar(&faults.RateLimitBurst, "burst", 0, "answer every request 429 for this `duration` from the start")
	fs.DurationVar(&faults.RateLimitEvery, "burst-every", 0, "start another --burst at this `interval`")
	fs.DurationVar(&faults.Latency, "latency", 0, "`delay` before every answer")
	fs.Float64Var(&faults.HangRate, "hang-rate", 0, "`fraction` of requests never answered")
	fs.Float64Var(&faults.MalformedRate, "malformed-rate", 0, "`fraction` of answers cut to half their body (invalid JSON)")
	fs.Float64Var(&faults.TruncateRate, "truncate-rate", 0, "`fraction` of answers whose connection drops halfway through the body")
	fs.Float64Var(&faults.SlowBodyRate, "slow-body-rate", 0, "`fraction` of answers whose body trickles out over --slow-body")
	fs.DurationVar(&faults.SlowBody, "slow-body", 5*time.Second, "the `duration` of a slow body")
	seed := fs.Int64("seed", 0, "`seed` of the random faults and webhook fates")
	hooks := webhookFlag{}
	fs.Var(hooks, "webhook", "when a generation ends, POST the provider's status body to a URL, given as `PROVIDER=URL` (repeatable)")
	var callbacks simulator.Callbacks
	fs.DurationVar(&callbacks.Delay, "webhook-delay", 0, "send each webhook this `delay` after its generation ends")
	fs.Float64Var(&callbacks.LostRate, "webhook-lost-rate", 0, "`fraction` of webhooks never sent")
	fs.Float64Var(&callbacks.PrematureRate, "webhook-premature-rate", 0, "`fraction` of webhooks sent --webhook-premature before the generation ends")
	fs.DurationVar(&callbacks.Premature, "webhook-premature", simulator.DefaultPremature, "how long before the end a premature webhook is sent (`duration`)")
	fs.Float64Var(&callbacks.LateRate, "webhook-late-rate", 0, "`fraction` of webhooks sent --webhook-late after the others")
	fs.DurationVar(&callbacks.Late, "webhook-late", simulator.DefaultLate, "how much later a late webhook is sent (`duration`)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(statusRates) > 0 {
		faults.StatusRates = statusRates
	}
	if err := errors.Join(validate(fs, faults), validateCallbacks(callbacks)); err != nil {
		fmt.Fprintln(stderr, "simulator:", err)
		fs.Usage()
		return exitUsage
	}

	if len(hooks) > 0 {
		callbacks.URLs = hooks
	}
	cfg := simulator.Config{AutoCreate: *auto, Keys: map[string]string{}, Seed: *seed, Callbacks: callbacks,
		Providers: builtin.Definitions()}
	if *configPath != "" {
		gw, err := config.Load(*configPath, nil)
		if err != nil {
			fmt.Fprintln(stderr, "simulator:", err)
			return exitUsage
		}
		cfg.Providers = declared.Definitions(gw)
	}
	for provider, key := range keys {
		if *key != "" {
			cfg.Keys[provider] = *key
		}
	}
	sim := simulator.New(cfg)
	for _, d := range cfg.Providers {
		sim.SetFaults(d.Name, faults)
	}

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "simulator:", err)
		return exitError
	}
	base := baseURL(ln.Addr())
	for _, d := range cfg.Providers {
		// A built-in provider at the root; one configured without code
		// under its name, as its path may be a built-in one's.
		url := base
		if _, ok := builtin.Lookup(d.Name); !ok {
			url += "/" + d.Name
		}
		fmt.Fprintf(stdout, "GENWATCH_%s_BASE_URL=%s\n", strings.ToUpper(d.Name), url)
	}
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
	fmt.Fprintf(stderr, "simulator: stopped after %d requests, %d of them faulted\n", sim.TotalRequests(), sim.InjectedFaults().Total())
	return exitOK
}

func validate(fs *flag.FlagSet, f simulator.Faults) error {
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	fraction := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			errs = append(errs, fmt.Errorf("--%s %v: want a fraction from 0 to 1", name, v))
		}
	}
	fraction("error-rate", f.ErrorRate)
	fraction("rate-limit-rate", f.RateLimitRate)
	fraction("hang-rate", f.HangRate)
	fraction("malformed-rate", f.MalformedRate)
	fraction("truncate-rate", f.TruncateRate)
	fraction("slow-body-rate", f.SlowBodyRate)
	sum := 0.0
	for _, rate := range f.StatusRates {
		sum += rate
	}
	if sum > 1 {
		errs = append(errs, fmt.Errorf("--status-rate: the fractions add up to %v, more than 1", sum))
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"latency", f.Latency}, {"retry-after", f.RetryAfter}, {"burst", f.RateLimitBurst},
		{"burst-every", f.RateLimitEvery}, {"slow-body", f.SlowBody},
	}
	for _, d := range durations {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("--%s %v: want a non-negative duration", d.name, d.d))
		}
	}
	return errors.Join(errs...)
}

func validateCallbacks(c simulator.Callbacks) error {
	var errs []error
	for name, v := range map[string]float64{
		"webhook-lost-rate": c.LostRate, "webhook-premature-rate": c.PrematureRate, "webhook-late-rate": c.LateRate,
	} {
		if !(v >= 0 && v <= 1) {
			errs = append(errs, fmt.Errorf("--%s %v: want a fraction from 0 to 1", name, v))
		}
	}
	if sum := c.LostRate + c.PrematureRate + c.LateRate; sum > 1 {
		errs = append(errs, fmt.Errorf("--webhook-lost-rate, --webhook-premature-rate and --webhook-late-rate add up to %v, more than 1", sum))
	}
	for name, d := range map[string]time.Duration{
		"webhook-delay": c.Delay, "webhook-premature": c.Premature, "webhook-late": c.Late,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("--%s %v: want a non-negative duration", name, d))
		}
	}
	return errors.Join(errs...)
}

// webhookFlag collects --webhook PROVIDER=URL flags.
type webhookFlag map[string]string

func (f webhookFlag) String() string {
	parts := make([]string, 0, len(f))
	for _, p := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, p+"="+f[p])
	}
	return strings.Join(parts, ",")
}

func (f webhookFlag) Set(v string) error {
	provider, target, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want PROVIDER=URL, got %q", v)
	}
	if !slices.Contains([]string{simulator.Hoox, simulator.Hooked, simulator.Token360}, provider) {
		return fmt.Errorf("provider %q: want %s, %s or %s", provider, simulator.Hoox, simulator.Hooked, simulator.Token360)
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL %q: want http(s)://host[:port]/path", target)
	}
	f[provider] = target
	return nil
}

// statusRateFlag collects --status-rate CODE=FRACTION flags.
type statusRateFlag map[int]float64

func (f statusRateFlag) String() string {
	parts := make([]string, 0, len(f))
	for _, code := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("%d=%v", code, f[code]))
	}
	return strings.Join(parts, ",")
}

func (f statusRateFlag) Set(v string) error {
	code, rate, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want CODE=FRACTION, got %q", v)
	}
	c, err := strconv.Atoi(code)
	if err != nil || c < 400 || c > 599 {
		return fmt.Errorf("status %q: want a code from 400 to 599", code)
	}
	r, err := strconv.ParseFloat(rate, 64)
	if err != nil || !(r >= 0 && r <= 1) {
		return fmt.Errorf("fraction %q: want a number from 0 to 1", rate)
	}
	f[c] = r
	return nil
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
