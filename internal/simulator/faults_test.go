package simulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
