package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// probe is what a phase lets the measurement count.
type probe struct {
	name string
	// polls returns the handler runs so far.
	polls func() int64
	// redis counts the traffic of the asynq server's client.
	redis *redisCounter
	// requests returns the simulator's requests so far; nil without one.
	requests func() int64
}

// snapshot is every counter at one moment.
type snapshot struct {
	at       time.Time
	polls    int64
	trips    int64
	scripts  int64
	dials    int64
	requests int64
	server   serverReading
	procCPU  time.Duration
	sysCPU   time.Duration
	hasSys   bool
	numGC    uint32
}

func (b *bench) snapshot(ctx context.Context, p probe) (snapshot, error) {
	server, err := b.stats.read(ctx)
	if err != nil {
		return snapshot{}, err
	}
	s := snapshot{
		at:      time.Now(),
		polls:   p.polls(),
		trips:   p.redis.Trips(),
		scripts: p.redis.scripts.Load(),
		dials:   p.redis.dials.Load() + b.controlCounter.dials.Load(),
		server:  server,
		procCPU: processCPU(),
	}
	s.sysCPU, s.hasSys = systemCPU()
	if p.requests != nil {
		s.requests = p.requests()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.numGC = ms.NumGC
	return s, nil
}

// measure waits out the warm-up, measures the window and returns the
// phase's figures.
func (b *bench) measure(ctx context.Context, p probe) (PhaseResult, error) {
	b.logf("%s: warming up for %s", p.name, b.cfg.Warmup)
	if err := sleep(ctx, b.cfg.Warmup); err != nil {
		return PhaseResult{}, err
	}
	if p.polls() == 0 {
		return PhaseResult{}, errors.New("no poll ran during the warm-up")
	}
	// asynq runs polls in bursts on whole seconds; a window of whole
	// seconds that starts on one sees the same point of the burst at both
	// ends.
	if err := sleep(ctx, untilNextSecond(time.Now())); err != nil {
		return PhaseResult{}, err
	}
	before, err := b.snapshot(ctx, p)
	if err != nil {
		return PhaseResult{}, err
	}
	stopProfile, err := startProfile(b.cfg.CPUProfile, p.name)
	if err != nil {
		return PhaseResult{}, err
	}
	window := windowOf(b.cfg.Duration)
	b.logf("%s: measuring for %s", p.name, window)
	err = sleep(ctx, window)
	stopProfile()
	if err != nil {
		return PhaseResult{}, err
	}
	after, err := b.snapshot(ctx, p)
	if err != nil {
		return PhaseResult{}, err
	}
	res := result(p.name, before, after)
	if res.Polls == 0 {
		return PhaseResult{}, fmt.Errorf("no poll ran in the %s window (%d round trips, %d commands)", window, res.RoundTrips, res.Commands)
	}
	res.MeanIntervalSeconds = float64(b.cfg.Generations) / res.PollsPerSec
	res.Interference.OtherClients = b.stats.otherClients(ctx, clientName)
	res.Warnings = res.Interference.warnings(res.Polls)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapAllocMiB = float64(ms.HeapAlloc) / (1 << 20)
	res.GCTotal = ms.NumGC
	b.logf("%s: %.0f polls/s, %.2f round trips and %.1f commands per poll", p.name, res.PollsPerSec, res.RoundTripsPerPoll, res.CommandsPerPoll)
	for _, w := range res.Warnings {
		b.logf("%s: warning: %s", p.name, w)
	}
	return res, nil
}

// result turns two snapshots into a phase's figures.
func result(name string, before, after snapshot) PhaseResult {
	secs := after.at.Sub(before.at).Seconds()
	polls := after.polls - before.polls
	perPoll := func(n float64) float64 {
		if polls == 0 {
			return 0
		}
		return n / float64(polls)
	}
	cmds := commandDelta(before.server.commands, after.server.commands)
	var total, scripts int64
	for i, c := range cmds {
		total += c.Calls
		if isScriptCall(c.Name) {
			scripts += c.Calls
		}
		cmds[i].PerPoll = perPoll(float64(c.Calls))
		cmds[i].MicrosPerPoll = perPoll(float64(c.Micros))
	}
	procCPU := (after.procCPU - before.procCPU).Seconds()
	res := PhaseResult{
		Name:                 name,
		WindowSeconds:        secs,
		Polls:                polls,
		PollsPerSec:          float64(polls) / secs,
		RoundTrips:           after.trips - before.trips,
		RoundTripsPerPoll:    perPoll(float64(after.trips - before.trips)),
		Commands:             total,
		CommandsPerPoll:      perPoll(float64(total)),
		Breakdown:            cmds,
		SimRequests:          after.requests - before.requests,
		SimRequestsPerSec:    float64(after.requests-before.requests) / secs,
		ProcessCPUCores:      procCPU / secs,
		ProcessMicrosPerPoll: perPoll(procCPU * 1e6),
		GCInWindow:           after.numGC - before.numGC,
	}
	res.Interference.OtherConnections = (after.server.connections - before.server.connections) - (after.dials - before.dials)
	if _, totalOnlyMode := after.server.commands[totalOnly]; !totalOnlyMode {
		other := scripts - (after.scripts - before.scripts)
		res.Interference.OtherScripts = &other
	}
	if before.server.hasCPU && after.server.hasCPU {
		redisCPU := (after.server.cpu - before.server.cpu).Seconds()
		cores, micros := redisCPU/secs, perPoll(redisCPU*1e6)
		res.RedisCPUCores, res.RedisMicrosPerPoll = &cores, &micros
		if before.hasSys && after.hasSys {
			other := ((after.sysCPU - before.sysCPU).Seconds() - procCPU - redisCPU) / secs
			res.Interference.OtherCPUCores = &other
		}
	}
	return res
}

// commandDelta returns the calls of each command between two readings,
// most called first; commands not called are left out.
func commandDelta(before, after map[string]commandStat) []CommandCount {
	var out []CommandCount
	for name, st := range after {
		if d := st.calls - before[name].calls; d > 0 {
			out = append(out, CommandCount{Name: name, Calls: d, Micros: st.usec - before[name].usec})
		}
	}
	slices.SortFunc(out, func(a, b CommandCount) int {
		if c := cmp.Compare(b.Calls, a.Calls); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// untilNextSecond returns the time from now to the next whole second.
func untilNextSecond(now time.Time) time.Duration {
	return now.Truncate(time.Second).Add(time.Second).Sub(now)
}

// windowOf rounds the measurement window to whole seconds, at least one.
func windowOf(d time.Duration) time.Duration {
	return max(d.Round(time.Second), time.Second)
}

// systemCPU returns the busy time of every CPU of the machine, from
// /proc/stat, and false where there is none.
func systemCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, false
	}
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait are busy, in USER_HZ ticks (100 a second on Linux).
	var busy int64
	for i, f := range fields[1:9] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, false
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond, true
}

// processCPU returns the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startProfile starts a CPU profile of the window into profilePath(pattern,
// phase), if pattern is set, and returns the function that stops it.
func startProfile(pattern, phase string) (stop func(), err error) {
	if pattern == "" {
		return func() {}, nil
	}
	f, err := os.Create(profilePath(pattern, phase))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// profilePath puts the phase before the extension: "cpu.prof" and "bare"
// give "cpu.bare.prof".
func profilePath(pattern, phase string) string {
	ext := filepath.Ext(pattern)
	return strings.TrimSuffix(pattern, ext) + "." + phase + ext
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
