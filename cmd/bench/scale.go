package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/redisproc"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

// ScaleRun is one layout of the scaling benchmark: a Redis Cluster of
// Primaries primaries, tracking spread over Shards shards.
type ScaleRun struct {
	Primaries int `json:"primaries"`
	Shards    int `json:"shards"`
}

// ScaleResult is what one layout measured.
type ScaleResult struct {
	ScaleRun
	Generations int `json:"generations"`
	// PollsPerSecond are status calls per second over the window.
	PollsPerSecond float64 `json:"polls_per_second"`
	// CommandsPerPoll sums every node's commands (INFO excluded) per poll.
	CommandsPerPoll float64 `json:"commands_per_poll"`
	// BytesPerGeneration is the growth of the nodes' used_memory from
	// before enqueuing to the end of the window, per generation in flight.
	BytesPerGeneration float64 `json:"bytes_per_generation"`
	// KeyBytes is MEMORY USAGE of one generation's own keys: its asynq
	// task hash and its genwatch state.
	KeyBytes int64 `json:"key_bytes"`
	// WorkerCPUPerPoll is the benchmark process's CPU (worker, simulator,
	// client) per poll, in microseconds.
	WorkerCPUPerPoll float64     `json:"worker_cpu_us_per_poll"`
	Nodes            []NodeShare `json:"nodes"`
}

// NodeShare is one primary's part of the load.
type NodeShare struct {
	Addr            string  `json:"addr"`
	Slots           int     `json:"slots"`
	CommandsPerSec  float64 `json:"commands_per_second"`
	CommandsPerPoll float64 `json:"commands_per_poll"`
	// Share is this node's fraction of all the nodes' commands.
	Share float64 `json:"share"`
	// CPUPerPoll is the node's CPU (user + system) per poll of the whole
	// fleet, in microseconds.
	CPUPerPoll float64 `json:"cpu_us_per_poll"`
	// CPUUtil is the node's CPU over the window, in cores.
	CPUUtil float64 `json:"cpu_cores"`
	// UsedMemory is the node's used_memory at the end, in bytes.
	UsedMemory int64 `json:"used_memory"`
}

// ScaleReport is the scaling benchmark's output.
type ScaleReport struct {
	Machine string        `json:"machine"`
	Warmup  string        `json:"warmup"`
	Window  string        `json:"window"`
	Runs    []ScaleResult `json:"runs"`
}

// parseLayouts reads "P:S,P:S": primaries and shards of each layout.
func parseLayouts(s string) ([]ScaleRun, error) {
	var out []ScaleRun
	for _, part := range strings.Split(s, ",") {
		var l ScaleRun
		if _, err := fmt.Sscanf(part, "%d:%d", &l.Primaries, &l.Shards); err != nil || l.Primaries < 1 || l.Shards < 1 {
			return nil, fmt.Errorf("want primaries:shards, both at least 1, got %q", part)
		}
		out = append(out, l)
	}
	return out, nil
}

// runScale measures each layout on a cluster of its own, started on free
// loopback ports and stopped before the next.
func runScale(ctx context.Context, cfg Config, layouts []ScaleRun, progress io.Writer) (ScaleReport, error) {
	rep := ScaleReport{Machine: machine(), Warmup: cfg.Warmup.String(), Window: cfg.Duration.String()}
	for _, l := range layouts {
		fmt.Fprintf(progress, "bench: scale: %d primaries, %d shards, %d generations\n", l.Primaries, l.Shards, cfg.Generations)
		res, err := scaleOnce(ctx, cfg, l)
		if err != nil {
			return ScaleReport{}, fmt.Errorf("scale %d primaries %d shards: %w", l.Primaries, l.Shards, err)
		}
		rep.Runs = append(rep.Runs, res)
	}
	return rep, nil
}

