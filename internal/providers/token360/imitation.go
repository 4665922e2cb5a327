package token360

import (
	"cmp"
	"math"

	"github.com/genwatch/genwatch/internal/providers"
)

// imitatedVideo is the body of GET /v1/videos/{video_id}, as the simulator
// serves it. Resolution is one of the provider-specific fields the
// documentation says may appear.
type imitatedVideo struct {
	ID         string         `json:"id"`
	Object     string         `json:"object"`
	Status     string         `json:"status"`
	Model      string         `json:"model"`
	Prompt     string         `json:"prompt"`
	CreatedAt  int64          `json:"created_at"`
	UpdatedAt  int64          `json:"updated_at"`
	Duration   int            `json:"duration,omitempty"`
	Resolution string         `json:"resolution"`
	Progress   int            `json:"progress"`
	Parameters imitatedParams `json:"parameters"`
	URL        string         `json:"url,omitempty"`
	VideoURL   string         `json:"video_url,omitempty"`
	Error      *imitatedError `json:"error,omitempty"`
}

type imitatedParams struct {
	Duration    int    `json:"duration"`
	Resolution  string `json:"resolution"`
	AspectRatio string `json:"aspect_ratio"`
	VideoMode   string `json:"video_mode"`
}

type imitatedError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// render describes g as Token360 does: the duration and URLs once
// completed, the error object once failed.
func render(g providers.Imitated) any {
	seconds := int(math.Round(g.DurationSeconds))
	v := imitatedVideo{
		ID:         g.ID,
		Object:     "video",
		Model:      cmp.Or(g.Model, "seedance-2.0"),
		Prompt:     "Add gentle motion to the scene",
		CreatedAt:  g.CreatedAt.Unix(),
		UpdatedAt:  g.UpdatedAt.Unix(),
		Resolution: g.Resolution(),
		Progress:   g.Progress,
		Parameters: imitatedParams{
			Duration:    seconds,
			Resolution:  g.Resolution(),
			AspectRatio: g.AspectRatio(),
			VideoMode:   "i2v_first_frame",
		},
	}
	switch g.State {
	case providers.StatePending:
		v.Status = "queued"
	case providers.StateRunning:
		v.Status = "in_progress"
	case providers.StateCompleted:
		v.Status = "completed"
		v.Duration = seconds
		v.URL, v.VideoURL = g.URL, g.URL
	case providers.StateFailed:
		v.Status = "failed"
		v.Error = &imitatedError{Code: g.ErrorCode, Message: g.ErrorMessage}
	}
	return v
}
