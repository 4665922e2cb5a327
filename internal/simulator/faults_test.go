package simulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/simulator"
)

func TestForceStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		provider string
		status   int
		want     string
	}{
		{"hoox 503", simulator.Hoox, 503, `{"error":{"code":"service_unavailable","message":"Service Unavailable"}}`},
		{"hooked 403", simulator.Hooked, 403, `{"success":false,"message":"Forbidden"}`},
		{"token360 401", simulator.Token360, 401, `{"error":{"code":"unauthorized","message":"Unauthorized"}}`},
		{"unnamed status", simulator.Token360, 599, `{"error":{"code":"status_599","message":"Status 599"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(tt.provider, "gen-1", simulator.Plan{})
			tb.sim.SetFaults(tt.provider, simulator.Faults{ForceStatus: tt.status})

			for range 3 {
				res := tb.get(tt.provider, "gen-1")
				require.Equal(t, tt.status, res.code)
				require.JSONEq(t, tt.want, string(res.body))
			}
			res := tb.serve(newRequest(tt.provider, "gen-1", ""))
			require.Equal(t, tt.status, res.code, "faults come before the key check")

			tb.sim.SetFaults(tt.provider, simulator.Faults{})
			require.Equal(t, http.StatusOK, tb.get(tt.provider, "gen-1").code, "cleared")
			require.Equal(t, 5, tb.sim.Requests(tt.provider, "gen-1"), "faulted requests count")
		})
	}
}

func TestFaultsArePerProvider(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Config{AutoCreate: true})
	tb.sim.SetFaults(simulator.Hooked, simulator.Faults{ForceStatus: http.StatusBadGateway})

	require.Equal(t, http.StatusBadGateway, tb.get(simulator.Hooked, "gen-1").code)
	require.Equal(t, http.StatusOK, tb.get(simulator.Hoox, "gen-1").code)
	require.Equal(t, http.StatusOK, tb.get(simulator.Token360, "gen-1").code)
}

func TestErrorRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		rate       float64
		wantMin    int // errors out of 1000
		wantMax    int
		checkCodes bool
	}{
		{desc: "never", rate: 0, wantMin: 0, wantMax: 0},
		{desc: "a quarter", rate: 0.25, wantMin: 200, wantMax: 300},
		{desc: "always", rate: 1, wantMin: 1000, wantMax: 1000, checkCodes: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{AutoCreate: true, Seed: 7})
			tb.sim.SetFaults(simulator.Hoox, simulator.Faults{ErrorRate: tt.rate})

			codes := map[int]int{}
			errors := 0
			for range 1000 {
				res := tb.get(simulator.Hoox, "gen-1")
				codes[res.code]++
				if res.code == http.StatusOK {
					continue
				}
				errors++
				switch res.code {
				case http.StatusInternalServerError:
					require.Equal(t, "application/json", res.header.Get("Content-Type"))
					require.JSONEq(t, `{"error":{"code":"internal_error","message":"Internal server error"}}`, string(res.body))
				case http.StatusBadGateway, http.StatusServiceUnavailable:
					require.Equal(t, "text/html", res.header.Get("Content-Type"), "a gateway answers in HTML")
					require.Contains(t, string(res.body), fmt.Sprintf("<title>%d %s</title>", res.code, http.StatusText(res.code)))
				default:
					t.Fatalf("unexpected status %d", res.code)
				}
			}
			require.GreaterOrEqual(t, errors, tt.wantMin)
			require.LessOrEqual(t, errors, tt.wantMax)
			if tt.checkCodes {
				require.Positive(t, codes[500])
				require.Positive(t, codes[502])
				require.Positive(t, codes[503])
			}
		})
	}
}

func TestFaultsAreSeeded(t *testing.T) {
	t.Parallel()
	codes := func(seed int64) []int {
		tb := setup(t, simulator.Config{AutoCreate: true, Seed: seed})
		tb.sim.SetFaults(simulator.Token360, simulator.Faults{ErrorRate: 0.3, RateLimitRate: 0.3})
		var got []int
		for range 200 {
			got = append(got, tb.get(simulator.Token360, "gen-1").code)
		}
		return got
	}
	require.Equal(t, codes(1), codes(1), "same seed, same faults")
	require.NotEqual(t, codes(1), codes(2), "another seed, other faults")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		provider   string
		retryAfter time.Duration
		wantHeader string
		wantBody   string
	}{
		{"whole seconds", simulator.Token360, 3 * time.Second, "3", `{"error":{"code":"rate_limit_exceeded","message":"Too many requests"}}`},
		{"rounded up", simulator.Hoox, 1500 * time.Millisecond, "2", `{"error":{"code":"rate_limit_exceeded","message":"Too many requests"}}`},
		{"no header", simulator.Hooked, 0, "", `{"success":false,"message":"Too many requests"}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{AutoCreate: true})
			tb.sim.SetFaults(tt.provider, simulator.Faults{RateLimitRate: 1, RetryAfter: tt.retryAfter})

			res := tb.get(tt.provider, "gen-1")
			require.Equal(t, http.StatusTooManyRequests, res.code)
			require.Equal(t, tt.wantHeader, res.header.Get("Retry-After"))
			require.JSONEq(t, tt.wantBody, string(res.body))
		})
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(provider, "gen-1", simulator.Plan{})
			good := tb.get(provider, "gen-1")
			require.True(t, json.Valid(good.body))

			tb.sim.SetFaults(provider, simulator.Faults{MalformedRate: 1})
			bad := tb.get(provider, "gen-1")
			require.Equal(t, http.StatusOK, bad.code)
			require.Equal(t, "application/json", bad.header.Get("Content-Type"))
			require.False(t, json.Valid(bad.body), "body: %s", bad.body)
			require.True(t, strings.HasPrefix(string(good.body), string(bad.body)), "the body is cut short")

			require.Equal(t, http.StatusNotFound, tb.get(provider, "unknown").code, "only answers with a generation are garbled")
		})
	}
}

