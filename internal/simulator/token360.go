package simulator

import (
	"math"
	"net/http"
)

func newToken360API() *api {
	return &api{
		name:            Token360,
		prefix:          "/v1/videos/",
		credential:      bearerToken,
		deniedStatus:    http.StatusUnauthorized,
		notFoundMessage: "Video not found",
		render:          renderToken360,
		errorBody:       errorEnvelope,
	}
}

// token360Video is the body of GET /v1/videos/{video_id}. Resolution is one
// of the provider-specific fields the documentation says may appear.
type token360Video struct {
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
	Parameters token360Params `json:"parameters"`
	URL        string         `json:"url,omitempty"`
	VideoURL   string         `json:"video_url,omitempty"`
	Error      *errorObject   `json:"error,omitempty"`
}

type token360Params struct {
	Duration    int    `json:"duration"`
	Resolution  string `json:"resolution"`
	AspectRatio string `json:"aspect_ratio"`
	VideoMode   string `json:"video_mode"`
}

func renderToken360(g *generation, st state) any {
	p := &g.plan
	seconds := int(math.Round(p.DurationSeconds))
	v := token360Video{
		ID:         g.id,
		Object:     "video",
		Model:      "seedance-2.0",
		Prompt:     "Add gentle motion to the scene",
		CreatedAt:  g.created.Unix(),
		UpdatedAt:  st.since.Unix(),
		Resolution: resolution(p.Width, p.Height),
		Progress:   st.progress,
		Parameters: token360Params{
			Duration:    seconds,
			Resolution:  resolution(p.Width, p.Height),
			AspectRatio: aspectRatio(p.Width, p.Height),
			VideoMode:   "i2v_first_frame",
		},
	}
	switch st.phase {
	case phasePending:
		v.Status = "queued"
	case phaseRunning:
		v.Status = "in_progress"
	case phaseCompleted:
		v.Status = "completed"
		v.Duration = seconds
		v.URL, v.VideoURL = p.URL, p.URL
	case phaseFailed:
		v.Status = "failed"
		v.Error = &errorObject{Code: p.FailCode, Message: p.FailMessage}
	}
	return v
}
