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
	"strings"

	"github.com/genwatch/genwatch/internal/providers"
)

// Name, DefaultBaseURL and Endpoint locate the documented status endpoint.
const (
	Name           = "hoox"
	DefaultBaseURL = "https://app.hoox.video"
	Endpoint       = "/api/public/v1/asset/status"
)

// New builds the adapter for one Hoox account.
func New(cfg providers.Config) (providers.Provider, error) {
	return providers.NewHTTP(providers.Spec{
		Name:           Name,
		DefaultBaseURL: DefaultBaseURL,
		Endpoint:       Endpoint,
		AuthHeader:     "Authorization",
		AuthScheme:     "Bearer",
		Decode:         decode,
	}, cfg)
}

var _ providers.Factory = New

// WebhookIDPaths are the gjson paths, tried in order, where a Hoox webhook body keeps the asset ID: asset_id, as in the status
// response.
func WebhookIDPaths() []string { return []string{"asset_id"} }

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
