package declared

import (
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/providers"
)

// OpenAIVideos describes the OpenAI videos API and the look-alikes that
// copy it (Token360 is one): GET {base}/v1/videos/{id} with
// "Authorization: Bearer KEY", answering a video object whose status is
// queued, in_progress, completed or failed, with a progress percentage,
// the model, the size as "WIDTHxHEIGHT", the length in seconds (a string at
// OpenAI, "seconds"; a number elsewhere, "duration"), an error {code,
// message} once failed, and, at look-alikes, the media URL (url, else
// video_url; OpenAI itself serves the file at /v1/videos/{id}/content with
// the key instead). An expiring URL's expires_at stays in the event's raw
// body. Webhooks carry the video's ID as data.id (OpenAI's events) or id.
func OpenAIVideos() Spec {
	return Spec{
		Path: "/v1/videos/{id}",
		Auth: config.StatusAuth{Header: "Authorization", Scheme: "Bearer"},
		State: config.StatusState{Path: "status", Words: map[string]string{
			"queued":      "pending",
			"in_progress": "running",
			"completed":   "completed",
			"failed":      "failed",
		}},
		Fields: config.StatusFields{
			Progress:        config.Paths("progress"),
			URL:             config.Paths("url", "video_url"),
			Dimensions:      config.Paths("size"),
			DurationSeconds: config.Paths("seconds", "duration"),
			Model:           config.Paths("model"),
			UpdatedAt:       config.Paths("updated_at"),
			ErrorCode:       config.Paths("error.code"),
			ErrorMessage:    config.Paths("error.message", "error"),
		},
		MediaType: providers.MediaVideo,
		WebhookID: config.Paths("data.id", "id"),
	}
}
