package simulator_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/genwatch/genwatch/internal/simulator"
)

// hook is one webhook received.
type hook struct {
	path string
	body []byte
}

// receiver returns the URL of a server that hands every POST it receives to
// the returned channel.
func receiver(t *testing.T) (string, chan hook) {
	t.Helper()
	got := make(chan hook, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		got <- hook{path: r.URL.RequestURI(), body: b}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

func receive(t *testing.T, got chan hook) hook {
	t.Helper()
	select {
	case h := <-got:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook arrived")
		return hook{}
	}
}

func requireNone(t *testing.T, got chan hook) {
	t.Helper()
	select {
	case h := <-got:
		t.Fatalf("unexpected webhook %s: %s", h.path, h.body)
	default:
	}
}

func TestCallbackSentWhenGenerationEnds(t *testing.T) {
	t.Parallel()
	url, got := receiver(t)
	tests := []struct {
		provider string
		// idPath is where the body keeps the generation ID; statusPath and
		// status, its final status word.
		idPath, statusPath, status string
		outcome                    simulator.Outcome
	}{
		{simulator.Hoox, "asset_id", "status", "completed", simulator.Complete},
		{simulator.Hooked, "data.id", "data.status", "COMPLETED", simulator.Complete},
		{simulator.Token360, "id", "status", "completed", simulator.Complete},
		{simulator.Hoox, "asset_id", "status", "failed", simulator.Fail},
		{simulator.Hooked, "data.id", "data.status", "FAILED", simulator.Fail},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s-%d", tt.provider, i), func(t *testing.T) {
			b := setup(t, simulator.Config{Callbacks: simulator.Callbacks{
				URLs:  map[string]string{tt.provider: url + "/hooks/" + tt.provider + "?account=a"},
				Delay: time.Second,
			}})
			t.Cleanup(b.sim.Close)
			id := "gen/" + tt.provider
			b.sim.Create(tt.provider, id, simulator.Plan{PendingFor: time.Second, RunFor: 3 * time.Second, Outcome: tt.outcome})

			b.clock.Advance(4*time.Second + 999*time.Millisecond)
			requireNone(t, got)
			b.clock.Advance(time.Millisecond)
			h := receive(t, got)
			require.Equal(t, "/hooks/"+tt.provider+"?account=a", h.path)
			require.Equal(t, id, gjson.GetBytes(h.body, tt.idPath).String(), "%s", h.body)
			require.Equal(t, tt.status, gjson.GetBytes(h.body, tt.statusPath).String(), "%s", h.body)
			require.Eventually(t, func() bool {
				return b.sim.CallbackCounts() == simulator.CallbackCounts{Sent: 1, Scheduled: 1}
			}, 10*time.Second, time.Millisecond)
		})
	}
}

func TestCallbackOnlyForProvidersWithURL(t *testing.T) {
	t.Parallel()
	url, got := receiver(t)
	b := setup(t, simulator.Config{AutoCreate: true, Callbacks: simulator.Callbacks{
		URLs: map[string]string{simulator.Token360: url},
	}})
	t.Cleanup(b.sim.Close)
	b.sim.Create(simulator.Hoox, "a", simulator.Plan{RunFor: time.Second})
	b.sim.Create(simulator.Token360, "never", simulator.Plan{RunFor: time.Second, Outcome: simulator.Never})
	// An auto-created generation calls back too.
	resp := httptest.NewRecorder()
	b.sim.ServeHTTP(resp, newRequest(simulator.Token360, "auto-1", testKey))
	require.Equal(t, http.StatusOK, resp.Code)

	b.clock.Advance(time.Hour)
	h := receive(t, got)
	require.Equal(t, "auto-1", gjson.GetBytes(h.body, "id").String())
	require.Eventually(t, func() bool { return b.sim.CallbackCounts().Sent == 1 }, 10*time.Second, time.Millisecond)
	requireNone(t, got)
	require.Equal(t, int64(1), b.sim.CallbackCounts().Scheduled)
}

