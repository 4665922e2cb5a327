package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/workload"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// TestRunMeasuresEveryPolicy runs a small workload at a twentieth of its
// real durations: every generation of every policy ends completed and is
// counted, and the plot is drawn.
func TestRunMeasuresEveryPolicy(t *testing.T) {
	srv := redistest.New(t)
	cfg := Config{
		RedisURL:    srv.URL,
		Force:       true,
		Generations: 6,
		Spread:      2 * time.Second,
		Kinds:       []workload.Kind{workload.Mixed, workload.Webhooks},
		Scale:       0.05,
	}
	rep, err := Run(t.Context(), cfg, testWriter{t})
	require.NoError(t, err)

	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.Round+"/"+r.Workload+"/"+r.Policy] = true
		require.Equal(t, cfg.Generations, r.Generations, "%+v", r)
		require.Zero(t, r.Missing, "%+v", r)
		require.Positive(t, r.Calls, "%+v", r)
		require.GreaterOrEqual(t, r.LagP95, r.LagP50, "%+v", r)
	}
	for _, round := range []string{roundCold, roundWarm} {
		for _, want := range []string{"mixed/adaptive", "mixed/backoff", "mixed/fixed-5s", "mixed/fixed-2s", "webhooks/webhooks", "webhooks/backoff"} {
			require.True(t, seen[round+"/"+want], "no result for %s/%s", round, want)
		}
	}

	path := filepath.Join(t.TempDir(), "pace.png")
	require.NoError(t, plotReport(rep, path))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 600)

	var out bytes.Buffer
	printReport(&out, rep)
	require.Contains(t, out.String(), "adaptive")
}

func TestFlags(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	_, _, err := parseFlags([]string{"--redis-url", "redis://127.0.0.1:6379/0", "--generations", "0", "--kinds", "linear,bogus", "--target-lag", "-1s"}, &stderr)
	require.ErrorContains(t, err, "refusing database 0")
	require.ErrorContains(t, err, "--generations: must be at least 1")
	require.ErrorContains(t, err, `unknown workload "bogus"`)
	require.ErrorContains(t, err, "--target-lag: must not be negative")

	cfg, asJSON, err := parseFlags([]string{"--redis-url", "redis://127.0.0.1:6379/14", "--kinds", "mixed, webhooks", "--json", "--target-lag", "4.5s"}, &stderr)
	require.NoError(t, err)
	require.True(t, asJSON)
	require.Equal(t, 4500*time.Millisecond, cfg.TargetLag)
	require.Equal(t, []workload.Kind{workload.Mixed, workload.Webhooks}, cfg.Kinds)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
