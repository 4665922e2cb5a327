package simulator

import (
	"math"
	"net/http"
	"time"
)

func newHookedAPI() *api {
	return &api{
		name:            Hooked,
		prefix:          "/v1/video/",
		credential:      apiKeyHeader,
		deniedStatus:    http.StatusForbidden,
		notFoundMessage: "Video not found",
		render:          renderHooked,
		errorBody:       hookedError,
	}
}

// hookedEnvelope wraps every Hooked answer, successful or not.
type hookedEnvelope struct {
	Success bool         `json:"success"`
	Message string       `json:"message"`
	Data    *hookedVideo `json:"data,omitempty"`
}

// hookedVideo is the data of GET /v1/video/{videoId}. The fields the
// documentation marks nullable are pointers.
type hookedVideo struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	Type              string         `json:"type"`
	Status            string         `json:"status"`
	URL               *string        `json:"url"`
	Thumbnail         *string        `json:"thumbnail"`
	Progress          int            `json:"progress"`
	Message           string         `json:"message"`
	DurationInFrames  int            `json:"durationInFrames"`
	DurationInSeconds float64        `json:"durationInSeconds"`
	Size              int64          `json:"size"`
	AvatarID          string         `json:"avatarId"`
	VoiceID           string         `json:"voiceId"`
	MusicID           string         `json:"musicId"`
	VideoSettings     hookedSettings `json:"videoSettings"`
	Script            string         `json:"script"`
	ProjectID         *string        `json:"projectId"`
	TeamID            string         `json:"teamId"`
	CreatedAt         string         `json:"createdAt"`
	UpdatedAt         string         `json:"updatedAt"`
	UsedCredits       float64        `json:"usedCredits"`
	Webhook           *string        `json:"webhook"`
}

type hookedSettings struct {
	AspectRatio string `json:"aspectRatio"`
	Caption     struct {
		Disabled bool   `json:"disabled"`
		Preset   string `json:"preset"`
	} `json:"caption"`
}

func hookedError(_, message string) any {
	return hookedEnvelope{Message: message}
}

func renderHooked(g *generation, st state) any {
	p := &g.plan
	project := "proj_simulator"
	v := hookedVideo{
		ID:        g.id,
		Name:      "Simulated video " + g.id,
		Type:      "class",
		Progress:  st.progress,
		AvatarID:  "avatar_sarah_01",
		VoiceID:   "tzX5paJ07p5hyWFcU3uG",
		MusicID:   "1",
		Script:    "Hello! Welcome to this tutorial...",
		ProjectID: &project,
		TeamID:    "team_simulator",
		CreatedAt: g.created.UTC().Format(time.RFC3339),
		UpdatedAt: st.since.UTC().Format(time.RFC3339),
	}
	v.VideoSettings.AspectRatio = "ratio_9_16"
	if p.Width > p.Height {
		v.VideoSettings.AspectRatio = "ratio_16_9"
	}
	v.VideoSettings.Caption.Preset = "classic"

	switch st.phase {
	case phasePending:
		v.Status, v.Message = "STARTED", "Video is queued"
	case phaseRunning:
		v.Status, v.Message = "STARTED", "Video is being processed"
	case phaseCompleted:
		v.Status, v.Message = "COMPLETED", "Video completed successfully"
		v.URL, v.Thumbnail = &p.URL, &p.ThumbnailURL
		v.DurationInFrames = int(math.Round(p.DurationSeconds * 25))
		v.DurationInSeconds = p.DurationSeconds
		v.Size = p.SizeBytes
		v.UsedCredits = p.Cost
	case phaseFailed:
		v.Status, v.Message = "FAILED", p.FailMessage
	}
	return hookedEnvelope{Success: true, Message: "Video details fetched successfully", Data: &v}
}
