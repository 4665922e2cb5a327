package simulator_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/simulator"
)

const testKey = "test-key"

var providers = []string{simulator.Hoox, simulator.Hooked, simulator.Token360}

type testBundle struct {
	clock *clockwork.FakeClock
	sim   *simulator.Simulator
}

// setup returns a simulator on a fake clock set to 2026-01-15T10:00:00Z.
func setup(t *testing.T, cfg simulator.Config) *testBundle {
	t.Helper()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC))
	cfg.Clock = clock
	return &testBundle{clock: clock, sim: simulator.New(cfg)}
}

// endpoint returns the escaped path of the status of id at provider.
func endpoint(provider, id string) string {
	paths := map[string]string{
		simulator.Hoox:     "/api/public/v1/asset/status/",
		simulator.Hooked:   "/v1/video/",
		simulator.Token360: "/v1/videos/",
	}
	return paths[provider] + url.PathEscape(id)
}

// authorize sets key on r the way provider expects it; an empty key sets
// nothing.
func authorize(r *http.Request, provider, key string) {
	switch {
	case key == "":
	case provider == simulator.Hooked:
		r.Header.Set("x-api-key", key)
	default:
		r.Header.Set("Authorization", "Bearer "+key)
	}
}

// newRequest returns an incoming status request for id at provider,
// carrying key.
func newRequest(provider, id, key string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, endpoint(provider, id), nil)
	authorize(r, provider, key)
	return r
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (tb *testBundle) serve(r *http.Request) response {
	rec := httptest.NewRecorder()
	tb.sim.ServeHTTP(rec, r)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (tb *testBundle) get(provider, id string) response {
	return tb.serve(newRequest(provider, id, testKey))
}

// generation decodes a successful status body and returns the object that
// describes the generation (Hooked's "data").
func (r response) generation(t *testing.T, provider string) map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(r.body, &body))
	if provider == simulator.Hooked {
		require.Equal(t, true, body["success"])
		data, ok := body["data"].(map[string]any)
		require.True(t, ok, "data is an object: %s", r.body)
		return data
	}
	return body
}

func TestLifecycle(t *testing.T) {
	t.Parallel()

	type step struct {
		at           time.Duration // since creation
		wantStatus   string
		wantProgress int // checked for providers that report progress
	}
	plan := simulator.Plan{HiddenFor: 0, PendingFor: 2 * time.Second, RunFor: 10 * time.Second}
	tests := []struct {
		desc     string
		provider string
		steps    []step
	}{
		{
			desc:     "hoox",
			provider: simulator.Hoox,
			steps: []step{
				{0, "pending", 0}, {time.Second, "pending", 0}, {2 * time.Second, "generating", 0},
				{7 * time.Second, "generating", 50}, {12 * time.Second, "completed", 100},
			},
		},
		{
			desc:     "hooked",
			provider: simulator.Hooked,
			steps: []step{
				{0, "STARTED", 0}, {2 * time.Second, "STARTED", 0}, {3 * time.Second, "STARTED", 10},
				{7 * time.Second, "STARTED", 50}, {11*time.Second + 999*time.Millisecond, "STARTED", 99},
				{12 * time.Second, "COMPLETED", 100}, {time.Hour, "COMPLETED", 100},
			},
		},
		{
			desc:     "token360",
			provider: simulator.Token360,
			steps: []step{
				{0, "queued", 0}, {2 * time.Second, "in_progress", 0}, {4500 * time.Millisecond, "in_progress", 25},
				{9 * time.Second, "in_progress", 70}, {12 * time.Second, "completed", 100},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(tt.provider, "gen-1", plan)

			var elapsed time.Duration
			for _, s := range tt.steps {
				tb.clock.Advance(s.at - elapsed)
				elapsed = s.at

				g := tb.get(tt.provider, "gen-1").generation(t, tt.provider)
				require.Equal(t, s.wantStatus, g["status"], "at %v", s.at)
				if tt.provider != simulator.Hoox {
					require.EqualValues(t, s.wantProgress, g["progress"], "at %v", s.at)
				}
				if s.wantProgress < 100 {
					require.Empty(t, g["url"], "no url before completion, at %v", s.at)
				} else {
					require.NotEmpty(t, g["url"], "url once completed, at %v", s.at)
				}
			}
			require.Equal(t, len(tt.steps), tb.sim.Requests(tt.provider, "gen-1"))
		})
	}
}