func TestVanishAfter(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Config{})
	tb.sim.Create(simulator.Hooked, "gen-1", simulator.Plan{})
	tb.sim.SetFaults(simulator.Hooked, simulator.Faults{VanishAfter: 10 * time.Second})

	require.Equal(t, http.StatusOK, tb.get(simulator.Hooked, "gen-1").code)
	tb.clock.Advance(10*time.Second - time.Millisecond)
	require.Equal(t, http.StatusOK, tb.get(simulator.Hooked, "gen-1").code)
	tb.clock.Advance(time.Millisecond)
	res := tb.get(simulator.Hooked, "gen-1")
	require.Equal(t, http.StatusNotFound, res.code)
	require.JSONEq(t, `{"success":false,"message":"Video not found"}`, string(res.body))
	require.EqualValues(t, 1, tb.sim.InjectedFaults().Vanished)
}

// serveAsync serves r in the background and returns the recorder and a
// channel closed when the handler has returned.
func (tb *testBundle) serveAsync(r *http.Request) (*httptest.ResponseRecorder, <-chan struct{}) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tb.sim.ServeHTTP(rec, r)
	}()
	return rec, done
}

func requireRunning(t *testing.T, done <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-done:
		t.Fatal(msg)
	default:
	}
}

func requireUnanswered(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Zero(t, rec.Body.Len(), "no body")
	require.Empty(t, rec.Header(), "no headers")
}

func TestLatency(t *testing.T) {
	t.Parallel()
	const latency = 2 * time.Second

	t.Run("answers after the latency", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, simulator.Config{AutoCreate: true})
		tb.sim.SetFaults(simulator.Hoox, simulator.Faults{Latency: latency})

		rec, done := tb.serveAsync(newRequest(simulator.Hoox, "gen-1", testKey))
		require.NoError(t, tb.clock.BlockUntilContext(t.Context(), 1))
		requireRunning(t, done, "answered before the latency")
		tb.clock.Advance(latency - time.Millisecond)
		requireRunning(t, done, "answered before the latency")
		tb.clock.Advance(time.Millisecond)
		<-done
		require.Equal(t, http.StatusOK, rec.Code)
		require.True(t, json.Valid(rec.Body.Bytes()))
	})

	t.Run("stops when the client gives up", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, simulator.Config{AutoCreate: true})
		tb.sim.SetFaults(simulator.Hoox, simulator.Faults{Latency: time.Hour})

		ctx, cancel := context.WithCancel(t.Context())
		rec, done := tb.serveAsync(newRequest(simulator.Hoox, "gen-1", testKey).WithContext(ctx))
		require.NoError(t, tb.clock.BlockUntilContext(t.Context(), 1))
		cancel()
		<-done
		requireUnanswered(t, rec)
	})

	t.Run("released by Close", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, simulator.Config{AutoCreate: true})
		tb.sim.SetFaults(simulator.Token360, simulator.Faults{Latency: time.Hour})

		rec, done := tb.serveAsync(newRequest(simulator.Token360, "gen-1", testKey))
		require.NoError(t, tb.clock.BlockUntilContext(t.Context(), 1))
		tb.sim.Close()
		<-done
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.JSONEq(t, `{"error":{"code":"service_unavailable","message":"The simulator is shutting down"}}`, rec.Body.String())
	})
}

