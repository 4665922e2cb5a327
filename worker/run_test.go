package worker_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// TestRunEndsEveryGoroutine runs a worker with both HTTP servers, a
// generation to the end and a subscriber of the live feed, cancels it, and
// checks that Run returns nil and leaves no goroutine behind. It does not
// run in parallel: goleak sees the whole process.
func TestRunEndsEveryGoroutine(t *testing.T) {
	e := setupE2E(t)
	ignore := goleak.IgnoreCurrent()

	e.Sim.Create(genwatch.ProviderHoox, "g1", simulator.Plan{})
	cfg := e.Config
	cfg.APIAddr = "127.0.0.1:0"
	cfg.APITokens = []secret.Value{"test-token-0123456789"}
	// The worker dials Redis itself and makes its own HTTP client, so that
	// it closes both.
	w, err := worker.New(cfg, worker.Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "g1"})
	e.waitEvents(t, 1)

	// A subscriber stays connected until the worker stops.
	transport := &http.Transport{}
	client := &http.Client{Transport: transport}
	req, err := http.NewRequest(http.MethodGet, "http://"+w.APIAddr().String()+"/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer test-token-0123456789")
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, ": connected\n", line)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("Run did not return after its context was canceled")
	}
	// What the test itself opened, it closes; then only what was there
	// before the worker may remain.
	_ = resp.Body.Close()
	transport.CloseIdleConnections()
	require.NoError(t, e.Redis.Client.Close())
	goleak.VerifyNone(t, ignore)
}

// TestRunReturnsTheHTTPServersFailure breaks the ops server's listener
// under a running worker: Run shuts everything down and returns the
// failure, naming the address and where to change it.
func TestRunReturnsTheHTTPServersFailure(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	cfg := e.Config
	cfg.APIAddr = "127.0.0.1:0"
	w, err := worker.New(cfg, worker.Options{Redis: e.Redis.Client, Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	inspector := asynq.NewInspectorFromRedisClient(e.Redis.Client)
	// The package's other tests share the database: count only the
	// servers of this test's queue.
	ours := func() int {
		servers, err := inspector.Servers()
		require.NoError(t, err)
		n := 0
		for _, s := range servers {
			if _, ok := s.Queues[cfg.Queue]; ok {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return ours() == 1 }, waitFor, 10*time.Millisecond, "the asynq server runs")

	addr := w.Addr().String()
	require.NoError(t, w.BreakHTTP())
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(waitFor):
		t.Fatal("Run did not return after its HTTP server failed")
	}
	require.ErrorIs(t, runErr, net.ErrClosed)
	require.ErrorContains(t, runErr, "http_addr "+addr+" (GENWATCH_HTTP_ADDR, worker --http)")

	require.Zero(t, ours(), "the asynq server has shut down")
	_, err = net.Dial("tcp", w.APIAddr().String())
	require.Error(t, err, "the API server has shut down")
}

// TestNewRefusesATakenAddress checks that each address in use fails New,
// naming the address and where to change it.
func TestNewRefusesATakenAddress(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	addr := taken.Addr().String()
	for _, tc := range []struct {
		desc string
		set  func(*worker.Config)
		want string
	}{
		{"ops", func(c *worker.Config) { c.HTTPAddr = addr }, "http_addr (GENWATCH_HTTP_ADDR, worker --http)"},
		{"api", func(c *worker.Config) { c.APIAddr = addr }, "api_addr (GENWATCH_API_ADDR, worker --api)"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			e := setupE2E(t)
			cfg := e.Config
			tc.set(&cfg)
			_, err := worker.New(cfg, worker.Options{Redis: e.Redis.Client})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, addr)
			require.True(t, strings.Contains(err.Error(), "address already in use"), fmt.Sprint(err))
		})
	}
}