func TestTerminalBodies(t *testing.T) {
	t.Parallel()

	media := simulator.Plan{
		PendingFor:      2 * time.Second,
		RunFor:          10 * time.Second,
		URL:             "https://cdn.example.com/v.mp4",
		ThumbnailURL:    "https://cdn.example.com/v.jpg",
		Width:           1080,
		Height:          1920,
		DurationSeconds: 8,
		SizeBytes:       2_000_000,
		Cost:            5,
	}
	failed := media
	failed.Outcome = simulator.Fail
	failed.FailCode = "nsfw"
	failed.FailMessage = "Flagged."

	const (
		hooxParams     = `"generation_params":{"model":"veo-3.1","prompt":"A cinematic shot of a fox running through autumn leaves at sunrise.","aspect_ratio":"9:16","resolution":"1080p","duration":8}`
		hookedFixed    = `"id":"gen-1","name":"Simulated video gen-1","type":"class","avatarId":"avatar_sarah_01","voiceId":"tzX5paJ07p5hyWFcU3uG","musicId":"1","videoSettings":{"aspectRatio":"ratio_9_16","caption":{"disabled":false,"preset":"classic"}},"script":"Hello! Welcome to this tutorial...","projectId":"proj_simulator","teamId":"team_simulator","createdAt":"2026-01-15T10:00:00Z","updatedAt":"2026-01-15T10:00:12Z","webhook":null`
		token360Fixed  = `"id":"gen-1","object":"video","model":"seedance-2.0","prompt":"Add gentle motion to the scene","created_at":1768471200,"updated_at":1768471212,"resolution":"1080p","parameters":{"duration":8,"resolution":"1080p","aspect_ratio":"9:16","video_mode":"i2v_first_frame"}`
		hooxCreatedAt  = `"created_at":"2026-01-15T10:00:00.000Z"`
		hookedEnvelope = `{"success":true,"message":"Video details fetched successfully","data":{%s}}`
	)
	tests := []struct {
		desc     string
		provider string
		plan     simulator.Plan
		want     string
	}{
		{
			desc:     "hoox completed",
			provider: simulator.Hoox,
			plan:     media,
			want: `{"asset_id":"gen-1","status":"completed","type":"video","url":"https://cdn.example.com/v.mp4",` +
				`"thumbnail_url":"https://cdn.example.com/v.jpg","width":1080,"height":1920,"duration_seconds":8,"cost":5,` +
				hooxCreatedAt + "," + hooxParams + `}`,
		},
		{
			desc:     "hoox failed",
			provider: simulator.Hoox,
			plan:     failed,
			want: `{"asset_id":"gen-1","status":"failed","type":"video",` + hooxCreatedAt + "," + hooxParams +
				`,"error":{"code":"nsfw","message":"Flagged."}}`,
		},
		{
			desc:     "hooked completed",
			provider: simulator.Hooked,
			plan:     media,
			want: fmt.Sprintf(hookedEnvelope, hookedFixed+`,"status":"COMPLETED","url":"https://cdn.example.com/v.mp4",`+
				`"thumbnail":"https://cdn.example.com/v.jpg","progress":100,"message":"Video completed successfully",`+
				`"durationInFrames":200,"durationInSeconds":8,"size":2000000,"usedCredits":5`),
		},
		{
			desc:     "hooked failed",
			provider: simulator.Hooked,
			plan:     failed,
			want: fmt.Sprintf(hookedEnvelope, hookedFixed+`,"status":"FAILED","url":null,"thumbnail":null,"progress":0,`+
				`"message":"Flagged.","durationInFrames":0,"durationInSeconds":0,"size":0,"usedCredits":0`),
		},
		{
			desc:     "token360 completed",
			provider: simulator.Token360,
			plan:     media,
			want: `{` + token360Fixed + `,"status":"completed","progress":100,"duration":8,` +
				`"url":"https://cdn.example.com/v.mp4","video_url":"https://cdn.example.com/v.mp4"}`,
		},
		{
			desc:     "token360 failed",
			provider: simulator.Token360,
			plan:     failed,
			want:     `{` + token360Fixed + `,"status":"failed","progress":0,"error":{"code":"nsfw","message":"Flagged."}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(tt.provider, "gen-1", tt.plan)
			tb.clock.Advance(12 * time.Second)

			res := tb.get(tt.provider, "gen-1")
			require.Equal(t, http.StatusOK, res.code)
			require.JSONEq(t, tt.want, string(res.body))

			tb.clock.Advance(time.Hour)
			require.Equal(t, res.body, tb.get(tt.provider, "gen-1").body, "a terminal state does not change")
		})
	}
}

func TestDerivedMedia(t *testing.T) {
	t.Parallel()

	tests := []struct {
		desc     string
		provider string
		plan     simulator.Plan
		check    func(t *testing.T, g map[string]any)
	}{
		{
			desc:     "hoox video",
			provider: simulator.Hoox,
			check: func(t *testing.T, g map[string]any) {
				require.Equal(t, "video", g["type"])
				require.Equal(t, "https://cdn.example.com/hoox/a%2Fb%20c.mp4", g["url"])
				require.Equal(t, "https://cdn.example.com/hoox/a%2Fb%20c.jpg", g["thumbnail_url"])
				require.Positive(t, g["width"])
				require.Positive(t, g["height"])
				require.Positive(t, g["duration_seconds"])
				require.Positive(t, g["cost"])
			},
		},
		{
			desc:     "hoox image has no thumbnail or duration",
			provider: simulator.Hoox,
			plan:     simulator.Plan{MediaType: simulator.MediaImage},
			check: func(t *testing.T, g map[string]any) {
				require.Equal(t, "image", g["type"])
				require.Equal(t, "https://cdn.example.com/hoox/a%2Fb%20c.png", g["url"])
				require.NotContains(t, g, "thumbnail_url")
				require.NotContains(t, g, "duration_seconds")
				require.Positive(t, g["width"])
			},
		},
		{
			desc:     "hoox audio has no frame",
			provider: simulator.Hoox,
			plan:     simulator.Plan{MediaType: simulator.MediaAudio},
			check: func(t *testing.T, g map[string]any) {
				require.Equal(t, "audio", g["type"])
				require.NotContains(t, g, "width")
				require.NotContains(t, g, "thumbnail_url")
				require.Positive(t, g["duration_seconds"])
			},
		},
		{
			desc:     "hooked frames are seconds at 25 fps",
			provider: simulator.Hooked,
			check: func(t *testing.T, g map[string]any) {
				require.Positive(t, g["size"])
				require.Positive(t, g["usedCredits"])
				require.InDelta(t, g["durationInSeconds"].(float64)*25, g["durationInFrames"], 0.5)
			},
		},
		{
			desc:     "token360 makes only videos",
			provider: simulator.Token360,
			plan:     simulator.Plan{MediaType: simulator.MediaAudio},
			check: func(t *testing.T, g map[string]any) {
				require.Equal(t, "https://cdn.example.com/token360/a%2Fb%20c.mp4", g["url"])
				require.Equal(t, g["url"], g["video_url"])
				require.Positive(t, g["duration"])
				require.Regexp(t, `^\d+p$`, g["resolution"])
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(tt.provider, "a/b c", tt.plan)
			first := tb.get(tt.provider, "a/b c")
			tt.check(t, first.generation(t, tt.provider))

			again := setup(t, simulator.Config{})
			again.sim.Create(tt.provider, "a/b c", tt.plan)
			require.JSONEq(t, string(first.body), string(again.get(tt.provider, "a/b c").body), "derived from the ID alone")
		})
	}
}

func TestNeverEnds(t *testing.T) {
	t.Parallel()
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(provider, "gen-1", simulator.Plan{RunFor: time.Minute, Outcome: simulator.Never})

			tb.clock.Advance(30 * time.Second)
			running := tb.get(provider, "gen-1").generation(t, provider)
			tb.clock.Advance(1000 * time.Hour)
			later := tb.get(provider, "gen-1").generation(t, provider)

			require.Equal(t, running["status"], later["status"], "still running")
			require.NotContains(t, []any{"completed", "COMPLETED", "failed", "FAILED"}, later["status"])
			if provider != simulator.Hoox {
				require.EqualValues(t, 50, running["progress"])
				require.EqualValues(t, 99, later["progress"])
			}
		})
	}
}

func TestHiddenThenVisible(t *testing.T) {
	t.Parallel()
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			tb.sim.Create(provider, "gen-1", simulator.Plan{HiddenFor: 5 * time.Second, PendingFor: time.Minute})
			tb.sim.Create(provider, "gone", simulator.Plan{HiddenFor: simulator.Forever})

			require.Equal(t, http.StatusNotFound, tb.get(provider, "gen-1").code)
			tb.clock.Advance(5*time.Second - time.Millisecond)
			require.Equal(t, http.StatusNotFound, tb.get(provider, "gen-1").code)
			tb.clock.Advance(time.Millisecond)
			g := tb.get(provider, "gen-1").generation(t, provider)
			require.Contains(t, []any{"pending", "STARTED", "queued"}, g["status"])

			tb.clock.Advance(10000 * time.Hour)
			require.Equal(t, http.StatusNotFound, tb.get(provider, "gone").code)
			require.Equal(t, 3, tb.sim.Requests(provider, "gen-1"), "hidden polls count")
			require.Equal(t, 1, tb.sim.Requests(provider, "gone"))
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()

	const (
		bearerDenied = `{"error":{"code":"unauthorized","message":"Invalid or missing API key"}}`
		hookedDenied = `{"success":false,"message":"Invalid or missing API key"}`
	)
	keys := map[string]string{simulator.Hoox: "hoox-key", simulator.Hooked: "hooked-key", simulator.Token360: "t360-key"}
	withHeader := func(provider, name, value string) *http.Request {
		r := newRequest(provider, "gen-1", "")
		r.Header.Set(name, value)
		return r
	}
	tests := []struct {
		desc     string
		keys     map[string]string
		req      *http.Request
		wantCode int
		wantBody string // compared as JSON when set
	}{
		{"hoox right key", keys, newRequest(simulator.Hoox, "gen-1", "hoox-key"), http.StatusOK, ""},
		{"hoox lower-case scheme", keys, withHeader(simulator.Hoox, "Authorization", "bearer hoox-key"), http.StatusOK, ""},
		{"hoox wrong key", keys, newRequest(simulator.Hoox, "gen-1", "hooked-key"), http.StatusUnauthorized, bearerDenied},
		{"hoox no key", keys, newRequest(simulator.Hoox, "gen-1", ""), http.StatusUnauthorized, bearerDenied},
		{"hoox basic auth", keys, withHeader(simulator.Hoox, "Authorization", "Basic aG9veC1rZXk="), http.StatusUnauthorized, bearerDenied},
		{"hoox any key when none configured", nil, newRequest(simulator.Hoox, "gen-1", "whatever"), http.StatusOK, ""},
		{"hoox empty bearer when none configured", nil, withHeader(simulator.Hoox, "Authorization", "Bearer "), http.StatusUnauthorized, bearerDenied},
		{"hooked right key", keys, newRequest(simulator.Hooked, "gen-1", "hooked-key"), http.StatusOK, ""},
		{"hooked wrong key", keys, newRequest(simulator.Hooked, "gen-1", "hoox-key"), http.StatusForbidden, hookedDenied},
		{"hooked no key", nil, newRequest(simulator.Hooked, "gen-1", ""), http.StatusForbidden, hookedDenied},
		{"hooked key as bearer", keys, withHeader(simulator.Hooked, "Authorization", "Bearer hooked-key"), http.StatusForbidden, hookedDenied},
		{"token360 right key", keys, newRequest(simulator.Token360, "gen-1", "t360-key"), http.StatusOK, ""},
		{"token360 wrong key", keys, newRequest(simulator.Token360, "gen-1", "t360-key-2"), http.StatusUnauthorized, bearerDenied},
		{"token360 no key", nil, newRequest(simulator.Token360, "gen-1", ""), http.StatusUnauthorized, bearerDenied},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{Keys: tt.keys})
			for _, p := range providers {
				tb.sim.Create(p, "gen-1", simulator.Plan{})
			}
			res := tb.serve(tt.req)
			require.Equal(t, tt.wantCode, res.code, "body: %s", res.body)
			require.Equal(t, "application/json", res.header.Get("Content-Type"))
			if tt.wantBody != "" {
				require.JSONEq(t, tt.wantBody, string(res.body))
			}
		})
	}
}

func TestUnknownID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		provider string
		want     string
	}{
		{"hoox", simulator.Hoox, `{"error":{"code":"not_found","message":"Asset not found"}}`},
		{"hooked", simulator.Hooked, `{"success":false,"message":"Video not found"}`},
		{"token360", simulator.Token360, `{"error":{"code":"not_found","message":"Video not found"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{})
			res := tb.get(tt.provider, "no-such-id")
			require.Equal(t, http.StatusNotFound, res.code)
			require.Equal(t, "application/json", res.header.Get("Content-Type"))
			require.JSONEq(t, tt.want, string(res.body))
			require.Zero(t, tb.sim.Requests(tt.provider, "no-such-id"), "an ID never created is not tracked")
		})
	}
}