func scaleOnce(ctx context.Context, cfg Config, l ScaleRun) (ScaleResult, error) {
	dir, err := os.MkdirTemp("", "genwatch-scale-")
	if err != nil {
		return ScaleResult{}, err
	}
	defer os.RemoveAll(dir)
	fleet := redisproc.New(dir)
	defer fleet.Close()
	cl, err := fleet.StartCluster(ctx, l.Primaries, 0)
	if err != nil {
		return ScaleResult{}, err
	}
	nodes := make([]*redis.Client, len(cl.Primaries))
	for i, p := range cl.Primaries {
		nodes[i] = p.Client()
		defer nodes[i].Close()
	}

	sim, simURL, stopSim, err := serveSimulator()
	if err != nil {
		return ScaleResult{}, err
	}
	defer stopSim()
	reqs := requests(cfg.Generations)
	for _, req := range reqs {
		sim.Create(req.Provider, req.GenerationID, simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	}
	wc := workerConfig(Config{RedisURL: cl.URL(), Concurrency: cfg.Concurrency}, simURL)
	wc.Redis.Mode = config.RedisCluster
	wc.Shards = l.Shards
	rdb, err := wc.Redis.NewClient()
	if err != nil {
		return ScaleResult{}, err
	}
	defer rdb.Close()

	memBefore, err := nodeInfos(ctx, nodes)
	if err != nil {
		return ScaleResult{}, err
	}
	aq := asynq.NewClientFromRedisClient(rdb)
	defer aq.Close()
	if err := trackAll(ctx, genwatch.NewClient(aq, wc.ClientConfig()), reqs); err != nil {
		return ScaleResult{}, err
	}

	httpClient, polls := countingHTTPClient(cfg.Concurrency)
	w, err := worker.New(wc, worker.Options{HTTPClient: httpClient})
	if err != nil {
		return ScaleResult{}, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	if err := sleep(ctx, cfg.Warmup); err != nil {
		return ScaleResult{}, err
	}
	before, err := nodeInfos(ctx, nodes)
	if err != nil {
		return ScaleResult{}, err
	}
	polls0, cpu0, t0 := polls.Load(), processCPU(), time.Now()
	if err := sleep(ctx, cfg.Duration); err != nil {
		return ScaleResult{}, err
	}
	after, err := nodeInfos(ctx, nodes)
	if err != nil {
		return ScaleResult{}, err
	}
	elapsed := time.Since(t0).Seconds()
	n := float64(polls.Load() - polls0)
	if n == 0 {
		return ScaleResult{}, errors.New("no poll in the window")
	}
	res := ScaleResult{
		ScaleRun:         l,
		Generations:      cfg.Generations,
		PollsPerSecond:   n / elapsed,
		WorkerCPUPerPoll: float64((processCPU() - cpu0).Microseconds()) / n,
	}
	var total, mem float64
	for i := range nodes {
		total += float64(after[i].calls - before[i].calls)
		mem += float64(after[i].usedMemory - memBefore[i].usedMemory)
	}
	for i, p := range cl.Primaries {
		calls := float64(after[i].calls - before[i].calls)
		cpu := (after[i].cpu - before[i].cpu).Seconds()
		res.Nodes = append(res.Nodes, NodeShare{
			Addr:            p.Addr,
			Slots:           after[i].slots,
			CommandsPerSec:  calls / elapsed,
			CommandsPerPoll: calls / n,
			Share:           calls / total,
			CPUPerPoll:      cpu * 1e6 / n,
			CPUUtil:         cpu / elapsed,
			UsedMemory:      after[i].usedMemory,
		})
	}
	res.CommandsPerPoll = total / n
	res.BytesPerGeneration = mem / float64(cfg.Generations)
	res.KeyBytes = generationKeyBytes(ctx, rdb, wc, reqs[0].TaskID())
	return res, nil
}

// trackAll enqueues reqs from a few goroutines.
func trackAll(ctx context.Context, client *genwatch.Client, reqs []genwatch.Request) error {
	errs := make([]error, enqueuers)
	var wg sync.WaitGroup
	for g := range enqueuers {
		wg.Go(func() {
			for i := g; i < len(reqs); i += enqueuers {
				if _, err := client.Track(ctx, reqs[i]); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	return nil
}

// generationKeyBytes is MEMORY USAGE of a generation's asynq task hash and
// genwatch state key.
func generationKeyBytes(ctx context.Context, rdb redis.UniversalClient, wc config.Config, taskID string) int64 {
	sh := wc.Sharding()
	var sum int64
	for _, key := range []string{
		"asynq:{" + sh.QueueOf(taskID) + "}:t:" + taskID,
		sh.KeyPrefixOf(taskID) + "gen:" + taskID,
	} {
		n, _ := rdb.MemoryUsage(ctx, key).Result()
		sum += n
	}
	return sum
}

// nodeInfo is one node's counters at one moment.
type nodeInfo struct {
	calls      int64
	cpu        time.Duration
	usedMemory int64
	slots      int
}

func nodeInfos(ctx context.Context, nodes []*redis.Client) ([]nodeInfo, error) {
	out := make([]nodeInfo, len(nodes))
	for i, c := range nodes {
		info, err := c.Info(ctx, "commandstats", "cpu", "memory").Result()
		if err != nil {
			return nil, fmt.Errorf("info %s: %w", c.Options().Addr, err)
		}
		for name, st := range parseCommandStats(info) {
			if name != "info" {
				out[i].calls += st.calls
			}
		}
		out[i].cpu, _ = redisCPU(info)
		out[i].usedMemory = infoInt(info, "used_memory")
		out[i].slots = ownSlots(ctx, c)
	}
	return out, nil
}

// ownSlots counts the slots the node serves.
func ownSlots(ctx context.Context, c *redis.Client) int {
	id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return 0
	}
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range slots {
		if len(s.Nodes) > 0 && s.Nodes[0].ID == id {
			n += s.End - s.Start + 1
		}
	}
	return n
}

// machine describes the host: CPU model and count.
func machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model, cores := "", 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") && model == "" {
			if _, v, ok := strings.Cut(line, ":"); ok {
				model = strings.TrimSpace(v)
			}
		}
		if strings.HasPrefix(line, "processor") {
			cores++
		}
	}
	return fmt.Sprintf("%d × %s", cores, model)
}

func printScale(w io.Writer, rep ScaleReport) {
	fmt.Fprintf(w, "machine: %s; warm-up %s, window %s\n\n", rep.Machine, rep.Warmup, rep.Window)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "primaries\tshards\tgenerations\tpolls/s\tcommands/poll\tbytes/generation\tkey bytes\tbench CPU µs/poll\t")
	for _, r := range rep.Runs {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%.1f\t%.0f\t%d\t%.0f\t\n", r.Primaries, r.Shards, r.Generations, r.PollsPerSecond,
			r.CommandsPerPoll, r.BytesPerGeneration, r.KeyBytes, r.WorkerCPUPerPoll)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "primaries\tshards\tnode\tslots\tcommands/s\tshare\tcommands/poll\tCPU µs/poll\tCPU cores\tused_memory MB\t")
	for _, r := range rep.Runs {
		for _, n := range r.Nodes {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%.0f\t%.0f%%\t%.1f\t%.1f\t%.2f\t%.1f\t\n", r.Primaries, r.Shards, n.Addr, n.Slots,
				n.CommandsPerSec, 100*n.Share, n.CommandsPerPoll, n.CPUPerPoll, n.CPUUtil, float64(n.UsedMemory)/(1<<20))
		}
	}
	_ = tw.Flush()
}
