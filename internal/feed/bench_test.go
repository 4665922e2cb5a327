package feed_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/feed"
	"github.com/genwatch/genwatch/internal/redistest"
)

// countHook counts the commands a client sends (each command of a
// pipeline too).
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// BenchmarkFanout measures GET /v1/events with many subscribers over real
// HTTP: b.N events are appended to the stream, 50 a second, and every
// subscriber must receive every one. It reports the delay from just before
// XADD to receipt (p50, p99, max), the Redis commands the feed sent per
// event (counted on its own client, so other users of the server do not
// count), and how many subscribers were cut off. Run it on a real Redis:
//
//	GENWATCH_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench Fanout -benchtime 500x ./internal/feed
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{10, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) { benchFanout(b, subs) })
	}
}

func benchFanout(b *testing.B, subscribers int) {
	srv := redistest.New(b)
	stream := redistest.Name(b, "events")
	opt, err := redis.ParseURL(srv.URL)
	require.NoError(b, err)
	feedClient := redis.NewClient(opt)
	b.Cleanup(func() { _ = feedClient.Close() })
	hook := &countHook{}
	feedClient.AddHook(hook)
	require.NoError(b, srv.Client.Del(b.Context(), stream).Err())

	f := feed.New(feedClient, feed.Config{Streams: []string{stream}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	hs := httptest.NewServer(f)
	b.Cleanup(func() { cancel(); <-done; hs.Close() })

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: subscribers}}
	var (
		mu     sync.Mutex
		delays []time.Duration
		wg     sync.WaitGroup
	)
	counts := make([]atomic.Int64, subscribers)
	for i := range subscribers {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/v1/events", nil)
		require.NoError(b, err)
		resp, err := client.Do(req)
		require.NoError(b, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			var mine []time.Duration
			defer func() { mu.Lock(); delays = append(delays, mine...); mu.Unlock() }()
			for sc.Scan() {
				line := sc.Text()
				if !strings.HasPrefix(line, "data: ") {
					continue
				}
				now := time.Now()
				// The send time, from "generation_id":"bench-<i>@<unix ns>".
				_, rest, _ := strings.Cut(line, `"generation_id":"bench-`)
				_, rest, _ = strings.Cut(rest, "@")
				sent, _, _ := strings.Cut(rest, `"`)
				ns, err := strconv.ParseInt(sent, 10, 64)
				if err != nil {
					continue
				}
				mine = append(mine, now.Sub(time.Unix(0, ns)))
				counts[i].Add(1)
			}
		}()
	}
	require.Eventually(b, func() bool { return f.Stats().Subscribers == subscribers }, time.Minute, 10*time.Millisecond)

	before := hook.n.Load()
	b.ResetTimer()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		now := time.Now()
		raw, err := json.Marshal(genwatch.Event{
			ID: fmt.Sprintf("evt_%d", i), Type: "generation.completed", Status: genwatch.StatusCompleted,
			Provider: "hoox", GenerationID: fmt.Sprintf("bench-%d@%d", i, now.UnixNano()), Account: "default",
			Polls: 12, EnqueuedAt: now, DetectedAt: now,
		})
		require.NoError(b, err)
		require.NoError(b, srv.Client.XAdd(b.Context(), &redis.XAddArgs{Stream: stream, Values: []any{genwatch.StreamField, string(raw)}}).Err())
	}
	all := func() bool {
		for i := range counts {
			if counts[i].Load() < int64(b.N) {
				return false
			}
		}
		return true
	}
	require.Eventually(b, all, time.Minute, 10*time.Millisecond, "every event reaches every subscriber")
	b.StopTimer()
	commands := hook.n.Load() - before
	stats := f.Stats()
	cancel()
	wg.Wait()

	slices.Sort(delays)
	require.Len(b, delays, b.N*subscribers, "each subscriber got each event exactly once")
	pct := func(p float64) float64 { return float64(delays[int(p*float64(len(delays)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(commands)/float64(b.N), "redis-cmds/event")
	b.ReportMetric(float64(stats.CutOff), "cut-off")
	b.ReportMetric(0, "ns/op")
}