func TestHang(t *testing.T) {
	t.Parallel()

	t.Run("until the client gives up", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, simulator.Config{AutoCreate: true})
		tb.sim.SetFaults(simulator.Hooked, simulator.Faults{Hang: true, Latency: time.Second})

		ctx, cancel := context.WithCancel(t.Context())
		rec, done := tb.serveAsync(newRequest(simulator.Hooked, "gen-1", testKey).WithContext(ctx))
		tb.clock.Advance(1000 * time.Hour)
		requireRunning(t, done, "a hung request answered")
		cancel()
		<-done
		requireUnanswered(t, rec)
		require.Equal(t, 1, tb.sim.Requests(simulator.Hooked, "gen-1"))
	})

	t.Run("until Close", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, simulator.Config{AutoCreate: true})
		tb.sim.SetFaults(simulator.Hooked, simulator.Faults{Hang: true})

		rec, done := tb.serveAsync(newRequest(simulator.Hooked, "gen-1", testKey))
		tb.sim.Close()
		tb.sim.Close()
		<-done
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.JSONEq(t, `{"success":false,"message":"The simulator is shutting down"}`, rec.Body.String())

		tb.sim.SetFaults(simulator.Hooked, simulator.Faults{})
		require.Equal(t, http.StatusOK, tb.get(simulator.Hooked, "gen-1").code, "served as before once closed")
	})
}

