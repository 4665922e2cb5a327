package worker

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// DashboardPath is where the asynqmon dashboard is served.
const DashboardPath = "/monitoring"

// handler serves /metrics, /healthz, /readyz and the dashboard.
func (w *Worker) handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(rw, "ok")
	})
	mux.HandleFunc("GET /readyz", w.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	dashOpts := asynqmon.Options{
		RootPath:         DashboardPath,
		RedisConnOpt:     sharedConn{w.rdb},
		PayloadFormatter: asynqmon.PayloadFormatterFunc(func(_ string, b []byte) string { return indentJSON(b) }),
		ResultFormatter:  asynqmon.ResultFormatterFunc(func(_ string, b []byte) string { return indentJSON(withoutRaw(b)) }),
		ReadOnly:         w.cfg.HTTPAuth.ReadOnly,
	}
	mux.Handle(DashboardPath+"/", slashIDs(dashOpts, asynq.NewInspectorFromRedisClient(w.rdb), wholeIDs(asynqmon.New(dashOpts))))
	mux.Handle("GET "+DashboardPath, http.RedirectHandler(DashboardPath+"/", http.StatusMovedPermanently))

	auth := w.cfg.HTTPAuth
	if auth.Username == "" {
		return mux
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			mux.ServeHTTP(rw, r)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(auth.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pass), []byte(auth.Password.Reveal())) != 1 {
			rw.Header().Set("WWW-Authenticate", `Basic realm="genwatch"`)
			http.Error(rw, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(rw, r)
	})
}

// serveReady answers 200 when Redis answers and the asynq server runs.
func (w *Worker) serveReady(rw http.ResponseWriter, r *http.Request) {
	if !w.running.Load() {
		http.Error(rw, "not ready: the worker is not processing", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := w.rdb.Ping(ctx).Err(); err != nil {
		http.Error(rw, "not ready: redis: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(rw, "ready")
}

// sharedConn hands the worker's Redis client to asynqmon, which asks for a
// RedisConnOpt. The dashboard is never closed on its own, so the client
// stays the worker's.
type sharedConn struct{ c redis.UniversalClient }

var _ asynq.RedisConnOpt = sharedConn{}

func (s sharedConn) MakeRedisClient() any { return s.c }

// withoutRaw shortens an event for the dashboard: the provider's body,
// which can be long, is replaced by its size. The stored event keeps it.
func withoutRaw(b []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m["raw"] == nil {
		return b
	}
	m["raw"] = json.RawMessage(fmt.Sprintf(`"(%d bytes, in the event on the stream)"`, len(m["raw"])))
	out, err := json.Marshal(m)
	if err != nil {
		return b
	}
	return out
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}
