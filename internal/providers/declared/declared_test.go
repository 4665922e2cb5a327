package declared_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/declared"
)

// acme is a declared provider whose answers put things where no built-in
// provider does.
const acme = `
path: /v2/jobs/{id}/status
auth: {header: X-Acme-Key}
state:
  path: job.state
  words: {WAITING: pending, working: running, done: completed, error: failed, Cancelled: failed}
fields:
  progress: {path: job.fraction, divide_by: 0.01}
  url: [job.output.hd_url, job.output.url]
  thumbnail_url: job.output.poster
  media_type: job.kind
  dimensions: job.output.size
  size_bytes: job.output.bytes
  duration_seconds: [job.output.seconds, {path: job.output.frames, divide_by: 24}]
  cost: billing.credits
  model: job.model
  updated_at: [job.updated, {path: job.updated_ms, divide_by: 1000}]
  error_code: job.error.code
  error_message: [job.error.message, job.error]
media_type: image
webhook_id: [event.job_id, job.id]
`

func decode(t *testing.T, spec, body string) (*providers.Status, error) {
	t.Helper()
	s, err := declared.Parse([]byte(spec))
	require.NoError(t, err)
	return declared.Definition(s, "acme").Decode([]byte(body))
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		body    string
		want    providers.Status
		wantErr string
	}{
		{desc: "pending, word in another case", body: `{"job":{"state":"waiting"}}`,
			want: providers.Status{State: providers.StatePending, ProviderStatus: "waiting", MediaType: "image"}},
		{desc: "running, fraction as percent", body: `{"job":{"state":"working","fraction":0.426,"model":"acme-2","kind":"VIDEO"}}`,
			want: providers.Status{State: providers.StateRunning, ProviderStatus: "working", Progress: new(43), Model: "acme-2", MediaType: "video"}},
		{desc: "completed, first non-empty URL, dimensions, frames", body: `{"job":{"state":"done","kind":"hologram","output":{"hd_url":"","url":"https://a/v.mp4","poster":"https://a/p.jpg","size":"1280x720","bytes":"2048","seconds":0,"frames":240}},"billing":{"credits":0}}`,
			want: providers.Status{State: providers.StateCompleted, ProviderStatus: "done", MediaType: "image",
				URL: "https://a/v.mp4", ThumbnailURL: "https://a/p.jpg", Width: 1280, Height: 720, SizeBytes: 2048,
				DurationSeconds: 10, Cost: new(0.0)}},
		{desc: "failed, error object", body: `{"job":{"state":"error","error":{"code":4001,"message":"Rejected"}}}`,
			want: providers.Status{State: providers.StateFailed, ProviderStatus: "error", MediaType: "image", ErrorCode: "4001", ErrorMessage: "Rejected"}},
		{desc: "failed, error string", body: `{"job":{"state":"Cancelled","error":"Canceled by the user"}}`,
			want: providers.Status{State: providers.StateFailed, ProviderStatus: "Cancelled", MediaType: "image", ErrorMessage: "Canceled by the user"}},
		{desc: "error of a running job is not a failure", body: `{"job":{"state":"working","error":{"code":"slow","message":"Queue is long"}}}`,
			want: providers.Status{State: providers.StateRunning, ProviderStatus: "working", MediaType: "image"}},
		{desc: "odd values are not reported", body: `{"job":{"state":"done","fraction":"lots","output":{"size":"big","bytes":-5,"seconds":-1,"url":7}},"billing":{"credits":-2}}`,
			want: providers.Status{State: providers.StateCompleted, ProviderStatus: "done", MediaType: "image", URL: "7"}},
		{desc: "the first path with a time dates it", body: `{"job":{"state":"working","updated":"2026-04-16T15:07:41Z","updated_ms":1776352000000}}`,
			want: providers.Status{State: providers.StateRunning, ProviderStatus: "working", MediaType: "image", UpdatedAt: time.Unix(1776352061, 0).UTC()}},
		{desc: "a later path in milliseconds, divided", body: `{"job":{"state":"working","updated":null,"updated_ms":"1776352061500"}}`,
			want: providers.Status{State: providers.StateRunning, ProviderStatus: "working", MediaType: "image", UpdatedAt: time.Unix(1776352061, 500_000_000).UTC()}},
		{desc: "an odd date is no date", body: `{"job":{"state":"working","updated":"yesterday"}}`,
			want: providers.Status{State: providers.StateRunning, ProviderStatus: "working", MediaType: "image"}},
		{desc: "unknown word", body: `{"job":{"state":"archived"}}`, wantErr: `unknown status "archived" at job.state`},
		{desc: "no word", body: `{"success":false,"message":"Job could not be loaded"}`, wantErr: "no status word at job.state: {\"success\":false,\"message\":\"Job could not be loaded\"}"},
		{desc: "word not a string", body: `{"job":{"state":3}}`, wantErr: "no status word"},
		{desc: "array", body: `[{"job":{"state":"done"}}]`, wantErr: "not a JSON object"},
		{desc: "not json", body: `<html>`, wantErr: "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := decode(t, acme, tc.body)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, providers.ErrMalformed)
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			got.Sanitize() // as NewHTTP does
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("Status mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookID(t *testing.T) {
	t.Parallel()
	s, err := declared.Parse([]byte(acme))
	require.NoError(t, err)
	def := declared.Definition(s, "acme")
	for body, want := range map[string]string{
		`{"event":{"job_id":"j-1"},"job":{"id":"other"}}`: "j-1",
		`{"job":{"id":"j-2"}}`:                            "j-2",
		`{"job":{"id":42}}`:                               "42",
	} {
		got, ok := def.WebhookID([]byte(body))
		require.True(t, ok, body)
		require.Equal(t, want, got, body)
	}
	for _, body := range []string{`{}`, `{"job":{"id":""}}`, `{"job":{"id":{"x":1}}}`, `not json`} {
		_, ok := def.WebhookID([]byte(body))
		require.False(t, ok, body)
	}
	openai := declared.Definition(declared.OpenAIVideos(), "sora")
	got, ok := openai.WebhookID([]byte(`{"id":"evt_1","object":"event","type":"video.completed","data":{"id":"video_1"}}`))
	require.True(t, ok)
	require.Equal(t, "video_1", got, "an OpenAI event's own id is not the video's")
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s, err := declared.Parse([]byte("path: /jobs\nstate: {path: s, words: {ok: completed}}\n"))
	require.NoError(t, err)
	def := declared.Definition(s, "minimal")
	require.Equal(t, "Authorization", def.AuthHeader)
	require.Equal(t, "Bearer", def.AuthScheme)
	require.Equal(t, []string{"id"}, def.WebhookIDPaths)
	require.Equal(t, "/jobs", def.Endpoint)
	st, err := def.Decode([]byte(`{"s":"OK"}`))
	require.NoError(t, err)
	require.Equal(t, providers.MediaVideo, st.MediaType)

	s, err = declared.Parse([]byte("path: /jobs\nauth: {header: X-Key}\nstate: {path: s, words: {ok: completed}}\n"))
	require.NoError(t, err)
	require.Empty(t, declared.Definition(s, "bare").AuthScheme, "a header of its own holds the bare key")
}

// TestValidate checks that every problem is reported, each naming its
// YAML path, in a stable order.
func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		yaml  string
		wants []string
	}{
		{desc: "empty", yaml: "{}", wants: []string{
			"status.path: is required",
			"status.state.path: is required",
			"status.state.words: is required",
		}},
		{desc: "relative path", yaml: "path: v1/jobs/{id}", wants: []string{"status.path: must start with /"}},
		{desc: "query", yaml: "path: /v1/jobs?id={id}", wants: []string{"status.path: must be a path alone"}},
		{desc: "id twice", yaml: "path: /v1/{id}/{id}", wants: []string{"status.path: has {id} more than once"}},
		{desc: "id inside a segment", yaml: "path: /v1/job-{id}", wants: []string{"status.path: {id} must be a whole path segment"}},
		{desc: "other placeholder", yaml: "path: /v1/{team}/{id}", wants: []string{"status.path: the only placeholder is {id}"}},
		{desc: "bad header and scheme", yaml: "auth: {header: 'X Key', scheme: 'Bearer token'}", wants: []string{
			`status.auth.header: "X Key" is not a header name`,
			`status.auth.scheme: "Bearer token" must be one word`,
		}},
		{desc: "bad words", yaml: "state: {path: s, words: {ok: done, OK: completed, '': running}}", wants: []string{
			`status.state.words: a status word must not be empty`,
			`status.state.words.ok: want pending, running, completed or failed, got "done"`,
			`status.state.words.ok: is "OK" again: words match in any case`,
		}},
		{desc: "no completed word", yaml: "state: {path: s, words: {x: failed}}", wants: []string{"status.state.words: no word means completed"}},
		{desc: "bad fields", yaml: "fields: {url: [a, ''], progress: {path: p, divide_by: -1}, model: {path: m, divide_by: 2}}", wants: []string{
			"status.fields.progress.divide_by: must be a positive number",
			"status.fields.url[1]: path must not be empty",
			"status.fields.model.divide_by: applies to numbers only",
		}},
		{desc: "media type", yaml: "media_type: hologram", wants: []string{`status.media_type: want video, image or audio, got "hologram"`}},
		{desc: "webhook id", yaml: "webhook_id: [id, '']", wants: []string{"status.webhook_id[1]: path must not be empty"}},
		{desc: "unknown key", yaml: "pathh: /x", wants: []string{"status: yaml: unmarshal errors:\n  line 1: field pathh not found"}},
		{desc: "unknown key in a path", yaml: "fields: {url: {path: u, scale: 2}}", wants: []string{"field scale not found in a path"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := declared.Parse([]byte(tc.yaml))
			require.Error(t, err)
			msg := err.Error()
			last := -1
			for _, want := range tc.wants {
				i := strings.Index(msg, want)
				require.GreaterOrEqual(t, i, 0, "%q not in:\n%s", want, msg)
				require.Greater(t, i, last, "%q out of order in:\n%s", want, msg)
				last = i
			}
			var joined interface{ Unwrap() []error }
			if errors.As(err, &joined) && !strings.HasPrefix(tc.desc, "unknown key") {
				for _, e := range joined.Unwrap() {
					require.True(t, strings.HasPrefix(e.Error(), "status."), "%q does not name its YAML path", e)
				}
			}
		})
	}
}
