package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func TestPlainAsynqClientGetsItsEvent(t *testing.T) {
	srv := redistest.New(t)
	sim := simulator.New(simulator.Config{})
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	sim.Create(genwatch.ProviderHooked, "vid_abc123", simulator.Plan{RunFor: time.Second, URL: "https://cdn.example.com/v.mp4"})

	cfg := config.Default()
	cfg.Redis.URL = srv.URL
	cfg.HTTPAddr = "off"
	cfg.Poll.Initial, cfg.Poll.Max = time.Second, time.Second
	cfg.Providers[genwatch.ProviderHooked] = config.Provider{BaseURL: hs.URL, Accounts: map[string]config.Account{"default": {APIKey: secret.Value("k")}}}
	w, err := worker.New(cfg, worker.Options{Redis: srv.Client})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--redis-url", srv.URL, "--provider", "hooked", "--id", "vid_abc123"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Equal(t, "tracking hooked:vid_abc123\n"+
		genwatch.EventID("hooked", "vid_abc123", genwatch.StatusCompleted)+" completed https://cdn.example.com/v.mp4\n", stdout.String())

	cancel()
	require.NoError(t, <-done)
}
