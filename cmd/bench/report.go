package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run; --json prints it as is.
type Report struct {
	Machine  Machine     `json:"machine"`
	Settings Settings    `json:"settings"`
	Bare     PhaseResult `json:"bare"`
	Genwatch PhaseResult `json:"genwatch"`
	Targets  []Target    `json:"targets"`
	Met      bool        `json:"targets_met"`
}

// Machine describes where the run took place.
type Machine struct {
	CPUs         int    `json:"cpus"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	CPUModel     string `json:"cpu_model,omitempty"`
	MemTotal     string `json:"mem_total,omitempty"`
	GoVersion    string `json:"go_version"`
	OS           string `json:"os"`
	RedisVersion string `json:"redis_version,omitempty"`
}

// Settings are the run's parameters.
type Settings struct {
	Generations   int     `json:"generations"`
	Concurrency   int     `json:"concurrency"`
	WarmupSeconds float64 `json:"warmup_seconds"`
	WindowSeconds float64 `json:"window_seconds"`
	PollDelay     string  `json:"poll_delay"`
}

// PhaseResult is what one phase measured over its window.
type PhaseResult struct {
	Name              string  `json:"name"`
	WindowSeconds     float64 `json:"window_seconds"`
	Polls             int64   `json:"polls"`
	PollsPerSec       float64 `json:"polls_per_sec"`
	RoundTrips        int64   `json:"round_trips"`
	RoundTripsPerPoll float64 `json:"round_trips_per_poll"`
	Commands          int64   `json:"commands"`
	CommandsPerPoll   float64 `json:"commands_per_poll"`
	// Breakdown lists every command called in the window, most called
	// first; on a server without INFO commandstats, only a total.
	Breakdown         []CommandCount `json:"commands_by_name"`
	SimRequests       int64          `json:"sim_requests"`
	SimRequestsPerSec float64        `json:"sim_requests_per_sec"`
	// MeanIntervalSeconds is how often each generation was polled on
	// average: generations ÷ polls per second. Each asks for pollDelay.
	MeanIntervalSeconds  float64 `json:"mean_interval_seconds"`
	ProcessCPUCores      float64 `json:"process_cpu_cores"`
	ProcessMicrosPerPoll float64 `json:"process_cpu_us_per_poll"`
	// RedisCPUCores and RedisMicrosPerPoll are nil when the server does
	// not report its CPU time.
	RedisCPUCores      *float64 `json:"redis_cpu_cores,omitempty"`
	RedisMicrosPerPoll *float64 `json:"redis_cpu_us_per_poll,omitempty"`
	HeapAllocMiB       float64  `json:"heap_alloc_mib"`
	GCInWindow         uint32   `json:"gc_in_window"`
	GCTotal            uint32   `json:"gc_total"`
	// Interference is what else used the machine and the Redis server
	// during the window; Warnings say when it may have skewed the figures.
	Interference Interference `json:"interference"`
	Warnings     []string     `json:"warnings,omitempty"`
}

// CommandCount is one Redis command's calls in the window, and the time
// Redis spent in them (a script's time includes its commands').
type CommandCount struct {
	Name          string  `json:"name"`
	Calls         int64   `json:"calls"`
	PerPoll       float64 `json:"per_poll"`
	Micros        int64   `json:"usec"`
	MicrosPerPoll float64 `json:"usec_per_poll"`
}

// Interference is other load seen during a window. Redis's counters are
// server-wide, so other clients' commands would be counted as the bench's.
type Interference struct {
	// OtherScripts are scripts run by other clients: the server's count
	// less the bench's; nil when the server does not count by command.
	OtherScripts *int64 `json:"other_script_calls,omitempty"`
	// OtherConnections are connections opened by other clients.
	OtherConnections int64 `json:"other_connections"`
	// OtherClients are clients of other programs connected at the end of
	// the window; -1 when the server cannot list them.
	OtherClients int `json:"other_clients"`
	// OtherCPUCores is the CPU used by other processes on the machine;
	// nil when unknown.
	OtherCPUCores *float64 `json:"other_cpu_cores,omitempty"`
}

// busyOthers is the CPU use of other processes above which a warning says
// that the figures may be low.
const busyOthers = 0.2

// noticeable is the share of the polls above which other clients' scripts
// or connections get a warning: below it they move no figure per poll in
// its second decimal.
const noticeable = 0.001

// warnings says what in the interference may have skewed the figures of a
// window with the given polls.
func (in Interference) warnings(polls int64) []string {
	var out []string
	if in.OtherScripts != nil && float64(*in.OtherScripts) > noticeable*float64(polls) {
		out = append(out, fmt.Sprintf("other clients ran %d scripts in the window: the command figures include their commands", *in.OtherScripts))
	}
	if float64(in.OtherConnections) > noticeable*float64(polls) {
		out = append(out, fmt.Sprintf("other clients opened %d connections to Redis in the window", in.OtherConnections))
	}
	if in.OtherClients > 0 {
		out = append(out, fmt.Sprintf("%d clients of other programs were connected to Redis at the end of the window", in.OtherClients))
	}
	if in.OtherCPUCores != nil && *in.OtherCPUCores > busyOthers {
		out = append(out, fmt.Sprintf("other processes used %.2f CPU cores in the window", *in.OtherCPUCores))
	}
	return out
}

// Target is one checked target.
type Target struct {
	Name string  `json:"name"`
	Want string  `json:"want"`
	Got  float64 `json:"got"`
	Met  bool    `json:"met"`
}

// Targets of genwatch against the bare cycle.
const (
	minRateRatio         = 0.5
	maxRoundTripsPerPoll = 3
	maxCommandsPerPoll   = 20
)

func checkTargets(bare, gw PhaseResult) []Target {
	ratio := 0.0
	if bare.PollsPerSec > 0 {
		ratio = gw.PollsPerSec / bare.PollsPerSec
	}
	return []Target{
		{Name: "genwatch polls/s ÷ bare polls/s", Want: fmt.Sprintf(">= %.1f", minRateRatio), Got: ratio, Met: ratio >= minRateRatio},
		{Name: "genwatch round trips per poll", Want: fmt.Sprintf("<= %d", maxRoundTripsPerPoll), Got: gw.RoundTripsPerPoll, Met: gw.RoundTripsPerPoll <= maxRoundTripsPerPoll},
		{Name: "genwatch commands per poll", Want: fmt.Sprintf("<= %d", maxCommandsPerPoll), Got: gw.CommandsPerPoll, Met: gw.CommandsPerPoll <= maxCommandsPerPoll},
	}
}

func allMet(ts []Target) bool {
	for _, t := range ts {
		if !t.Met {
			return false
		}
	}
	return true
}

// missed lists the targets that were missed, for the exit message.
func (r Report) missed() string {
	var out []string
	for _, t := range r.Targets {
		if !t.Met {
			out = append(out, fmt.Sprintf("%s is %.2f, want %s", t.Name, t.Got, t.Want))
		}
	}
	return strings.Join(out, "; ")
}

func settingsOf(cfg Config) Settings {
	return Settings{
		Generations:   cfg.Generations,
		Concurrency:   cfg.Concurrency,
		WarmupSeconds: cfg.Warmup.Seconds(),
		WindowSeconds: windowOf(cfg.Duration).Seconds(),
		PollDelay:     pollDelay.String(),
	}
}

func machineInfo(ctx context.Context, stats *serverStats) Machine {
	return Machine{
		CPUs:         runtime.NumCPU(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		CPUModel:     procField("/proc/cpuinfo", "model name"),
		MemTotal:     procField("/proc/meminfo", "MemTotal"),
		GoVersion:    runtime.Version(),
		OS:           runtime.GOOS + "/" + runtime.GOARCH,
		RedisVersion: stats.version(ctx),
	}
}

// procField returns the first "name: value" of a /proc file, or "".
func procField(path, name string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// shownPerPoll is the fewest calls per poll, in either phase, for a
// command to get its own line in the table.
const shownPerPoll = 0.01

func printReport(w io.Writer, r Report) {
	m, s := r.Machine, r.Settings
	fmt.Fprintf(w, "genwatch bench: %d generations, concurrency %d, one poll per %s, warm-up %s, window %s\n",
		s.Generations, s.Concurrency, s.PollDelay, seconds(s.WarmupSeconds), seconds(s.WindowSeconds))
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s memory, %s, redis %s\n\n", m.CPUs, m.CPUModel, m.MemTotal, m.GoVersion, orUnknown(m.RedisVersion))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	a, b := r.Bare, r.Genwatch
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	row("", "A: bare cycle", "B: genwatch")
	row("polls/s", f1(a.PollsPerSec), f1(b.PollsPerSec))
	row("round trips/poll", f3(a.RoundTripsPerPoll), f3(b.RoundTripsPerPoll))
	row("commands/poll", f2(a.CommandsPerPoll), f2(b.CommandsPerPoll))
	row("simulator requests/s", "-", f1(b.SimRequestsPerSec))
	row("mean interval between polls (s)", f2(a.MeanIntervalSeconds), f2(b.MeanIntervalSeconds))
	row("process CPU (cores)", f2(a.ProcessCPUCores), f2(b.ProcessCPUCores))
	row("process CPU per poll (µs)", f1(a.ProcessMicrosPerPoll), f1(b.ProcessMicrosPerPoll))
	row("redis CPU (cores)", optional(a.RedisCPUCores, f2), optional(b.RedisCPUCores, f2))
	row("redis CPU per poll (µs)", optional(a.RedisMicrosPerPoll, f1), optional(b.RedisMicrosPerPoll, f1))
	row("other processes' CPU (cores)", optional(a.Interference.OtherCPUCores, f2), optional(b.Interference.OtherCPUCores, f2))
	row("heap in use at end (MiB)", f1(a.HeapAllocMiB), f1(b.HeapAllocMiB))
	row("GC cycles in window / total", fmt.Sprintf("%d / %d", a.GCInWindow, a.GCTotal), fmt.Sprintf("%d / %d", b.GCInWindow, b.GCTotal))
	_ = tw.Flush()

	fmt.Fprintln(w, "\nRedis commands per poll (calls, and µs of Redis time; a script's time includes its commands'):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row("", "A calls", "A µs", "B calls", "B µs")
	for _, name := range commandNames(a, b) {
		ca, cb := commandOf(a, name), commandOf(b, name)
		row(name, f2(ca.PerPoll), f1(ca.MicrosPerPoll), f2(cb.PerPoll), f1(cb.MicrosPerPoll))
	}
	row("all", f2(a.CommandsPerPoll), "", f2(b.CommandsPerPoll), "")
	_ = tw.Flush()

	for _, p := range []PhaseResult{a, b} {
		for _, warning := range p.Warnings {
			fmt.Fprintf(w, "\nwarning (%s): %s", p.Name, warning)
		}
	}
	if len(a.Warnings)+len(b.Warnings) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range r.Targets {
		verdict := "met"
		if !t.Met {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "  %-34s %8.3f  want %-6s %s\n", t.Name, t.Got, t.Want, verdict)
	}
}

// commandNames returns the commands called at least shownPerPoll times per
// poll in either phase, the most called first.
func commandNames(a, b PhaseResult) []string {
	most := map[string]float64{}
	for _, p := range []PhaseResult{a, b} {
		for _, c := range p.Breakdown {
			most[c.Name] = max(most[c.Name], c.PerPoll)
		}
	}
	var names []string
	for name, n := range most {
		if n >= shownPerPoll {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(x, y string) int {
		if c := cmp.Compare(most[y], most[x]); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	return names
}

func commandOf(p PhaseResult, name string) CommandCount {
	for _, c := range p.Breakdown {
		if c.Name == name {
			return c
		}
	}
	return CommandCount{Name: name}
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func optional(v *float64, format func(float64) string) string {
	if v == nil {
		return "n/a"
	}
	return format(*v)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}