// fates creates n Hooked generations that end 10 s from now, with the given
// callbacks, and returns, by ID, when each webhook arrived relative to the
// end (-3 s, 1 s or 6 s, as cb sets them in TestCallbackFatesAreSeeded).
func fates(t *testing.T, n int, seed int64, cb simulator.Callbacks) (map[string]time.Duration, simulator.CallbackCounts) {
	t.Helper()
	url, got := receiver(t)
	cb.URLs = map[string]string{simulator.Hooked: url}
	b := setup(t, simulator.Config{Seed: seed, Callbacks: cb})
	t.Cleanup(b.sim.Close)
	end := b.clock.Now().Add(10 * time.Second)
	for i := range n {
		b.sim.Create(simulator.Hooked, fmt.Sprint("v", i), simulator.Plan{RunFor: 10 * time.Second})
	}
	counts := b.sim.CallbackCounts()
	arrived := map[string]time.Duration{}
	// Step to each instant webhooks are due at, and collect exactly the
	// webhooks due by then.
	steps := []struct {
		at  time.Duration
		due int64
	}{
		{-3 * time.Second, counts.Premature},
		{time.Second, int64(n) - counts.Lost - counts.Late},
		{6 * time.Second, int64(n) - counts.Lost},
	}
	for _, step := range steps {
		b.clock.Advance(end.Add(step.at).Sub(b.clock.Now()) - time.Millisecond)
		b.clock.Advance(time.Millisecond)
		require.Eventually(t, func() bool { return b.sim.CallbackCounts().Sent == step.due }, 10*time.Second, time.Millisecond)
		for int64(len(arrived)) < step.due {
			h := receive(t, got)
			arrived[gjson.GetBytes(h.body, "data.id").String()] = step.at
		}
	}
	b.clock.Advance(time.Hour)
	requireNone(t, got)
	return arrived, b.sim.CallbackCounts()
}

func TestCallbackFatesAreSeeded(t *testing.T) {
	t.Parallel()
	cb := simulator.Callbacks{
		Delay:    time.Second,
		LostRate: 0.2, PrematureRate: 0.2, Premature: 3 * time.Second,
		LateRate: 0.2, Late: 5 * time.Second,
	}
	const n = 200
	arrived, counts := fates(t, n, 7, cb)

	require.Equal(t, int64(n), counts.Scheduled)
	require.Equal(t, int64(n)-counts.Lost, counts.Sent)
	require.Len(t, arrived, int(counts.Sent))
	require.Zero(t, counts.Failed)
	require.InDelta(t, 0.2*n, counts.Lost, 0.1*n)
	require.InDelta(t, 0.2*n, counts.Premature, 0.1*n)
	require.InDelta(t, 0.2*n, counts.Late, 0.1*n)

	again, countsAgain := fates(t, n, 7, cb)
	require.Equal(t, arrived, again, "the same seed gives the same fates")
	require.Equal(t, counts, countsAgain)
	other, _ := fates(t, n, 8, cb)
	require.NotEqual(t, arrived, other, "another seed, other fates")
}

func TestCallbackCanceledByClose(t *testing.T) {
	t.Parallel()
	url, got := receiver(t)
	b := setup(t, simulator.Config{Callbacks: simulator.Callbacks{URLs: map[string]string{simulator.Hoox: url}}})
	b.sim.Create(simulator.Hoox, "a", simulator.Plan{RunFor: time.Second})
	// A generation replaced before its end does not call back for the old plan.
	b.sim.Create(simulator.Hoox, "b", simulator.Plan{RunFor: time.Second})
	b.sim.Create(simulator.Hoox, "b", simulator.Plan{RunFor: 3 * time.Second})
	b.clock.Advance(time.Second)
	require.Equal(t, "a", gjson.GetBytes(receive(t, got).body, "asset_id").String())
	require.Eventually(t, func() bool { return b.sim.CallbackCounts().Sent == 1 }, 10*time.Second, time.Millisecond)
	b.clock.Advance(time.Second)
	requireNone(t, got)
	b.sim.Close()
	b.clock.Advance(time.Hour)
	requireNone(t, got)
	require.Equal(t, int64(1), b.sim.CallbackCounts().Sent)
}

func TestCallbackFailureCounted(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	b := setup(t, simulator.Config{Callbacks: simulator.Callbacks{URLs: map[string]string{simulator.Hoox: srv.URL}}})
	t.Cleanup(b.sim.Close)
	b.sim.Create(simulator.Hoox, "a", simulator.Plan{})
	require.Eventually(t, func() bool { return b.sim.CallbackCounts().Failed == 1 }, 10*time.Second, time.Millisecond)
	require.Zero(t, b.sim.CallbackCounts().Sent)
}