func TestEscapedIDs(t *testing.T) {
	t.Parallel()

	tb := setup(t, simulator.Config{})
	srv := httptest.NewServer(tb.sim)
	t.Cleanup(srv.Close)

	idField := map[string]func(map[string]any) any{
		simulator.Hoox:     func(g map[string]any) any { return g["asset_id"] },
		simulator.Hooked:   func(g map[string]any) any { return g["id"] },
		simulator.Token360: func(g map[string]any) any { return g["id"] },
	}
	tests := []struct {
		desc string
		id   string
	}{
		{"slash", "a/b"},
		{"question mark", "what?x=1&y=2"},
		{"percent", "100%"},
		{"escaped-looking", "a%2Fb"},
		{"spaces", "with some spaces"},
		{"hash and dots", "../#frag"},
		{"unicode", "vidéo-日本"},
	}
	for _, tt := range tests {
		for _, provider := range providers {
			t.Run(tt.desc+"/"+provider, func(t *testing.T) {
				t.Parallel()
				tb.sim.Create(provider, tt.id, simulator.Plan{})
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+endpoint(provider, tt.id), nil)
				require.NoError(t, err)
				authorize(req, provider, testKey)

				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)

				res := response{code: resp.StatusCode, header: resp.Header, body: body}
				require.Equal(t, tt.id, idField[provider](res.generation(t, provider)))
				require.Equal(t, 1, tb.sim.Requests(provider, tt.id))
			})
		}
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		method   string
		path     string
		wantCode int
	}{
		{"unescaped slash is two segments", http.MethodGet, "/v1/video/a/b", http.StatusNotFound},
		{"no id", http.MethodGet, "/v1/videos/", http.StatusNotFound},
		{"unknown path", http.MethodGet, "/v2/videos/a", http.StatusNotFound},
		{"root", http.MethodGet, "/", http.StatusNotFound},
		{"post", http.MethodPost, "/v1/videos/a", http.StatusMethodNotAllowed},
		{"head", http.MethodHead, "/v1/videos/a", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, simulator.Config{AutoCreate: true})
			r := httptest.NewRequest(tt.method, tt.path, nil)
			r.Header.Set("Authorization", "Bearer "+testKey)
			res := tb.serve(r)
			require.Equal(t, tt.wantCode, res.code, "body: %s", res.body)
			if tt.wantCode != http.StatusOK {
				require.NotEqual(t, "application/json", res.header.Get("Content-Type"), "not an API answer")
			}
			require.EqualValues(t, 1, tb.sim.TotalRequests())
		})
	}
}

