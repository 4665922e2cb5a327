package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/api"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// BenchmarkTrackBatch posts batches of 1,000 tracking requests to the API
// of a worker configured as in production (default concurrency and poll
// policy) that polls every generation it tracks from the simulator at the
// same time, and reports generations tracked per second. Run it on a real
// Redis (docs/benchmarks.md):
//
//	GENWATCH_TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench TrackBatch -benchtime 30x ./internal/api
func BenchmarkTrackBatch(b *testing.B) {
	env := clitest.NewWith(b, redistest.New(b), redistest.Name(b, "q"), simulator.Config{AutoCreate: true})
	def := config.Default()
	env.Config.Concurrency = def.Concurrency
	env.Config.Poll = def.Poll
	env.Config.APIAddr = "127.0.0.1:0"
	env.Config.APITokens = []secret.Value{apiToken}
	w, err := worker.New(env.Config, worker.Options{Redis: env.Redis.Client, Logger: zaptest.NewLogger(b, zaptest.Level(zap.ErrorLevel))})
	require.NoError(b, err)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- w.Run(ctx) }()
	b.Cleanup(func() { cancel(); require.NoError(b, <-done) })
	url := "http://" + w.APIAddr().String() + "/v1/generations"

	bodies := make([][]byte, b.N)
	for i := range b.N {
		reqs := make([]map[string]string, api.MaxBatch)
		for j := range reqs {
			reqs[j] = map[string]string{"provider": "hooked", "generation_id": fmt.Sprintf("bench-%d-%d", i, j)}
		}
		bodies[i], err = json.Marshal(map[string]any{"requests": reqs})
		require.NoError(b, err)
	}
	b.ResetTimer()
	for i := range b.N {
		req, _ := http.NewRequestWithContext(b.Context(), http.MethodPost, url, bytes.NewReader(bodies[i]))
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(b, http.StatusAccepted, resp.StatusCode)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*api.MaxBatch)/b.Elapsed().Seconds(), "generations/s")
}
