package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/tidwall/gjson"

	"github.com/genwatch/genwatch"
)

// trackResult is the answer for one tracking request.
type trackResult struct {
	TaskID         string `json:"task_id"`
	AlreadyTracked bool   `json:"already_tracked"`
}

// batch is the body of a POST with several requests.
type batch struct {
	Requests []json.RawMessage `json:"requests"`
}

// track serves POST /v1/generations: one tracking request, or
// {"requests": [...]}, every one validated before any is enqueued.
func (a *API) track(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, a.cfg.MaxBodyBytes)
	if !ok {
		return
	}
	reqs, isBatch, problems := a.decode(body)
	if len(problems) > 0 {
		WriteError(w, http.StatusBadRequest, CodeInvalidRequest, "invalid tracking request: "+joinProblems(problems))
		return
	}
	results, done, err := a.enqueue(r, reqs)
	if err != nil {
		msg := "could not enqueue: Redis is unavailable"
		if isBatch {
			msg += fmt.Sprintf("; %d of %d requests were enqueued before the failure; sending the same batch again is safe", done, len(reqs))
		}
		a.failed(w, r, msg, err)
		return
	}
	if isBatch {
		writeJSON(w, http.StatusAccepted, results)
		return
	}
	writeJSON(w, http.StatusAccepted, results[0])
}

// readBody reads a body of at most limit bytes, or answers 413 or 400.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		WriteError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body is over %d bytes", limit))
		return nil, false
	case err != nil:
		WriteError(w, http.StatusBadRequest, CodeInvalidRequest, "read body: "+err.Error())
		return nil, false
	}
	return body, true
}

// decode reads one request or a batch and validates each with the Go
// client's code. A problem of a batch's request is prefixed with its
// index, "requests[3]: ".
func (a *API) decode(body []byte) (reqs []genwatch.Request, isBatch bool, problems []string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false, []string{`the body must be a JSON object: one tracking request, or {"requests": [...]}`}
	}
	if !gjson.GetBytes(trimmed, "requests").Exists() {
		req, err := genwatch.DecodeRequest(trimmed)
		req, p := a.checkDecoded(req, err)
		return []genwatch.Request{req}, false, p
	}
	var b batch
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, true, []string{"decode batch: " + err.Error()}
	}
	if dec.More() {
		return nil, true, []string{"decode batch: unexpected data after the JSON object"}
	}
	switch n := len(b.Requests); {
	case n == 0:
		return nil, true, []string{"requests must hold at least one request"}
	case n > MaxBatch:
		return nil, true, []string{fmt.Sprintf("requests holds %d requests, at most %d allowed", n, MaxBatch)}
	}
	reqs = make([]genwatch.Request, len(b.Requests))
	for i, raw := range b.Requests {
		req, err := genwatch.DecodeRequest(raw)
		req, p := a.checkDecoded(req, err)
		for _, msg := range p {
			problems = append(problems, fmt.Sprintf("requests[%d]: %s", i, msg))
		}
		reqs[i] = req
	}
	return reqs, true, problems
}

// checkRequest validates one request with the Go client's code.
func (a *API) checkRequest(req genwatch.Request) (genwatch.Request, []string) {
	return a.checkDecoded(req, nil)
}

// checkDecoded validates one request as the CLI does, given what
// genwatch.DecodeRequest returned, and returns its problems in the CLI's
// words.
func (a *API) checkDecoded(req genwatch.Request, err error) (genwatch.Request, []string) {
	if err == nil {
		err = a.cfg.Client.Validate(req)
	}
	var invalid *genwatch.InvalidRequestError
	switch {
	case err == nil:
		return req, nil
	case errors.As(err, &invalid):
		msgs := make([]string, len(invalid.Errs))
		for i, e := range invalid.Errs {
			msgs[i] = e.Error()
		}
		return req, msgs
	default:
		return req, []string{err.Error()}
	}
}

