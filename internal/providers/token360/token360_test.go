package token360_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/providertest"
	"github.com/genwatch/genwatch/internal/providers/token360"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, suite(token360.Definition()))
}

// suite is the conformance suite of def, which must read Token360's answers.
func suite(def providers.Definition) providertest.Suite {
	return providertest.Suite{
		Definition:        def,
		DefaultBaseURL:    "https://api.token360.ai",
		Endpoint:          "/v1/videos",
		AuthHeader:        "Authorization",
		AuthFormat:        "Bearer %s",
		UnknownStatusFile: "testdata/unknown_status.json",
		Fixtures: []providertest.Fixture{
			{
				// The documented example.
				File: "testdata/completed.json",
				Want: providers.Status{
					State:           providers.StateCompleted,
					ProviderStatus:  "completed",
					Model:           "seedance-2.0",
					Progress:        new(100),
					MediaType:       providers.MediaVideo,
					UpdatedAt:       time.Unix(1776352105, 0).UTC(),
					URL:             "your-video-url",
					DurationSeconds: 4,
				},
			},
			{
				// Without url the media is video_url; last_frame_url is
				// not a thumbnail.
				File: "testdata/completed_video_url_only.json",
				Want: providers.Status{
					State:           providers.StateCompleted,
					ProviderStatus:  "completed",
					Model:           "kling-2.1",
					MediaType:       providers.MediaVideo,
					UpdatedAt:       time.Unix(1776352240, 0).UTC(),
					URL:             "https://cdn.token360.ai/videos/video_7f3a9c.mp4",
					DurationSeconds: 10,
				},
			},
			{
				File: "testdata/queued.json",
				Want: providers.Status{
					State:          providers.StatePending,
					ProviderStatus: "queued",
					Model:          "kling-2.1",
					MediaType:      providers.MediaVideo,
					UpdatedAt:      time.Unix(1776352017, 0).UTC(),
				},
			},
			{
				File: "testdata/in_progress.json",
				Want: providers.Status{
					State:          providers.StateRunning,
					ProviderStatus: "in_progress",
					Model:          "seedance-2.0",
					Progress:       new(40),
					MediaType:      providers.MediaVideo,
					UpdatedAt:      time.Unix(1776352061, 0).UTC(),
				},
			},
			{
				File: "testdata/failed.json",
				Want: providers.Status{
					State:          providers.StateFailed,
					ProviderStatus: "failed",
					Model:          "seedance-2.0",
					MediaType:      providers.MediaVideo,
					UpdatedAt:      time.Unix(1776352075, 0).UTC(),
					ErrorCode:      "content_moderation",
					ErrorMessage:   "The input image did not pass content moderation.",
				},
			},
			{
				File:        "testdata/error_not_found.json",
				StatusCode:  http.StatusNotFound,
				WantErr:     providers.ErrNotFound,
				WantMessage: "Video task your-video-id not found",
			},
			{
				File:        "testdata/error_unauthorized.json",
				StatusCode:  http.StatusUnauthorized,
				WantErr:     providers.ErrUnauthorized,
				WantMessage: "Invalid API key provided",
			},
			{
				File:        "testdata/error_rate_limited.json",
				StatusCode:  http.StatusTooManyRequests,
				WantErr:     providers.ErrRateLimited,
				WantMessage: "Too many requests, please slow down",
			},
		},
	}
}
