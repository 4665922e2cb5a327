package declared

import "github.com/genwatch/genwatch/internal/providers"

// TypeOpenAIVideos and TypeDeclarative are the values of a configured
// provider's "type" that this package serves.
const (
	TypeOpenAIVideos = "openai_videos"
	TypeDeclarative  = "declarative"
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
		Auth: Auth{Header: "Authorization", Scheme: "Bearer"},
		State: State{Path: "status", Words: map[string]string{
			"queued":      "pending",
			"in_progress": "running",
			"completed":   "completed",
			"failed":      "failed",
		}},
		Fields: Fields{
			Progress:        P("progress"),
			URL:             P("url", "video_url"),
			Dimensions:      P("size"),
			DurationSeconds: P("seconds", "duration"),
			Model:           P("model"),
			ErrorCode:       P("error.code"),
			ErrorMessage:    P("error.message", "error"),
		},
		MediaType: providers.MediaVideo,
		WebhookID: P("data.id", "id"),
	}
}
