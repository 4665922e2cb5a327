package deploy_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/secret"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/internal/tasks"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// servedWorker is what a running worker serves: the status of each probe
// path, and the labels of every metric family on /metrics.
type servedWorker struct {
	probes  map[string]int
	metrics map[string]map[string]bool
}

var (
	servedOnce sync.Once
	served     servedWorker
)

// workerServes starts a real worker once per test binary, on the simulated
// providers with a webhook that always fails, runs generations through it
// until every family the rules use has samples (a poll, a provider error,
// an event, a failed and retried delivery), and reads its probes and
// /metrics.
func workerServes(t *testing.T) servedWorker {
	t.Helper()
	servedOnce.Do(func() { served = startWorker(t) })
	if served.metrics == nil {
		t.Fatal("the worker could not be started (see the first test that asked for it)")
	}
	return served
}

func startWorker(t *testing.T) servedWorker {
	t.Helper()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
	}))
	t.Cleanup(hook.Close)

	env := clitest.New(t)
	env.Config.Events.Webhook.URL = hook.URL
	env.Config.Events.Webhook.Secret = secret.Value("whsec_" + base64.StdEncoding.EncodeToString([]byte("deploy test secret")))
	w := env.Start(t)
	base := "http://" + w.Addr().String()

	env.Sim.Create(simulator.Hooked, "deploy-completes", simulator.Plan{})
	completes := env.Track(t, genwatch.ProviderHooked, "deploy-completes")
	// Unknown to the simulator: 404s (a provider error) until the grace.
	missing := env.Track(t, genwatch.ProviderHoox, "deploy-missing")
	for _, id := range []string{completes, missing} {
		env.WaitFor(t, id, func(g tasks.Generation) bool { return g.Ended() })
	}

	want := []string{
		"genwatch_polls_total", "genwatch_provider_errors_total", "genwatch_events_total",
		"genwatch_event_delivery_errors_total", "asynq_queue_latency_seconds",
	}
	var families map[string]map[string]bool
	require.Eventually(t, func() bool {
		families = scrape(t, base+"/metrics")
		for _, name := range want {
			if families[name] == nil {
				return false
			}
		}
		return true
	}, clitest.WaitFor, 50*time.Millisecond, "the worker never exported all of %v", want)

	probes := map[string]int{}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
		probes[path] = resp.StatusCode
	}
	return servedWorker{probes: probes, metrics: families}
}

// scrape reads /metrics: each family's name and the names of its labels.
func scrape(t *testing.T, url string) map[string]map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, "parsing /metrics")
	out := map[string]map[string]bool{}
	for name, mf := range mfs {
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		out[name] = labels
	}
	return out
}
