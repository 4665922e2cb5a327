package worker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/simulator"
)

// configuredProviders adds two providers without code: an
// OpenAI-compatible videos API and a declarative one whose answers look
// like no built-in provider's.
const configuredProviders = `
providers:
  vidgen:
    type: openai_videos
  acme:
    type: declarative
    status:
      path: /v2/jobs/{id}/status
      auth: {header: X-Acme-Key}
      state:
        path: job.state
        words: {queued: pending, working: running, done: completed, error: failed}
      fields:
        progress: job.progress
        url: job.output.url
        thumbnail_url: job.output.poster
        dimensions: job.output.size
        size_bytes: job.output.bytes
        duration_seconds: job.output.seconds
        cost: job.credits
        model: job.model
        error_code: job.error.code
        error_message: job.error.message
      webhook_id: job.id
`

// TestProvidersAddedByConfiguration tracks generations at a declarative
// provider and at an OpenAI-compatible videos API, both added by
// configuration alone, through the worker, Redis and the simulator
// imitating them, to a completed and a failed event each.
func TestProvidersAddedByConfiguration(t *testing.T) {
	t.Parallel()
	e := clitest.NewWithProviders(t, configuredProviders)
	for _, p := range []string{"acme", "vidgen"} {
		e.Sim.Create(p, "ok-1", simulator.Plan{PendingFor: time.Second, RunFor: 2 * time.Second,
			Width: 1280, Height: 720, DurationSeconds: 8, SizeBytes: 4_000_000, Cost: 6})
		e.Sim.Create(p, "bad-1", simulator.Plan{RunFor: time.Second, Outcome: simulator.Fail,
			FailCode: "moderation", FailMessage: "The prompt was rejected."})
	}
	e.Start(t)

	want := map[string]genwatch.Status{}
	for _, p := range []string{"acme", "vidgen"} {
		want[e.Track(t, p, "ok-1")] = genwatch.StatusCompleted
		want[e.Track(t, p, "bad-1")] = genwatch.StatusFailed
	}
	for taskID := range want {
		e.WaitFor(t, taskID, genwatch.Generation.Ended)
	}

	events := e.Events(t)
	require.Len(t, events, len(want))
	for _, ev := range events {
		taskID := genwatch.TaskID(ev.Provider, ev.GenerationID)
		require.Equal(t, want[taskID], ev.Status, taskID)
		require.Equal(t, genwatch.DefaultAccount, ev.Account)
		require.Equal(t, "video", ev.MediaType)
		require.Positive(t, ev.Polls)
		require.NotEmpty(t, ev.Raw)
		if ev.Status == genwatch.StatusFailed {
			require.Equal(t, &genwatch.EventError{Code: genwatch.CodeGenerationFailed, Message: "The prompt was rejected."}, ev.Error, taskID)
			continue
		}
		require.Nil(t, ev.Error)
		require.Equal(t, "https://cdn.example.com/"+ev.Provider+"/ok-1.mp4", ev.URL, taskID)
		require.Equal(t, 1280, ev.Width, taskID)
		require.Equal(t, 720, ev.Height, taskID)
		require.Equal(t, 8.0, ev.DurationSeconds, taskID)
		require.Equal(t, new(100), ev.Progress, taskID)
		if ev.Provider == "acme" {
			require.Equal(t, "done", ev.ProviderStatus)
			require.Equal(t, "https://cdn.example.com/acme/ok-1.jpg", ev.ThumbnailURL)
			require.Equal(t, int64(4_000_000), ev.SizeBytes)
			require.Equal(t, new(6.0), ev.Cost)
		} else {
			require.Equal(t, "completed", ev.ProviderStatus)
		}
	}
}
