package simulator

import (
	"math"
	"net/http"
)

// Hoox, Hooked and Token360 are the provider names the simulator serves,
// as used in Config.Keys, Create, SetFaults and Requests.
const (
	Hoox     = "hoox"
	Hooked   = "hooked"
	Token360 = "token360"
)

// hooxTime is the format of Hoox timestamps: JavaScript's ISO 8601, in UTC
// with milliseconds.
const hooxTime = "2006-01-02T15:04:05.000Z"

func newHooxAPI() *api {
	return &api{
		name:            Hoox,
		prefix:          "/api/public/v1/asset/status/",
		credential:      bearerToken,
		deniedStatus:    http.StatusUnauthorized,
		notFoundMessage: "Asset not found",
		render:          renderHoox,
		errorBody:       errorEnvelope,
	}
}

// hooxAsset is the body of GET /api/public/v1/asset/status/{assetId}.
type hooxAsset struct {
	AssetID          string       `json:"asset_id"`
	Status           string       `json:"status"`
	Type             string       `json:"type"`
	URL              string       `json:"url,omitempty"`
	ThumbnailURL     string       `json:"thumbnail_url,omitempty"`
	Width            int          `json:"width,omitempty"`
	Height           int          `json:"height,omitempty"`
	DurationSeconds  float64      `json:"duration_seconds,omitempty"`
	Cost             float64      `json:"cost,omitempty"`
	CreatedAt        string       `json:"created_at"`
	GenerationParams hooxParams   `json:"generation_params"`
	Error            *errorObject `json:"error,omitempty"`
}

type hooxParams struct {
	Model       string `json:"model"`
	Prompt      string `json:"prompt"`
	AspectRatio string `json:"aspect_ratio,omitempty"`
	Resolution  string `json:"resolution,omitempty"`
	Duration    int    `json:"duration,omitempty"`
}

func renderHoox(g *generation, st state) any {
	p := &g.plan
	a := hooxAsset{
		AssetID:   g.id,
		Type:      p.MediaType,
		CreatedAt: g.created.UTC().Format(hooxTime),
		GenerationParams: hooxParams{
			Model:       hooxModel(p.MediaType),
			Prompt:      "A cinematic shot of a fox running through autumn leaves at sunrise.",
			AspectRatio: aspectRatio(p.Width, p.Height),
			Resolution:  resolution(p.Width, p.Height),
			Duration:    int(math.Round(p.DurationSeconds)),
		},
	}
	switch st.phase {
	case phasePending:
		a.Status = "pending"
	case phaseRunning:
		a.Status = "generating"
	case phaseCompleted:
		a.Status = "completed"
		a.URL = p.URL
		a.ThumbnailURL = p.ThumbnailURL
		a.Width, a.Height = p.Width, p.Height
		a.DurationSeconds = p.DurationSeconds
		a.Cost = p.Cost
	case phaseFailed:
		a.Status = "failed"
		a.Error = &errorObject{Code: p.FailCode, Message: p.FailMessage}
	}
	return a
}

// hooxModel names the model Hoox would use for a media type.
func hooxModel(mediaType string) string {
	switch mediaType {
	case MediaImage:
		return "flux-1.1-pro"
	case MediaAudio:
		return "stable-audio-2"
	default:
		return "veo-3.1"
	}
}
