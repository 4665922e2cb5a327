// Package hooked reads the state of a Hooked video from
// GET /v1/video/{videoId}, authenticated with "x-api-key: KEY".
//
// Hooked wraps every answer in {success, message, data}. A 200 whose
// success is false, or that has no data, is malformed: the outer message
// is kept in the error. Hooked has no queued state: STARTED, which carries
// a progress, is running. The data's message is a status line on every
// answer and the reason for the failure on a FAILED one, so it becomes
// Status.ErrorMessage only then; Hooked gives no error code, so ErrorCode
// stays empty. The duration is durationInSeconds, or durationInFrames
// counted at 25 frames per second when the former is absent or zero.
package hooked

import (
	"fmt"
	"net/http"

	"github.com/genwatch/genwatch/internal/providers"
)

// Definition describes Hooked to the registry: its documented status
// endpoint, where its webhooks keep the video ID (data.id, or id at the
// top), and how the simulator imitates it.
func Definition() providers.Definition {
	return providers.Definition{
		Spec: providers.Spec{
			Name:           "hooked",
			DefaultBaseURL: "https://api.hooked.ai",
			Endpoint:       "/v1/video",
			AuthHeader:     "x-api-key",
			Decode:         decode,
		},
		WebhookIDPaths: []string{"data.id", "id"},
		Imitation: providers.Imitation{
			DeniedStatus:    http.StatusForbidden,
			NotFoundMessage: "Video not found",
			Render:          render,
			ErrorBody:       errorBody,
		},
	}
}

// framesPerSecond is the rate durationInFrames is counted at.
const framesPerSecond = 25

var states = map[string]providers.State{
	"started":   providers.StateRunning,
	"completed": providers.StateCompleted,
	"failed":    providers.StateFailed,
}

// response is the documented envelope, reduced to what Status carries.
type response struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Data    *video `json:"data"`
}

type video struct {
	Status            string          `json:"status"`
	URL               string          `json:"url"`
	Thumbnail         string          `json:"thumbnail"`
	Progress          *float64        `json:"progress"`
	Message           string          `json:"message"`
	DurationInFrames  float64         `json:"durationInFrames"`
	DurationInSeconds float64         `json:"durationInSeconds"`
	Size              int64           `json:"size"`
	UsedCredits       *float64        `json:"usedCredits"`
	UpdatedAt         providers.Stamp `json:"updatedAt"`
}

func decode(body []byte) (*providers.Status, error) {
	var r response
	if err := providers.Decode(body, &r); err != nil {
		return nil, err
	}
	switch {
	case !r.Success:
		return nil, fmt.Errorf("%w: success is false: %q", providers.ErrMalformed, r.Message)
	case r.Data == nil:
		return nil, fmt.Errorf("%w: no data", providers.ErrMalformed)
	}
	v := r.Data
	state, err := providers.ParseState(states, v.Status)
	if err != nil {
		return nil, err
	}
	st := &providers.Status{
		State:           state,
		ProviderStatus:  v.Status,
		Progress:        providers.Percent(v.Progress),
		MediaType:       providers.MediaVideo,
		URL:             v.URL,
		ThumbnailURL:    v.Thumbnail,
		DurationSeconds: v.DurationInSeconds,
		SizeBytes:       v.Size,
		Cost:            v.UsedCredits,
		UpdatedAt:       v.UpdatedAt.Time,
	}
	if st.DurationSeconds == 0 {
		st.DurationSeconds = v.DurationInFrames / framesPerSecond
	}
	if state == providers.StateFailed {
		st.ErrorMessage = v.Message
	}
	return st, nil
}
