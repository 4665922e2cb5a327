package worker_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

func get(t *testing.T, url string, auth ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestHTTPEndpoints(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	e.Sim.Create(genwatch.ProviderHoox, "m1", simulator.Plan{})
	e.Sim.Create(genwatch.ProviderHooked, "m2", simulator.Plan{Outcome: simulator.Never, RunFor: simulator.Forever})
	w := e.start(t, worker.Options{})
	base := "http://" + w.Addr().String()

	code, body := get(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	require.Eventually(t, func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	}, waitFor, 10*time.Millisecond, "ready once the asynq server runs")

	e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "m1"})
	e.track(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "m2"})
	e.waitEvents(t, 1)

	q := e.Config.Queue
	wants := []string{
		`genwatch_polls_total{account="default",outcome="completed",provider="hoox"} 1`,
		`genwatch_events_total{provider="hoox",status="completed"} 1`,
		`genwatch_events_written_total{sink="stream"} 1`,
		`genwatch_time_to_event_seconds_count{provider="hoox",status="completed"} 1`,
		`genwatch_poll_duration_seconds_count{provider="hooked"}`,
		`genwatch_generations_in_flight{queue="` + q + `"} 1`,
		`asynq_queue_size{queue="` + q + `"}`,
		`asynq_tasks_enqueued_total{queue="` + q + `",state="completed"} 1`,
		`go_goroutines`,
	}
	// The event is in the stream a moment before it is counted and its task
	// acknowledged.
	var missing []string
	require.Eventually(t, func() bool {
		code, body = get(t, base+"/metrics")
		require.Equal(t, http.StatusOK, code)
		missing = missing[:0]
		for _, w := range wants {
			if !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0
	}, waitFor, 20*time.Millisecond, "missing metrics: %v", missing)
	require.NotContains(t, body, "m1", "no generation id in any label")
	require.NotContains(t, body, testKeys[genwatch.ProviderHoox])

	code, body = get(t, base+"/monitoring/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, strings.ToLower(body), "<html")
	code, body = get(t, base+"/monitoring/api/queues")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, q)
}

func TestHTTPBasicAuth(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	e.Config.HTTPAuth.Username = "ops"
	e.Config.HTTPAuth.Password = "s3cret"
	w := e.start(t, worker.Options{})
	base := "http://" + w.Addr().String()

	for _, path := range []string{"/metrics", "/monitoring/", "/monitoring/api/queues"} {
		code, _ := get(t, base+path)
		require.Equal(t, http.StatusUnauthorized, code, path)
		code, _ = get(t, base+path, "ops", "wrong")
		require.Equal(t, http.StatusUnauthorized, code, path)
		code, _ = get(t, base+path, "ops", "s3cret")
		require.Equal(t, http.StatusOK, code, path)
	}
	code, _ := get(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code, "probes need no credentials")
	require.Eventually(t, func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	}, waitFor, 10*time.Millisecond)
}
