package hooked_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/hooked"
	"github.com/genwatch/genwatch/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, suite(hooked.Definition()))
}

// suite is the conformance suite of def, which must read Hooked's answers.
func suite(def providers.Definition) providertest.Suite {
	return providertest.Suite{
		Definition:        def,
		DefaultBaseURL:    "https://api.hooked.ai",
		Endpoint:          "/v1/video",
		AuthHeader:        "x-api-key",
		AuthFormat:        "%s",
		UnknownStatusFile: "testdata/unknown_status.json",
		Fixtures: []providertest.Fixture{
			{
				// The documented example.
				File: "testdata/completed.json",
				Want: providers.Status{
					State:           providers.StateCompleted,
					ProviderStatus:  "COMPLETED",
					Progress:        new(100),
					MediaType:       providers.MediaVideo,
					UpdatedAt:       stamp("2024-01-15T10:05:00Z"),
					URL:             "https://s3.amazonaws.com/hooked-videos/vid_abc123.mp4",
					ThumbnailURL:    "https://cdn.tryhooked.ai/thumbnails/abc123.jpg",
					DurationSeconds: 300,
					Cost:            new(5.0),
				},
			},
			{
				// Without durationInSeconds the duration is
				// durationInFrames at 25 fps: 1130 / 25.
				File: "testdata/completed_frames_only.json",
				Want: providers.Status{
					State:           providers.StateCompleted,
					ProviderStatus:  "COMPLETED",
					Progress:        new(100),
					MediaType:       providers.MediaVideo,
					UpdatedAt:       stamp("2024-01-15T11:03:10Z"),
					URL:             "https://s3.amazonaws.com/hooked-videos/vid_def456.mp4",
					DurationSeconds: 45.2,
					SizeBytes:       48213377,
					Cost:            new(2.5),
				},
			},
			{
				// STARTED is running; its message is no error.
				File: "testdata/started.json",
				Want: providers.Status{
					State:          providers.StateRunning,
					ProviderStatus: "STARTED",
					Progress:       new(45),
					MediaType:      providers.MediaVideo,
					UpdatedAt:      stamp("2024-01-15T10:02:00Z"),
				},
			},
			{
				File: "testdata/failed.json",
				Want: providers.Status{
					State:          providers.StateFailed,
					ProviderStatus: "FAILED",
					Progress:       new(60),
					MediaType:      providers.MediaVideo,
					UpdatedAt:      stamp("2024-01-15T10:04:00Z"),
					Cost:           new(0.0),
					ErrorMessage:   "Rendering failed: the avatar avatar_sarah_01 is no longer available",
				},
			},
			{
				// success:false on a 200 is no answer about the video.
				File:        "testdata/unsuccessful.json",
				WantErr:     providers.ErrMalformed,
				WantMessage: "Video could not be loaded",
			},
			{
				File:        "testdata/error_not_found.json",
				StatusCode:  http.StatusNotFound,
				WantErr:     providers.ErrNotFound,
				WantMessage: "Video not found",
			},
			{
				File:        "testdata/error_forbidden.json",
				StatusCode:  http.StatusForbidden,
				WantErr:     providers.ErrUnauthorized,
				WantMessage: "Video belongs to another team",
			},
			{
				// Hooked documents 403 for a bad key; 401 is classified
				// the same.
				File:        "testdata/error_unauthorized.json",
				StatusCode:  http.StatusForbidden,
				WantErr:     providers.ErrUnauthorized,
				WantMessage: "Invalid or missing API key",
			},
			{
				File:        "testdata/error_server.json",
				StatusCode:  http.StatusInternalServerError,
				WantErr:     providers.ErrUnavailable,
				WantMessage: "Internal server error",
			},
		},
	}
}

// stamp is an updatedAt of the fixtures.
func stamp(text string) time.Time {
	t, err := time.Parse(time.RFC3339, text)
	if err != nil {
		panic(err)
	}
	return t
}
