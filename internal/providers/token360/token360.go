// Package token360 reads the state of a Token360 video task from
// GET /v1/videos/{video_id}, authenticated with "Authorization: Bearer KEY".
//
// The status words queued, in_progress, completed and failed map one to one
// onto the normalized states. The media URL is url, the presigned one, else
// video_url. content.last_frame_url is not taken as the thumbnail: it
// appears only when the caller asked for the last frame, to chain a next
// generation, and a closing frame makes a poor preview; it stays in Raw with
// the model-specific extra fields. resolution names a quality ("720p"), not
// pixels, so Width and Height stay unknown.
package token360

import (
	"net/http"

	"github.com/genwatch/genwatch/internal/providers"
)

// Definition describes Token360 to the registry: its documented status
// endpoint, the id its callbacks carry, and how the simulator imitates it.
func Definition() providers.Definition {
	return providers.Definition{
		Spec: providers.Spec{
			Name:           "token360",
			DefaultBaseURL: "https://api.token360.ai",
			Endpoint:       "/v1/videos",
			AuthHeader:     "Authorization",
			AuthScheme:     "Bearer",
			Decode:         decode,
		},
		WebhookIDPaths: []string{"id"},
		Imitation: providers.Imitation{
			DeniedStatus:    http.StatusUnauthorized,
			NotFoundMessage: "Video not found",
			Render:          render,
		},
	}
}

var states = map[string]providers.State{
	"queued":      providers.StatePending,
	"in_progress": providers.StateRunning,
	"completed":   providers.StateCompleted,
	"failed":      providers.StateFailed,
}

// task is the documented response, reduced to what Status carries.
type task struct {
	Status   string                `json:"status"`
	Model    string                `json:"model"`
	URL      string                `json:"url"`
	VideoURL string                `json:"video_url"`
	Duration float64               `json:"duration"`
	Progress *float64              `json:"progress"`
	Error    providers.ErrorObject `json:"error"`
	Updated  providers.Stamp       `json:"updated_at"`
}

func decode(body []byte) (*providers.Status, error) {
	var t task
	if err := providers.Decode(body, &t); err != nil {
		return nil, err
	}
	state, err := providers.ParseState(states, t.Status)
	if err != nil {
		return nil, err
	}
	st := &providers.Status{
		State:           state,
		ProviderStatus:  t.Status,
		Model:           t.Model,
		Progress:        providers.Percent(t.Progress),
		MediaType:       providers.MediaVideo,
		URL:             t.URL,
		DurationSeconds: t.Duration,
		ErrorCode:       t.Error.Code,
		ErrorMessage:    t.Error.Message,
		UpdatedAt:       t.Updated.Time,
	}
	if st.URL == "" {
		st.URL = t.VideoURL
	}
	return st, nil
}
