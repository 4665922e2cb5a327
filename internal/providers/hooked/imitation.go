package hooked

import (
	"math"
	"time"

	"github.com/genwatch/genwatch/internal/providers"
)

// imitatedEnvelope wraps every Hooked answer, successful or not.
type imitatedEnvelope struct {
	Success bool           `json:"success"`
	Message string         `json:"message"`
	Data    *imitatedVideo `json:"data,omitempty"`
}

// imitatedVideo is the data of GET /v1/video/{videoId}, as the simulator
// serves it. The fields the documentation marks nullable are pointers.
type imitatedVideo struct {
	ID                string           `json:"id"`
	Name              string           `json:"name"`
	Type              string           `json:"type"`
	Status            string           `json:"status"`
	URL               *string          `json:"url"`
	Thumbnail         *string          `json:"thumbnail"`
	Progress          int              `json:"progress"`
	Message           string           `json:"message"`
	DurationInFrames  int              `json:"durationInFrames"`
	DurationInSeconds float64          `json:"durationInSeconds"`
	Size              int64            `json:"size"`
	AvatarID          string           `json:"avatarId"`
	VoiceID           string           `json:"voiceId"`
	MusicID           string           `json:"musicId"`
	VideoSettings     imitatedSettings `json:"videoSettings"`
	Script            string           `json:"script"`
	ProjectID         *string          `json:"projectId"`
	TeamID            string           `json:"teamId"`
	CreatedAt         string           `json:"createdAt"`
	UpdatedAt         string           `json:"updatedAt"`
	UsedCredits       float64          `json:"usedCredits"`
	Webhook           *string          `json:"webhook"`
}

type imitatedSettings struct {
	AspectRatio string `json:"aspectRatio"`
	Caption     struct {
		Disabled bool   `json:"disabled"`
		Preset   string `json:"preset"`
	} `json:"caption"`
}

// errorBody is Hooked's error answer: the envelope with success false.
func errorBody(_, message string) any {
	return imitatedEnvelope{Message: message}
}

// render describes g as Hooked does: STARTED while queued or running,
// media attributes and credits only once completed, the reason in the
// message once failed.
func render(g providers.Imitated) any {
	project := "proj_simulator"
	v := imitatedVideo{
		ID:        g.ID,
		Name:      "Simulated video " + g.ID,
		Type:      "class",
		Progress:  g.Progress,
		AvatarID:  "avatar_sarah_01",
		VoiceID:   "tzX5paJ07p5hyWFcU3uG",
		MusicID:   "1",
		Script:    "Hello! Welcome to this tutorial...",
		ProjectID: &project,
		TeamID:    "team_simulator",
		CreatedAt: g.CreatedAt.UTC().Format(time.RFC3339),
		UpdatedAt: g.UpdatedAt.UTC().Format(time.RFC3339),
	}
	v.VideoSettings.AspectRatio = "ratio_9_16"
	if g.Width > g.Height {
		v.VideoSettings.AspectRatio = "ratio_16_9"
	}
	v.VideoSettings.Caption.Preset = "classic"

	switch g.State {
	case providers.StatePending:
		v.Status, v.Message = "STARTED", "Video is queued"
	case providers.StateRunning:
		v.Status, v.Message = "STARTED", "Video is being processed"
	case providers.StateCompleted:
		v.Status, v.Message = "COMPLETED", "Video completed successfully"
		v.URL, v.Thumbnail = &g.URL, &g.ThumbnailURL
		v.DurationInFrames = int(math.Round(g.DurationSeconds * framesPerSecond))
		v.DurationInSeconds = g.DurationSeconds
		v.Size = g.SizeBytes
		v.UsedCredits = g.Cost
	case providers.StateFailed:
		v.Status, v.Message = "FAILED", g.ErrorMessage
	}
	return imitatedEnvelope{Success: true, Message: "Video details fetched successfully", Data: &v}
}