func TestAutoCreate(t *testing.T) {
	t.Parallel()

	// The first request creates the generation, so each table starts at 0.
	type step struct {
		at       time.Duration
		wantCode int
		want     string // token360 status when wantCode is 200
	}
	tests := []struct {
		desc  string
		cfg   simulator.Config
		id    string
		steps []step
	}{
		{
			desc:  "plain ID completes within seconds",
			cfg:   simulator.Config{AutoCreate: true},
			id:    "job-1",
			steps: []step{{0, 200, "queued"}, {11 * time.Second, 200, "completed"}},
		},
		{
			desc:  "fail- fails",
			cfg:   simulator.Config{AutoCreate: true},
			id:    "fail-1",
			steps: []step{{0, 200, "queued"}, {11 * time.Second, 200, "failed"}},
		},
		{
			desc:  "never- never ends",
			cfg:   simulator.Config{AutoCreate: true},
			id:    "never-1",
			steps: []step{{0, 200, "queued"}, {11 * time.Second, 200, "in_progress"}, {1000 * time.Hour, 200, "in_progress"}},
		},
		{
			desc:  "missing- is never found",
			cfg:   simulator.Config{AutoCreate: true},
			id:    "missing-1",
			steps: []step{{0, 404, ""}, {1000 * time.Hour, 404, ""}},
		},
		{
			desc:  "slow- is still running when others are done",
			cfg:   simulator.Config{AutoCreate: true},
			id:    "slow-1",
			steps: []step{{0, 200, "queued"}, {11 * time.Second, 200, "queued"}, {110 * time.Second, 200, "completed"}},
		},
		{
			desc:  "late- is hidden first",
			cfg:   simulator.Config{AutoCreate: true},
			id:    "late-1",
			steps: []step{{0, 404, ""}, {4 * time.Second, 404, ""}, {5 * time.Second, 200, "queued"}, {16 * time.Second, 200, "completed"}},
		},
		{
			desc:  "prefixes stack",
			cfg:   simulator.Config{AutoCreate: true},
			id:    "late-fail-1",
			steps: []step{{0, 404, ""}, {4 * time.Second, 404, ""}, {5 * time.Second, 200, "queued"}, {16 * time.Second, 200, "failed"}},
		},
		{
			desc:  "default plan",
			cfg:   simulator.Config{AutoCreate: true, DefaultPlan: simulator.Plan{PendingFor: time.Minute}},
			id:    "job-1",
			steps: []step{{0, 200, "queued"}, {time.Minute - time.Millisecond, 200, "queued"}, {time.Minute, 200, "completed"}},
		},
		{
			desc:  "default plan under a prefix",
			cfg:   simulator.Config{AutoCreate: true, DefaultPlan: simulator.Plan{PendingFor: time.Minute}},
			id:    "fail-1",
			steps: []step{{0, 200, "queued"}, {time.Minute - time.Millisecond, 200, "queued"}, {time.Minute, 200, "failed"}},
		},
		{
			desc:  "off",
			cfg:   simulator.Config{},
			id:    "job-1",
			steps: []step{{0, 404, ""}, {time.Hour, 404, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, tt.cfg)
			var elapsed time.Duration
			for _, s := range tt.steps {
				tb.clock.Advance(s.at - elapsed)
				elapsed = s.at
				res := tb.get(simulator.Token360, tt.id)
				require.Equal(t, s.wantCode, res.code, "at %v: %s", s.at, res.body)
				if s.wantCode == http.StatusOK {
					require.Equal(t, s.want, res.generation(t, simulator.Token360)["status"], "at %v", s.at)
				}
			}
		})
	}
}