// enqueue tracks reqs, EnqueueConcurrency at a time, and returns their
// results in order, or how many were done before the first failure.
func (a *API) enqueue(r *http.Request, reqs []genwatch.Request) ([]trackResult, int, error) {
	results := make([]trackResult, len(reqs))
	errs := make([]error, len(reqs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(a.cfg.EnqueueConcurrency, len(reqs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) || r.Context().Err() != nil {
					return
				}
				res, err := a.cfg.Client.Track(r.Context(), reqs[i])
				results[i] = trackResult{TaskID: res.TaskID, AlreadyTracked: res.AlreadyTracked}
				errs[i] = err
			}
		})
	}
	wg.Wait()
	done := 0
	var first error
	for i, err := range errs {
		switch {
		case err == nil && results[i].TaskID != "":
			done++
		case err != nil && first == nil:
			first = err
		}
	}
	if first == nil && done < len(reqs) {
		first = r.Context().Err()
	}
	return results, done, first
}

// generation is the answer of GET /v1/generations/{provider}/{id}.
type generation struct {
	TaskID       string `json:"task_id"`
	Provider     string `json:"provider"`
	GenerationID string `json:"generation_id"`
	Account      string `json:"account,omitempty"`
	// State is "waiting" or "ended".
	State          string          `json:"state"`
	Polls          int             `json:"polls"`
	Progress       *int            `json:"progress,omitempty"`
	ProviderStatus string          `json:"provider_status,omitempty"`
	NextPollAt     *time.Time      `json:"next_poll_at,omitempty"`
	ETA            *time.Time      `json:"eta,omitempty"`
	EnqueuedAt     *time.Time      `json:"enqueued_at,omitempty"`
	Event          *genwatch.Event `json:"event,omitempty"`
}

// States of a generation in the API.
const (
	StateWaiting = "waiting"
	StateEnded   = "ended"
)

// status serves GET /v1/generations/{provider}/{generation_id}.
func (a *API) status(w http.ResponseWriter, r *http.Request) {
	g, ok := a.lookup(w, r)
	if !ok {
		return
	}
	out := generation{
		TaskID:         g.TaskID,
		Provider:       r.PathValue("provider"),
		GenerationID:   r.PathValue("generation_id"),
		Account:        g.Account,
		State:          StateWaiting,
		Polls:          g.Polls,
		Progress:       g.Progress,
		ProviderStatus: g.ProviderStatus,
		NextPollAt:     utc(g.NextPollAt),
		ETA:            utc(g.ETA),
		EnqueuedAt:     utc(g.EnqueuedAt),
		Event:          g.Event,
	}
	if g.Ended() {
		out.State, out.ETA = StateEnded, nil
	}
	writeJSON(w, http.StatusOK, out)
}

// cancel serves DELETE /v1/generations/{provider}/{generation_id}: it
// answers with the event that stands, this cancellation's or an earlier
// one.
func (a *API) cancel(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.lookup(w, r); !ok {
		return
	}
	taskID := genwatch.TaskID(r.PathValue("provider"), r.PathValue("generation_id"))
	ev, _, err := a.cfg.Control.Cancel(r.Context(), taskID)
	switch {
	case errors.Is(err, genwatch.ErrNotTracked):
		WriteError(w, http.StatusNotFound, CodeNotTracked, err.Error())
	case err != nil:
		a.failed(w, r, "could not cancel: Redis is unavailable", err)
	default:
		writeJSON(w, http.StatusOK, ev)
	}
}

// lookup returns the generation the path names, or answers 404 when it is
// not tracked (or its task was archived, which ends tracking) or 503.
func (a *API) lookup(w http.ResponseWriter, r *http.Request) (genwatch.Generation, bool) {
	taskID := genwatch.TaskID(r.PathValue("provider"), r.PathValue("generation_id"))
	g, err := a.cfg.Control.Status(r.Context(), taskID)
	switch {
	case errors.Is(err, genwatch.ErrNotTracked):
		WriteError(w, http.StatusNotFound, CodeNotTracked, err.Error())
		return g, false
	case err != nil:
		a.failed(w, r, "could not read the generation: Redis is unavailable", err)
		return g, false
	case !g.Ended() && g.State == asynq.TaskStateArchived.String():
		WriteError(w, http.StatusNotFound, CodeNotTracked,
			fmt.Sprintf("%s: %v: its task was archived (%s)", taskID, genwatch.ErrNotTracked, g.LastError))
		return g, false
	}
	return g, true
}

func joinProblems(p []string) string { return strings.Join(p, "; ") }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
