package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/api"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

// slowPolicy polls a running generation every 30 s, so that a poll within
// seconds of a hint is the hint's.
var slowPolicy = schedule.Policy{Initial: 30 * time.Second, Multiplier: 1, Max: 30 * time.Second, Jitter: -1, NotFoundGrace: time.Minute}

func slowly(c *worker.Config) { c.Poll = slowPolicy.WithDefaults() }

func hookPath(provider, token string) string {
	return "/v1/hooks/" + provider + "/" + token
}

// hook posts a webhook body, without a bearer token as providers do.
func (b *bundle) hook(t *testing.T, path, body string) (int, []byte) {
	t.Helper()
	return b.callWith(t, http.MethodPost, path, body, "")
}

// hookCount returns genwatch_hooks_total for a provider and outcome, from
// the worker's /metrics.
func (b *bundle) hookCount(t *testing.T, provider, outcome string) int {
	t.Helper()
	resp, err := http.Get("http://" + b.worker.Addr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	re := regexp.MustCompile(`(?m)^genwatch_hooks_total\{outcome="` + outcome + `",provider="` + provider + `"\} (\d+)$`)
	m := re.FindSubmatch(text)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	return n
}

func TestHookRefusesWrongTokenOrProvider(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	body := `{"asset_id":"a"}`
	for _, path := range []string{
		hookPath("hoox", "wrong-token-0123456789"),
		hookPath("hoox", hooksToken+"x"),
		hookPath("hoox", hooksToken[:len(hooksToken)-1]),
		hookPath("acme", hooksToken),
		hookPath("acme", "wrong"),
		hookPath("HOOX", hooksToken),
	} {
		code, resp := b.hook(t, path, body)
		require.Equal(t, http.StatusNotFound, code, path)
		require.Equal(t, api.CodeNotFound, decodeError(t, resp).Error.Code)
		require.NotContains(t, string(resp), hooksToken[:8], "the answer never quotes a token")
	}
	require.Equal(t, 3, b.hookCount(t, "hoox", api.HookRefused))
	require.Equal(t, 3, b.hookCount(t, "other", api.HookRefused), "unknown providers share one label")

	code, _ := b.hook(t, hookPath("hoox", hooksToken), body)
	require.Equal(t, http.StatusAccepted, code)
}

func TestHookOffWithoutToken(t *testing.T) {
	t.Parallel()
	b := setup(t, options{config: func(c *worker.Config) { c.HooksToken = "" }})
	for _, tok := range []string{hooksToken, "", "x"} {
		code, _ := b.hook(t, "/v1/hooks/hoox/"+tok, `{"asset_id":"a"}`)
		require.Equal(t, http.StatusNotFound, code)
	}
}

func TestHookFindsTheID(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	tests := []struct {
		provider, body string
		want           int
	}{
		{"hoox", `{"asset_id":"a1","status":"completed"}`, http.StatusAccepted},
		{"hooked", `{"success":true,"data":{"id":"v1","status":"COMPLETED"}}`, http.StatusAccepted},
		{"hooked", `{"id":"v1","status":"COMPLETED"}`, http.StatusAccepted},
		{"token360", `{"id":"t1","status":"completed"}`, http.StatusAccepted},
		{"token360", `{"id":12345}`, http.StatusAccepted},
		{"hoox", `{"id":"a1"}`, http.StatusBadRequest},
		{"hooked", `{"data":{"video":"v1"}}`, http.StatusBadRequest},
		{"token360", `{"id":""}`, http.StatusBadRequest},
		{"token360", `{"id":null}`, http.StatusBadRequest},
		{"token360", `not json {"id":"t1"}`, http.StatusBadRequest},
		{"token360", ``, http.StatusBadRequest},
		{"token360", `{"id":"` + strings.Repeat("x", 300) + `"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		code, body := b.hook(t, hookPath(tt.provider, hooksToken), tt.body)
		require.Equal(t, tt.want, code, "%s %s: %s", tt.provider, tt.body, body)
		if code == http.StatusAccepted {
			require.JSONEq(t, `{"status":"accepted"}`, string(body), "the same answer, tracked or not")
		} else {
			require.Equal(t, api.CodeInvalidRequest, decodeError(t, body).Error.Code)
		}
	}
	require.Equal(t, 5, b.hookCount(t, "token360", api.HookNoID)+b.hookCount(t, "token360", api.HookInvalid))

	// An account the worker does not have is refused; one it has is not.
	code, body := b.hook(t, hookPath("hoox", hooksToken)+"?account=team-x", `{"asset_id":"a1"}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, decodeError(t, body).Error.Message, `unknown account "team-x"`)
	code, _ = b.hook(t, hookPath("hoox", hooksToken)+"?account=default", `{"asset_id":"a1"}`)
	require.Equal(t, http.StatusAccepted, code)
}

func TestHookTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	body := `{"asset_id":"a","pad":"` + strings.Repeat("x", api.MaxHookBodyBytes) + `"}`
	code, resp := b.hook(t, hookPath("hoox", hooksToken), body)
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Equal(t, api.CodeTooLarge, decodeError(t, resp).Error.Code)
	require.Equal(t, 1, b.hookCount(t, "hoox", api.HookTooLarge))
}

// waitWaiting waits until the generation has been polled polls times and
// waits in the retry set, and returns how many status calls it has cost.
func (b *bundle) waitWaiting(t *testing.T, provider, id string, polls int) int {
	t.Helper()
	b.WaitFor(t, genwatch.TaskID(provider, id), func(g genwatch.Generation) bool {
		return g.Polls == polls && g.State == asynq.TaskStateRetry.String()
	})
	return b.Sim.Requests(provider, id)
}

func TestHookFloodCostsOneCall(t *testing.T) {
	t.Parallel()
	b := setup(t, options{config: slowly})
	b.Sim.Create(simulator.Hoox, "busy", simulator.Plan{Outcome: simulator.Never})
	code, _ := b.call(t, http.MethodPost, "/v1/generations", `{"provider":"hoox","generation_id":"busy"}`)
	require.Equal(t, http.StatusAccepted, code)
	before := b.waitWaiting(t, "hoox", "busy", 1)
	require.Equal(t, 1, before)

	const flood = 50
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for range flood {
		wg.Go(func() {
			if code, _ := b.hook(t, hookPath("hoox", hooksToken), `{"asset_id":"busy","status":"completed"}`); code == http.StatusAccepted {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(flood), accepted.Load())
	after := b.waitWaiting(t, "hoox", "busy", 2)
	require.Equal(t, before+1, after, "one extra status call for the whole flood")
	require.Equal(t, 1, b.hookCount(t, "hoox", "polled"))
	require.Equal(t, flood-1, b.hookCount(t, "hoox", "debounced"))
}

func TestHookForUntrackedOrEnded(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	code, _ := b.hook(t, hookPath("hooked", hooksToken), `{"data":{"id":"nobody"}}`)
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, 1, b.hookCount(t, "hooked", "not_waiting"))

	b.Sim.Create(simulator.Hooked, "done", simulator.Plan{})
	code, _ = b.call(t, http.MethodPost, "/v1/generations", `{"provider":"hooked","generation_id":"done"}`)
	require.Equal(t, http.StatusAccepted, code)
	b.waitState(t, "hooked", "done", api.StateEnded)
	calls := b.Sim.Requests(simulator.Hooked, "done")
	code, _ = b.hook(t, hookPath("hooked", hooksToken), `{"data":{"id":"done"}}`)
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, 2, b.hookCount(t, "hooked", "not_waiting"))
	require.Equal(t, calls, b.Sim.Requests(simulator.Hooked, "done"), "an ended generation is not polled again")
}

// relay forwards to the API once the worker is up, so that the simulator,
// made first, can be given the URL of its webhooks.
type relay struct {
	target atomic.Pointer[url.URL]
	srv    *httptest.Server
}

func newRelay(t *testing.T) *relay {
	t.Helper()
	r := &relay{}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(r.target.Load()) }}
	r.srv = httptest.NewServer(proxy)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *relay) to(b *bundle) {
	r.target.Store(&url.URL{Scheme: "http", Host: b.worker.APIAddr().String()})
}

