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
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// servedWorker is what a running worker serves: the status of each probe
// path, and every metric family on /metrics with the values seen for each
// of its labels.
type servedWorker struct {
	probes  map[string]int
	metrics map[string]labelValues
}

// labelValues maps a label name to the values seen for it.
type labelValues map[string]map[string]bool

var (
	servedOnce sync.Once
	served     servedWorker
)

// workerServes starts a real worker once per test binary and runs
// generations through it until every series the alerting rules select has
// samples: polls, provider errors (a 404 and a refused key), events, and
// webhook endpoints that take deliveries, fail them, or are gone. It then reads the
// worker's probes and /metrics.
func workerServes(t *testing.T) servedWorker {
	t.Helper()
	servedOnce.Do(func() { served = startWorker(t) })
	if served.metrics == nil {
		t.Fatal("the worker could not be started (see the first test that asked for it)")
	}
	return served
}

// expectedSeries are the samples startWorker waits for: metric, label,
// value ("" for any).
var expectedSeries = [][3]string{
	{"genwatch_polls_total", "provider", genwatch.ProviderHooked},
	{"genwatch_provider_errors_total", "class", "not_found"},
	{"genwatch_provider_errors_total", "class", "unauthorized"},
	{"genwatch_events_total", "status", "completed"},
	{"genwatch_events_written_total", "sink", "stream"},
	{"genwatch_events_written_total", "sink", "webhook:ok"},
	{"genwatch_event_delivery_errors_total", "sink", "webhook:failing"},
	{"genwatch_webhook_endpoints_disabled_total", "endpoint", "gone"},
	{"asynq_queue_latency_seconds", "queue", ""},
}

func startWorker(t *testing.T) servedWorker {
	t.Helper()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "this endpoint is no more", http.StatusGone)
	}))
	t.Cleanup(gone.Close)

	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ok.Close)

	env := clitest.New(t)
	signing := []secret.Value{secret.Value("whsec_" + base64.StdEncoding.EncodeToString([]byte("deploy test secret")))}
	env.Config.Events.Webhooks = []config.Webhook{
		{Name: "ok", URL: ok.URL, Secrets: signing},
		{Name: "failing", URL: failing.URL, Secrets: signing},
		{Name: "gone", URL: gone.URL, Secrets: signing},
	}
	// Token360 refuses this key: its polls fail unauthorized.
	refused := env.Config.Providers[genwatch.ProviderToken360]
	refused.Accounts = map[string]config.Account{genwatch.DefaultAccount: {APIKey: "not-the-key"}}
	env.Config.Providers[genwatch.ProviderToken360] = refused
	w := env.Start(t)
	base := "http://" + w.Addr().String()

	env.Sim.Create(simulator.Hooked, "deploy-completes", simulator.Plan{})
	env.Track(t, genwatch.ProviderHooked, "deploy-completes")
	// Unknown to the simulator: 404s until the not-found grace.
	env.Track(t, genwatch.ProviderHoox, "deploy-missing")
	env.Track(t, genwatch.ProviderToken360, "deploy-refused")

	var families map[string]labelValues
	require.Eventually(t, func() bool {
		families = scrape(t, base+"/metrics")
		for _, want := range expectedSeries {
			values := families[want[0]][want[1]]
			if values == nil || (want[2] != "" && !values[want[2]]) {
				return false
			}
		}
		return true
	}, clitest.WaitFor, 50*time.Millisecond, "the worker never exported all of %v", expectedSeries)

	probes := map[string]int{}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
		probes[path] = resp.StatusCode
	}
	return servedWorker{probes: probes, metrics: families}
}

// scrape reads /metrics: each family's labels and their values.
func scrape(t *testing.T, url string) map[string]labelValues {
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
	out := map[string]labelValues{}
	for name, mf := range mfs {
		labels := labelValues{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] == nil {
					labels[l.GetName()] = map[string]bool{}
				}
				labels[l.GetName()][l.GetValue()] = true
			}
		}
		out[name] = labels
	}
	return out
}
