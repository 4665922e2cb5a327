package worker_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// TestRedisOutageIsLoggedOnceAndSummarized cuts a running worker off Redis
// until its loops have failed hundreds of times, and checks that the log
// holds a bounded number of lines: the outage once, each failing loop's
// line once, and the recovery once, with how many lines were held back.
func TestRedisOutageIsLoggedOnceAndSummarized(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	u, err := url.Parse(e.Redis.URL)
	require.NoError(t, err)
	g := newGate(t, u.Host)
	u.Host = g.addr()
	cfg := e.Config
	cfg.Redis.URL = u.String()
	cfg.APIAddr = "127.0.0.1:0" // with the live feed's reader
	cfg.APITokens = []secret.Value{"test-token-0123456789"}
	core, logs := observer.New(zap.InfoLevel)
	w, stop := runWorker(t, e, cfg, worker.Options{Logger: zap.New(core), Redis: redisThrough(t, cfg)})
	defer stop()
	require.Eventually(t, func() bool { return ready(t, w) }, waitFor, 10*time.Millisecond)

	logs.TakeAll()
	g.shut()
	// Every loop fails many times over: asynq's forwarder alone tries ten
	// times a second, and each try opens a connection the gate cuts.
	require.Eventually(t, func() bool { return g.cut.Load() >= 300 }, waitFor, 10*time.Millisecond)
	during := logs.TakeAll()
	require.Len(t, messagesOf(during, "redis is unreachable; polls wait until it is back"), 1)
	var failures []string
	for _, l := range during {
		if l.Level >= zapcore.WarnLevel {
			failures = append(failures, l.LoggerName+": "+l.Message)
		}
	}
	require.LessOrEqual(t, len(failures), 15, "each failing loop's line once, not once per try:\n%v", failures)

	g.open()
	require.Eventually(t, func() bool { return ready(t, w) }, waitFor, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		return logs.FilterMessage("redis is reachable again").Len() > 0
	}, waitFor, 10*time.Millisecond)
	back := logs.FilterMessage("redis is reachable again").All()
	require.Len(t, back, 1)
	require.Greater(t, back[0].ContextMap()["repeated_lines_held_back"], int64(len(failures)), "the summary counts what was held back")
	require.Zero(t, logs.FilterMessage("redis is unreachable; polls wait until it is back").Len(), "the outage is logged once")
}

// redisThrough returns a client of the worker's Redis URL, owned by the
// test, so that its connections go through the gate.
func redisThrough(t *testing.T, cfg worker.Config) redis.UniversalClient {
	t.Helper()
	c, err := cfg.Redis.NewClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ready(t *testing.T, w *worker.Worker) bool {
	t.Helper()
	resp, err := http.Get("http://" + w.Addr().String() + "/readyz")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func messagesOf(logs []observer.LoggedEntry, msg string) []observer.LoggedEntry {
	var out []observer.LoggedEntry
	for _, l := range logs {
		if l.Message == msg {
			out = append(out, l)
		}
	}
	return out
}

// gate is a TCP proxy in front of Redis that a test shuts and opens: shut,
// it cuts every connection through it and every new one as it comes,
// counting them, as a Redis that went away would.
type gate struct {
	ln     net.Listener
	target string
	cut    atomic.Int64
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := &gate{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	g.wg.Go(g.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		g.shut()
		g.wg.Wait()
	})
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }

func (g *gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		closed := g.closed
		if !closed {
			g.conns[c] = struct{}{}
		}
		g.mu.Unlock()
		if closed {
			g.cut.Add(1)
			_ = c.Close()
			continue
		}
		g.wg.Go(func() { g.pipe(c) })
	}
}

func (g *gate) pipe(c net.Conn) {
	defer g.forget(c)
	up, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", g.target)
	if err != nil {
		return
	}
	defer g.forget(up)
	g.mu.Lock()
	closed := g.closed
	g.conns[up] = struct{}{}
	g.mu.Unlock()
	if closed {
		return
	}
	var copies sync.WaitGroup
	copies.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
	copies.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
	copies.Wait()
}

func (g *gate) forget(c net.Conn) {
	_ = c.Close()
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// shut cuts every connection and refuses new ones until open.
func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for c := range g.conns {
		_ = c.Close()
	}
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
}