func TestSimulatorCallbackEndsGenerationAtOnce(t *testing.T) {
	t.Parallel()
	r := newRelay(t)
	b := setup(t, options{config: slowly, sim: simulator.Config{Callbacks: simulator.Callbacks{
		URLs: map[string]string{simulator.Hoox: r.srv.URL + hookPath("hoox", hooksToken)},
	}}})
	r.to(b)

	const run = 3 * time.Second
	end := time.Now().Add(run)
	b.Sim.Create(simulator.Hoox, "img-1", simulator.Plan{RunFor: run, MediaType: simulator.MediaImage})
	code, _ := b.call(t, http.MethodPost, "/v1/generations", `{"provider":"hoox","generation_id":"img-1"}`)
	require.Equal(t, http.StatusAccepted, code)

	g := b.waitState(t, "hoox", "img-1", api.StateEnded)
	require.Equal(t, genwatch.StatusCompleted, g.Event.Status)
	lag := g.Event.DetectedAt.Sub(end)
	require.Less(t, lag, 1500*time.Millisecond, "found %s after the end, polls every 30 s", lag)
	require.Equal(t, 1, b.hookCount(t, "hoox", "polled"))
	require.Equal(t, simulator.CallbackCounts{Sent: 1, Scheduled: 1}, b.Sim.CallbackCounts())
}