func TestStatusRates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		rates map[int]float64
		// wantJSON is the body of each JSON status; the others are HTML.
		wantJSON map[int]string
	}{
		{
			desc:  "each 5xx at its own rate",
			rates: map[int]float64{500: 0.1, 502: 0.05, 503: 0.1, 504: 0.05},
			wantJSON: map[int]string{
				500: `{"error":{"code":"internal_error","message":"Internal server error"}}`,
			},
		},
		{
			desc:  "4xx in the provider's shape",
			rates: map[int]float64{400: 0.1, 409: 0.1, 429: 0.1},
			wantJSON: map[int]string{
				400: `{"error":{"code":"bad_request","message":"Bad Request"}}`,
				409: `{"error":{"code":"conflict","message":"Conflict"}}`,
				429: `{"error":{"code":"rate_limit_exceeded","message":"Too many requests"}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			const n = 4000
			tb := setup(t, simulator.Config{AutoCreate: true, Seed: 3})
			tb.sim.SetFaults(simulator.Token360, simulator.Faults{StatusRates: tt.rates, RetryAfter: 2 * time.Second})

			got := map[int]int64{}
			for range n {
				res := tb.get(simulator.Token360, "gen-1")
				if res.code == http.StatusOK {
					continue
				}
				got[res.code]++
				if want, ok := tt.wantJSON[res.code]; ok {
					require.Equal(t, "application/json", res.header.Get("Content-Type"))
					require.JSONEq(t, want, string(res.body))
				} else {
					require.Equal(t, "text/html", res.header.Get("Content-Type"), "status %d", res.code)
					require.Contains(t, string(res.body), fmt.Sprintf("<title>%d %s</title>", res.code, http.StatusText(res.code)))
				}
				if res.code == http.StatusTooManyRequests {
					require.Equal(t, "2", res.header.Get("Retry-After"))
				}
			}
			require.Len(t, got, len(tt.rates), "every status and no other: %v", got)
			for status, rate := range tt.rates {
				want := rate * n
				require.InDelta(t, want, float64(got[status]), want/4, "status %d", status)
			}
			require.Equal(t, got, tb.sim.InjectedFaults().Statuses, "counted by status")
		})
	}
}

func TestRateLimitBurst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		every time.Duration
		// limited are the offsets from SetFaults answered 429; free those
		// answered 200.
		limited, free []time.Duration
	}{
		{
			desc:    "one burst",
			limited: []time.Duration{0, 5*time.Second - time.Millisecond},
			free:    []time.Duration{5 * time.Second, time.Minute, time.Minute + time.Second},
		},
		{
			desc:    "a burst every minute",
			every:   time.Minute,
			limited: []time.Duration{0, 4 * time.Second, time.Minute, time.Minute + 4*time.Second, 10 * time.Minute},
			free:    []time.Duration{5 * time.Second, 59 * time.Second, time.Minute + 5*time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(simulator.Hoox, "gen-1", simulator.Plan{})
			start := tb.clock.Now()
			tb.sim.SetFaults(simulator.Hoox, simulator.Faults{RateLimitBurst: 5 * time.Second, RateLimitEvery: tt.every, RetryAfter: 3 * time.Second})

			codeAt := func(offset time.Duration) response {
				tb.clock.Advance(start.Add(offset).Sub(tb.clock.Now()))
				return tb.get(simulator.Hoox, "gen-1")
			}
			at := append(append([]time.Duration(nil), tt.limited...), tt.free...)
			slices.Sort(at)
			for _, offset := range at {
				res := codeAt(offset)
				if slices.Contains(tt.limited, offset) {
					require.Equal(t, http.StatusTooManyRequests, res.code, "at %s", offset)
					require.Equal(t, "3", res.header.Get("Retry-After"))
					require.JSONEq(t, `{"error":{"code":"rate_limit_exceeded","message":"Too many requests"}}`, string(res.body))
				} else {
					require.Equal(t, http.StatusOK, res.code, "at %s", offset)
				}
			}
			require.EqualValues(t, len(tt.limited), tb.sim.InjectedFaults().BurstRateLimited)
		})
	}
}

func TestHangRate(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Config{AutoCreate: true, Seed: 11})
	tb.sim.SetFaults(simulator.Hooked, simulator.Faults{HangRate: 0.25})

	// Each client has already given up, so a held request returns at once,
	// unanswered.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	held := 0
	for range 1000 {
		rec := httptest.NewRecorder()
		tb.sim.ServeHTTP(rec, newRequest(simulator.Hooked, "gen-1", testKey).WithContext(ctx))
		if rec.Body.Len() == 0 {
			requireUnanswered(t, rec)
			held++
			continue
		}
		require.Equal(t, http.StatusOK, rec.Code)
	}
	require.InDelta(t, 250, held, 50)
	require.EqualValues(t, held, tb.sim.InjectedFaults().Hung)

	t.Run("until Close", func(t *testing.T) {
		tb.sim.SetFaults(simulator.Hooked, simulator.Faults{HangRate: 1})
		rec, done := tb.serveAsync(newRequest(simulator.Hooked, "gen-1", testKey))
		tb.clock.Advance(1000 * time.Hour)
		requireRunning(t, done, "a hung request answered")
		tb.sim.Close()
		<-done
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	})
}

// server starts an HTTP server in front of tb's simulator.
func (tb *testBundle) server(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(tb.sim)
	t.Cleanup(srv.Close)
	t.Cleanup(tb.sim.Close) // before srv.Close: release held requests
	return srv
}

// do sends a status request for id to srv and returns the response, its
// body unread.
func do(t *testing.T, srv *httptest.Server, provider, id string) *http.Response {
	t.Helper()
	req := newRequest(provider, id, testKey)
	req.RequestURI = ""
	req.URL.Scheme, req.URL.Host = "http", srv.Listener.Addr().String()
	req = req.WithContext(t.Context())
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(provider, "gen-1", simulator.Plan{})
			srv := tb.server(t)
			good, err := io.ReadAll(do(t, srv, provider, "gen-1").Body)
			require.NoError(t, err)

			tb.sim.SetFaults(provider, simulator.Faults{TruncateRate: 1})
			resp := do(t, srv, provider, "gen-1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, int64(len(good)), resp.ContentLength, "the whole body is announced")
			got, err := io.ReadAll(resp.Body)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			require.Equal(t, string(good[:len(good)/2]), string(got), "the first half arrives")
			require.EqualValues(t, 1, tb.sim.InjectedFaults().Truncated)

			rec := httptest.NewRecorder()
			tb.sim.ServeHTTP(rec, newRequest(provider, "gen-1", testKey))
			require.Equal(t, strconv.Itoa(len(good)), rec.Header().Get("Content-Length"), "without a connection to drop")
			require.Equal(t, string(good[:len(good)/2]), rec.Body.String())
		})
	}
}

func TestSlowBody(t *testing.T) {
	t.Parallel()
	const slow = 4 * time.Second

	// start serves one slow body through a real server and returns the
	// response, its headers read, and a channel that yields the body.
	start := func(t *testing.T, tb *testBundle, ctx context.Context) (*http.Response, []byte, <-chan []byte) {
		t.Helper()
		tb.sim.Create(simulator.Hoox, "gen-1", simulator.Plan{})
		srv := tb.server(t)
		good, err := io.ReadAll(do(t, srv, simulator.Hoox, "gen-1").Body)
		require.NoError(t, err)

		tb.sim.SetFaults(simulator.Hoox, simulator.Faults{SlowBodyRate: 1, SlowBody: slow})
		req := newRequest(simulator.Hoox, "gen-1", testKey)
		req.RequestURI = ""
		req.URL.Scheme, req.URL.Host = "http", srv.Listener.Addr().String()
		resp, err := srv.Client().Do(req.WithContext(ctx))
		require.NoError(t, err, "the headers come at once")
		t.Cleanup(func() { resp.Body.Close() })
		body := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(resp.Body)
			body <- b
		}()
		return resp, good, body
	}

	t.Run("trickles over the whole time", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, simulator.Config{})
		resp, good, body := start(t, tb, t.Context())
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, int64(len(good)), resp.ContentLength)
		for range 4 {
			require.NoError(t, tb.clock.BlockUntilContext(t.Context(), 1))
			select {
			case <-body:
				t.Fatal("the body ended early")
			default:
			}
			tb.clock.Advance(slow / 4)
		}
		require.Equal(t, string(good), string(<-body))
		require.EqualValues(t, 1, tb.sim.InjectedFaults().SlowBodies)
	})

	t.Run("stops when the client gives up", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, simulator.Config{})
		ctx, cancel := context.WithCancel(t.Context())
		_, good, body := start(t, tb, ctx)
		require.NoError(t, tb.clock.BlockUntilContext(t.Context(), 1))
		tb.clock.Advance(slow / 4)
		require.NoError(t, tb.clock.BlockUntilContext(t.Context(), 1))
		cancel()
		got := <-body
		require.Less(t, len(got), len(good))
		require.NoError(t, tb.clock.BlockUntilContext(t.Context(), 0), "the handler has let its timer go")
	})

	t.Run("sent at once by Close", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, simulator.Config{})
		_, good, body := start(t, tb, t.Context())
		require.NoError(t, tb.clock.BlockUntilContext(t.Context(), 1))
		tb.sim.Close()
		require.Equal(t, string(good), string(<-body))
	})
}

func TestPlanVanishAfter(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Config{})
	tb.sim.Create(simulator.Token360, "gen-1", simulator.Plan{RunFor: time.Minute, Outcome: simulator.Never, VanishAfter: 10 * time.Second})
	tb.sim.Create(simulator.Token360, "gen-2", simulator.Plan{RunFor: time.Minute, Outcome: simulator.Never})

	require.Equal(t, http.StatusOK, tb.get(simulator.Token360, "gen-1").code)
	tb.clock.Advance(10*time.Second - time.Millisecond)
	require.Equal(t, http.StatusOK, tb.get(simulator.Token360, "gen-1").code)
	tb.clock.Advance(time.Millisecond)
	for range 2 {
		res := tb.get(simulator.Token360, "gen-1")
		require.Equal(t, http.StatusNotFound, res.code)
		require.JSONEq(t, `{"error":{"code":"not_found","message":"Video not found"}}`, string(res.body))
	}
	require.Equal(t, http.StatusOK, tb.get(simulator.Token360, "gen-2").code, "only that generation vanishes")
	require.EqualValues(t, 2, tb.sim.InjectedFaults().Vanished)
	require.Equal(t, 4, tb.sim.Requests(simulator.Token360, "gen-1"))
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Config{AutoCreate: true})
	require.Equal(t, simulator.FaultCounts{Statuses: map[int]int64{}}, tb.sim.InjectedFaults(), "none yet")

	tb.sim.SetFaults(simulator.Hoox, simulator.Faults{ForceStatus: http.StatusBadGateway})
	tb.get(simulator.Hoox, "gen-1")
	tb.get(simulator.Hoox, "gen-1")
	tb.sim.SetFaults(simulator.Hoox, simulator.Faults{RateLimitRate: 1})
	tb.get(simulator.Hoox, "gen-1")
	tb.sim.SetFaults(simulator.Hoox, simulator.Faults{MalformedRate: 1})
	tb.get(simulator.Hoox, "gen-1")
	tb.sim.SetFaults(simulator.Hoox, simulator.Faults{VanishAfter: time.Nanosecond})
	tb.clock.Advance(time.Second)
	tb.get(simulator.Hoox, "gen-1")
	tb.sim.SetFaults(simulator.Hoox, simulator.Faults{StatusRates: map[int]float64{}})
	tb.get(simulator.Hoox, "gen-1") // an empty map is no fault

	got := tb.sim.InjectedFaults()
	want := simulator.FaultCounts{Statuses: map[int]int64{502: 2}, RateLimited: 1, Malformed: 1, Vanished: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InjectedFaults (-want +got):\n%s", diff)
	}
	require.EqualValues(t, 5, got.Total())
}
