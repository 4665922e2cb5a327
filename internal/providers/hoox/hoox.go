// Package hoox reads the state of a Hoox asset from
// GET /api/public/v1/asset/status/{assetId}, authenticated with
// "Authorization: Bearer KEY".
//
// Hoox generates images, videos and audio, so the asset's "type" becomes
// the media type. Its status words pending, generating, completed and failed
// map one to one onto the normalized states. Hoox documents its error value
// only as an object present when the asset failed; the adapter also accepts
// a bare string and keeps the code and message it finds. Fields without a
// place in providers.Status (asset_id, created_at, generation_params) stay
// readable in Status.Raw.
package hoox

import (
	"net/http"
	"strings"

	"github.com/genwatch/genwatch/internal/providers"
)

// Definition describes Hoox to the registry: its documented status
// endpoint, the asset_id its webhooks carry, and how the simulator
// imitates it.
func Definition() providers.Definition {
	return providers.Definition{
		Spec: providers.Spec{
			Name:           "hoox",
			DefaultBaseURL: "https://app.hoox.video",
			Endpoint:       "/api/public/v1/asset/status",
			AuthHeader:     "Authorization",
			AuthScheme:     "Bearer",
			Decode:         decode,
		},
		WebhookIDPaths: []string{"asset_id"},
		Imitation: providers.Imitation{
			DeniedStatus:    http.StatusUnauthorized,
			NotFoundMessage: "Asset not found",
			MediaTypes:      []string{providers.MediaVideo, providers.MediaImage, providers.MediaAudio},
			Render:          render,
		},
	}
}

var states = map[string]providers.State{
	"pending":    providers.StatePending,
	"generating": providers.StateRunning,
	"completed":  providers.StateCompleted,
	"failed":     providers.StateFailed,
}

// asset is the documented response, reduced to what Status carries.
type asset struct {
	Status          string                `json:"status"`
	Type            string                `json:"type"`
	URL             string                `json:"url"`
	ThumbnailURL    string                `json:"thumbnail_url"`
	Width           float64               `json:"width"`
	Height          float64               `json:"height"`
	DurationSeconds float64               `json:"duration_seconds"`
	Cost            *float64              `json:"cost"`
	Error           providers.ErrorObject `json:"error"`
	Params          struct {
		Model string `json:"model"`
	} `json:"generation_params"`
}

func decode(body []byte) (*providers.Status, error) {
	var a asset
	if err := providers.Decode(body, &a); err != nil {
		return nil, err
	}
	state, err := providers.ParseState(states, a.Status)
	if err != nil {
		return nil, err
	}
	return &providers.Status{
		State:           state,
		ProviderStatus:  a.Status,
		Model:           a.Params.Model,
		MediaType:       mediaType(a.Type),
		URL:             a.URL,
		ThumbnailURL:    a.ThumbnailURL,
		Width:           providers.Count(a.Width),
		Height:          providers.Count(a.Height),
		DurationSeconds: a.DurationSeconds,
		Cost:            a.Cost,
		ErrorCode:       a.Error.Code,
		ErrorMessage:    a.Error.Message,
	}, nil
}

// mediaType keeps the documented types, whatever their case, and drops any
// other word; the original stays in Raw.
func mediaType(word string) string {
	switch t := strings.ToLower(word); t {
	case providers.MediaImage, providers.MediaVideo, providers.MediaAudio:
		return t
	default:
		return ""
	}
}