func TestLostWebhookStillEndsByPolling(t *testing.T) {
	t.Parallel()
	r := newRelay(t)
	b := setup(t, options{sim: simulator.Config{Callbacks: simulator.Callbacks{
		URLs:     map[string]string{simulator.Hooked: r.srv.URL + hookPath("hooked", hooksToken)},
		LostRate: 1,
	}}})
	r.to(b)
	b.Sim.Create(simulator.Hooked, "v-lost", simulator.Plan{RunFor: 2 * time.Second})
	code, _ := b.call(t, http.MethodPost, "/v1/generations", `{"provider":"hooked","generation_id":"v-lost"}`)
	require.Equal(t, http.StatusAccepted, code)

	g := b.waitState(t, "hooked", "v-lost", api.StateEnded)
	require.Equal(t, genwatch.StatusCompleted, g.Event.Status)
	require.Equal(t, simulator.CallbackCounts{Lost: 1, Scheduled: 1}, b.Sim.CallbackCounts())
	require.Zero(t, b.hookCount(t, "hooked", "polled"))
}

func TestNoTokenInLogs(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	b := setup(t, options{logger: zap.New(core)})
	b.Sim.Create(simulator.Hoox, "x", simulator.Plan{Outcome: simulator.Never})
	b.call(t, http.MethodPost, "/v1/generations", `{"provider":"hoox","generation_id":"x"}`)
	b.callWith(t, http.MethodPost, "/v1/generations", `{"provider":"hoox","generation_id":"y"}`, "Bearer "+otherToken+"-wrong")
	b.waitWaiting(t, "hoox", "x", 1)
	for _, path := range []string{hookPath("hoox", hooksToken), hookPath("hoox", "wrong-"+hooksToken), hookPath("acme", hooksToken)} {
		b.hook(t, path, `{"asset_id":"x"}`)
	}
	require.Eventually(t, func() bool { return logs.FilterMessage("webhook hint").Len() == 1 }, clitest.WaitFor, 10*time.Millisecond)
	var all strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&all, "%s %v\n", e.Message, e.ContextMap())
	}
	for _, secret := range []string{hooksToken, apiToken, otherToken} {
		require.NotContains(t, all.String(), secret)
	}
	require.Contains(t, all.String(), "hoox")
}
