package hoox

import (
	"cmp"
	"math"

	"github.com/genwatch/genwatch/internal/providers"
)

// imitationTime is the format of Hoox timestamps: JavaScript's ISO 8601, in
// UTC with milliseconds.
const imitationTime = "2006-01-02T15:04:05.000Z"

// imitatedAsset is the body of GET /api/public/v1/asset/status/{assetId},
// as the simulator serves it.
type imitatedAsset struct {
	AssetID          string         `json:"asset_id"`
	Status           string         `json:"status"`
	Type             string         `json:"type"`
	URL              string         `json:"url,omitempty"`
	ThumbnailURL     string         `json:"thumbnail_url,omitempty"`
	Width            int            `json:"width,omitempty"`
	Height           int            `json:"height,omitempty"`
	DurationSeconds  float64        `json:"duration_seconds,omitempty"`
	Cost             float64        `json:"cost,omitempty"`
	CreatedAt        string         `json:"created_at"`
	GenerationParams imitatedParams `json:"generation_params"`
	Error            *imitatedError `json:"error,omitempty"`
}

type imitatedParams struct {
	Model       string `json:"model"`
	Prompt      string `json:"prompt"`
	AspectRatio string `json:"aspect_ratio,omitempty"`
	Resolution  string `json:"resolution,omitempty"`
	Duration    int    `json:"duration,omitempty"`
}

type imitatedError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// render describes g as Hoox does: media attributes and cost only once
// completed, the error object only once failed.
func render(g providers.Imitated) any {
	a := imitatedAsset{
		AssetID:   g.ID,
		Type:      g.MediaType,
		CreatedAt: g.CreatedAt.UTC().Format(imitationTime),
		GenerationParams: imitatedParams{
			Model:       cmp.Or(g.Model, imitatedModel(g.MediaType)),
			Prompt:      "A cinematic shot of a fox running through autumn leaves at sunrise.",
			AspectRatio: g.AspectRatio(),
			Resolution:  g.Resolution(),
			Duration:    int(math.Round(g.DurationSeconds)),
		},
	}
	switch g.State {
	case providers.StatePending:
		a.Status = "pending"
	case providers.StateRunning:
		a.Status = "generating"
	case providers.StateCompleted:
		a.Status = "completed"
		a.URL = g.URL
		a.ThumbnailURL = g.ThumbnailURL
		a.Width, a.Height = g.Width, g.Height
		a.DurationSeconds = g.DurationSeconds
		a.Cost = g.Cost
	case providers.StateFailed:
		a.Status = "failed"
		a.Error = &imitatedError{Code: g.ErrorCode, Message: g.ErrorMessage}
	}
	return a
}

// imitatedModel names the model Hoox would use for a media type.
func imitatedModel(mediaType string) string {
	switch mediaType {
	case providers.MediaImage:
		return "flux-1.1-pro"
	case providers.MediaAudio:
		return "stable-audio-2"
	default:
		return "veo-3.1"
	}
}