func TestAutoCreateFailure(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Config{AutoCreate: true})
	tb.get(simulator.Hoox, "fail-x")
	tb.clock.Advance(time.Minute)
	g := tb.get(simulator.Hoox, "fail-x").generation(t, simulator.Hoox)
	require.Equal(t, map[string]any{
		"code":    "content_policy_violation",
		"message": "The prompt was flagged by the content policy.",
	}, g["error"])
}

func TestRequestsAreCountedConcurrently(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Config{AutoCreate: true})

	const workers, perWorker = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				provider := providers[(w+i)%len(providers)]
				res := tb.get(provider, "shared")
				if res.code != http.StatusOK {
					t.Errorf("%s: status %d", provider, res.code)
				}
				tb.get(provider, fmt.Sprintf("own-%d-%d", w, i))
			}
		})
	}
	wg.Wait()

	total := 0
	for _, p := range providers {
		total += tb.sim.Requests(p, "shared")
	}
	require.Equal(t, workers*perWorker, total)
	require.EqualValues(t, 2*workers*perWorker, tb.sim.TotalRequests())
}

func TestCreateReplaces(t *testing.T) {
	t.Parallel()
	tb := setup(t, simulator.Config{})
	tb.sim.Create(simulator.Token360, "gen-1", simulator.Plan{})
	require.Equal(t, "completed", tb.get(simulator.Token360, "gen-1").generation(t, simulator.Token360)["status"])

	tb.sim.Create(simulator.Token360, "gen-1", simulator.Plan{PendingFor: time.Hour})
	require.Equal(t, "queued", tb.get(simulator.Token360, "gen-1").generation(t, simulator.Token360)["status"])
	require.Equal(t, 1, tb.sim.Requests(simulator.Token360, "gen-1"), "a new generation counts afresh")
	require.Zero(t, tb.sim.Requests(simulator.Hooked, "gen-1"), "providers keep separate generations")
	require.Zero(t, tb.sim.Requests("nobody", "gen-1"))

	require.PanicsWithValue(t, "simulator: unknown provider nobody", func() {
		tb.sim.Create("nobody", "gen-1", simulator.Plan{})
	})
}
