package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
)

// endpoint answers every delivery with its current status and counts them
// by event ID.
type endpoint struct {
	mu     sync.Mutex
	status int
	got    map[string]int
}

func newEndpoint(t *testing.T, status int) (*endpoint, string) {
	t.Helper()
	ep := &endpoint{status: status, got: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		ep.got[r.Header.Get("webhook-id")]++
		w.WriteHeader(ep.status)
	}))
	t.Cleanup(srv.Close)
	return ep, srv.URL
}

func (ep *endpoint) set(status int) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.status = status
}

func (ep *endpoint) count(id string) int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.got[id]
}

func TestDeliveriesListReplayAndEnable(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)
	orders, ordersURL := newEndpoint(t, http.StatusBadRequest)
	gone, goneURL := newEndpoint(t, http.StatusGone)
	key := secret.Value("whsec_" + base64.StdEncoding.EncodeToString([]byte("deliveries test secret")))
	e.Config.Events.Webhooks = []config.Webhook{
		{Name: "orders", URL: ordersURL, Secrets: []secret.Value{key}, Timeout: 5 * time.Second},
		{Name: "gone", URL: goneURL, Secrets: []secret.Value{key}, Timeout: 5 * time.Second},
	}
	e.Sim.Create(genwatch.ProviderHoox, "d1", simulator.Plan{})
	e.Start(t)
	e.Track(t, genwatch.ProviderHoox, "d1")
	ev := genwatch.EventID(genwatch.ProviderHoox, "d1", genwatch.StatusCompleted)

	// A 400 is not retried and a 410 disables its endpoint: both
	// deliveries are listed at once.
	var got outcome
	require.Eventually(t, func() bool {
		got = runWith(t, e.Vars(), "deliveries", "list")
		return strings.Contains(got.stdout, "webhook:orders") && strings.Contains(got.stdout, "webhook:gone  ")
	}, clitest.WaitFor, 50*time.Millisecond, "%+v", got)
	require.Equal(t, cli.ExitOK, got.code, got.stderr)
	require.Contains(t, got.stdout, "endpoint gone DISABLED since")
	require.Contains(t, got.stdout, "(410 Gone): genwatch deliveries enable gone")
	require.Contains(t, got.stdout, "SINK")
	require.Contains(t, got.stdout, ev)
	require.Contains(t, got.stdout, "webhook orders answered 400")
	require.Equal(t, 1, orders.count(ev))
	require.Equal(t, 1, gone.count(ev))

	js := runWith(t, e.Vars(), "deliveries", "list", "--sink", "webhook:orders", "--json")
	require.Equal(t, cli.ExitOK, js.code, js.stderr)
	require.Contains(t, js.stdout, `{"endpoint":"gone","disabled_at":`)
	require.Contains(t, js.stdout, fmt.Sprintf(`"sink":"webhook:orders","event_id":%q,"attempts":1`, ev))
	require.NotContains(t, js.stdout, `"sink":"webhook:gone"`)

	// The receivers are fixed; one delivery is replayed by event ID.
	orders.set(http.StatusOK)
	gone.set(http.StatusOK)
	r := runWith(t, e.Vars(), "deliveries", "replay", "--sink", "webhook:orders", ev)
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, "replayed 1 deliveries\n", r.stdout)
	require.Eventually(t, func() bool { return orders.count(ev) == 2 }, clitest.WaitFor, 20*time.Millisecond)

	// The disabled endpoint is enabled by the operator, then replayed.
	en := runWith(t, e.Vars(), "deliveries", "enable", "gone")
	require.Equal(t, cli.ExitOK, en.code, en.stderr)
	require.Contains(t, en.stdout, "endpoint gone enabled")
	r = runWith(t, e.Vars(), "deliveries", "replay", "--all")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Equal(t, "replayed 1 deliveries\n", r.stdout)
	require.Eventually(t, func() bool { return gone.count(ev) == 2 }, clitest.WaitFor, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		got = runWith(t, e.Vars(), "deliveries", "list")
		return got.stdout == "no failed deliveries\n"
	}, clitest.WaitFor, 50*time.Millisecond, "%+v", got)
	require.Len(t, clitest.ReadEvents(t, e.Redis.Client, e.Config.Events.Stream), 1, "replays add no event")

	for _, tt := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"deliveries"}, "no command given", cli.ExitUsage},
		{[]string{"deliveries", "drop"}, `unknown command "drop"`, cli.ExitUsage},
		{[]string{"deliveries", "replay", "x"}, "needs --sink", cli.ExitUsage},
		{[]string{"deliveries", "replay", "--sink", "webhook:orders"}, "replay what?", cli.ExitUsage},
		{[]string{"deliveries", "list", "--sink", "webhook:nope"}, "no deliveries for this sink", cli.ExitUsage},
		{[]string{"deliveries", "replay", "--sink", "webhook:orders", "nope"}, "genwatch deliveries replay:", cli.ExitError},
	} {
		got := runWith(t, e.Vars(), tt.args...)
		require.Equal(t, tt.code, got.code, "%v: %+v", tt.args, got)
		require.Contains(t, got.stderr, tt.want, tt.args)
	}
}
