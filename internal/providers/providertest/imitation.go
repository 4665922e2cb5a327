package providertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/secret"
)

// RunImitation checks a Definition against itself, with no fixtures: the
// body its Imitation renders for a generation in each state is read back
// by its adapter as that state, with the media of a completed generation
// and the message of a failed one, and its webhook ID paths find the
// generation's ID in that body (a provider's webhook carries the body of
// its status answer, or the ID where that body keeps it). Run calls it;
// the registry's test calls it for every registered provider.
func RunImitation(t *testing.T, def providers.Definition) {
	t.Helper()
	require.True(t, providers.ValidName(def.Name), "name %q", def.Name)
	require.NotNil(t, def.Imitation.Render, "%s: Imitation.Render is required", def.Name)
	require.NotEmpty(t, def.WebhookIDPaths, "%s: WebhookIDPaths is required", def.Name)
	created := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	base := providers.Imitated{
		ID:        "gen/imitated 1",
		CreatedAt: created, UpdatedAt: created.Add(12 * time.Second),
		MediaType: providers.MediaVideo,
		URL:       "https://cdn.example.com/gen-1.mp4", ThumbnailURL: "https://cdn.example.com/gen-1.jpg",
		Width: 1280, Height: 720, DurationSeconds: 8, SizeBytes: 2_000_000, Cost: 3,
		Model:     "sim-video",
		ErrorCode: "content_policy_violation", ErrorMessage: "The prompt was flagged.",
	}
	if types := def.Imitation.MediaTypes; len(types) > 0 {
		base.MediaType = types[0]
	}
	for _, tc := range []struct {
		state    providers.State
		progress int
	}{
		{providers.StatePending, 0},
		{providers.StateRunning, 40},
		{providers.StateCompleted, 100},
		{providers.StateFailed, 60},
	} {
		t.Run(tc.state.String(), func(t *testing.T) {
			t.Parallel()
			g := base
			g.State, g.Progress = tc.state, tc.progress
			body, err := json.Marshal(def.Imitation.Render(g))
			require.NoError(t, err)

			id, ok := def.WebhookID(body)
			require.True(t, ok, "no generation ID at %v in %s", def.WebhookIDPaths, body)
			require.Equal(t, g.ID, id)

			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			}))
			t.Cleanup(srv.Close)
			p, err := def.New(providers.Config{BaseURL: srv.URL, APIKey: secret.Value(apiKey),
				HTTP: providers.HTTPConfig{Client: srv.Client()}})
			require.NoError(t, err)
			st, err := p.Status(t.Context(), g.ID)
			require.NoError(t, err, "the adapter cannot read its imitation: %s", body)
			want := []providers.State{tc.state}
			if tc.state == providers.StatePending {
				// A provider without a queued state reports it as running.
				want = append(want, providers.StateRunning)
			}
			require.Contains(t, want, st.State, "state of %s", body)
			if st.Progress != nil && tc.state == providers.StateRunning {
				require.Equal(t, tc.progress, *st.Progress)
			}
			switch tc.state {
			case providers.StateCompleted:
				require.Equal(t, g.URL, st.URL)
				require.Equal(t, g.MediaType, st.MediaType)
			case providers.StateFailed:
				require.Equal(t, g.ErrorMessage, st.ErrorMessage)
			}
		})
	}
}
