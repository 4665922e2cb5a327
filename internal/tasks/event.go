package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/store"
)

// buildEvent assembles the completion event from the request, what the
// store knows, and the last answer (zero when no call was made; its status
// nil, or only an error body, when the call failed).
func buildEvent(req genwatch.Request, account string, rec store.Record, ans answer, d schedule.Decision, enqueuedAt, now time.Time) genwatch.Event {
	st := ans.status
	e := genwatch.Event{
		ID:             genwatch.EventID(req.Provider, req.GenerationID, d.Status),
		Type:           d.Status.EventType(),
		Status:         d.Status,
		Provider:       req.Provider,
		GenerationID:   req.GenerationID,
		Account:        account,
		Metadata:       req.Metadata,
		Polls:          rec.History.Polls,
		EnqueuedAt:     enqueuedAt.UTC(),
		DetectedAt:     now.UTC(),
		ProviderStatus: rec.ProviderStatus,
	}
	if p, ok := rec.LastProgress(); ok {
		e.Progress = &p
	}
	if st != nil {
		e.MediaType = st.MediaType
		e.ThumbnailURL = st.ThumbnailURL
		e.Width, e.Height = st.Width, st.Height
		e.DurationSeconds = st.DurationSeconds
		e.SizeBytes = st.SizeBytes
		e.Cost = st.Cost
		e.Raw = st.Raw
		if d.Status == genwatch.StatusCompleted {
			e.URL = st.URL
		}
	}
	if d.Status != genwatch.StatusCompleted {
		e.Error = &genwatch.EventError{Code: d.Code, Message: errorMessage(d, st, ans.err)}
	}
	return e
}

func encodeEvent(e genwatch.Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

func errorMessage(d schedule.Decision, st *providers.Status, callErr error) string {
	switch d.Code {
	case genwatch.CodeGenerationFailed:
		switch {
		case st != nil && st.ErrorMessage != "":
			return st.ErrorMessage
		case st != nil && st.ErrorCode != "":
			return st.ErrorCode
		}
		return "the provider reports the generation failed"
	case genwatch.CodeNotFound:
		if st != nil && st.ErrorMessage != "" {
			return "the provider does not know this generation id: " + st.ErrorMessage
		}
		return "the provider does not know this generation id"
	case genwatch.CodeTimedOut:
		return "still running when the maximum wait passed"
	case genwatch.CodeCanceled:
		return "tracking was canceled"
	}
	if callErr != nil {
		return callErr.Error()
	}
	return d.Code
}
