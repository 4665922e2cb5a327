package hoox_test

import (
	"net/http"
	"testing"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/hoox"
	"github.com/genwatch/genwatch/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, suite(hoox.Definition()))
}

// suite is the conformance suite of def, which must read Hoox's answers.
func suite(def providers.Definition) providertest.Suite {
	return providertest.Suite{
		Definition:        def,
		DefaultBaseURL:    "https://app.hoox.video",
		Endpoint:          "/api/public/v1/asset/status",
		AuthHeader:        "Authorization",
		AuthFormat:        "Bearer %s",
		UnknownStatusFile: "testdata/unknown_status.json",
		Fixtures: []providertest.Fixture{
			{
				// The documented example: no cost yet, so Cost is nil.
				File: "testdata/generating.json",
				Want: providers.Status{
					State:          providers.StateRunning,
					ProviderStatus: "generating",
					Model:          "veo-3.1",
					MediaType:      providers.MediaVideo,
				},
			},
			{
				File: "testdata/pending.json",
				Want: providers.Status{
					State:          providers.StatePending,
					ProviderStatus: "pending",
					Model:          "flux-pro",
					MediaType:      providers.MediaImage,
				},
			},
			{
				File: "testdata/completed.json",
				Want: providers.Status{
					State:           providers.StateCompleted,
					ProviderStatus:  "completed",
					Model:           "veo-3.1",
					MediaType:       providers.MediaVideo,
					URL:             "https://cdn.hoox.video/assets/662f8c1d3a4b5e6f70123456.mp4",
					ThumbnailURL:    "https://cdn.hoox.video/assets/662f8c1d3a4b5e6f70123456.jpg",
					Width:           720,
					Height:          1280,
					DurationSeconds: 8,
					Cost:            new(12.5),
				},
			},
			{
				// A zero cost is reported, not taken for "unknown".
				File: "testdata/completed_image_free.json",
				Want: providers.Status{
					State:          providers.StateCompleted,
					ProviderStatus: "completed",
					Model:          "flux-pro",
					MediaType:      providers.MediaImage,
					URL:            "https://cdn.hoox.video/assets/662f8c1d3a4b5e6f70123457.png",
					Width:          1024,
					Height:         1024,
					Cost:           new(0.0),
				},
			},
			{
				File: "testdata/completed_audio.json",
				Want: providers.Status{
					State:           providers.StateCompleted,
					ProviderStatus:  "completed",
					Model:           "eleven-v3",
					MediaType:       providers.MediaAudio,
					URL:             "https://cdn.hoox.video/assets/662f8c1d3a4b5e6f70123458.mp3",
					DurationSeconds: 12.48,
					Cost:            new(1.0),
				},
			},
			{
				File: "testdata/failed.json",
				Want: providers.Status{
					State:          providers.StateFailed,
					ProviderStatus: "failed",
					Model:          "veo-3.1",
					MediaType:      providers.MediaVideo,
					ErrorCode:      "content_policy_violation",
					ErrorMessage:   "The prompt was rejected by the provider's content policy.",
				},
			},
			{
				// The error value as a bare string is its message.
				File: "testdata/failed_error_string.json",
				Want: providers.Status{
					State:          providers.StateFailed,
					ProviderStatus: "failed",
					Model:          "veo-3.1",
					MediaType:      providers.MediaVideo,
					ErrorMessage:   "Generation timed out at the upstream provider.",
				},
			},
			{
				File:        "testdata/error_not_found.json",
				StatusCode:  http.StatusNotFound,
				WantErr:     providers.ErrNotFound,
				WantMessage: "Asset not found",
			},
			{
				File:        "testdata/error_unauthorized.json",
				StatusCode:  http.StatusUnauthorized,
				WantErr:     providers.ErrUnauthorized,
				WantMessage: "Invalid API key",
			},
		},
	}
}
