package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/genwatch/genwatch"
)

// started is a simulator command running in the background.
type started struct {
	baseURLs map[string]string
	stderr   *bytes.Buffer
	stop     context.CancelFunc
	done     chan struct{}
	code     int // the exit code, once done is closed
}

// wait returns the exit code once the command has returned.
func (s *started) wait() int {
	<-s.done
	return s.code
}

// start runs the command with args on a free port, and waits until it has
// printed the base URLs of the built-in providers.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	return startServing(t, len(genwatch.Providers()), args...)
}

// startServing runs the command with args on a free port, and waits until
// it has printed the base URLs of n providers.
func startServing(t *testing.T, n int, args ...string) *started {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	stdoutR, stdoutW := io.Pipe()
	s := &started{baseURLs: map[string]string{}, stderr: new(bytes.Buffer), stop: stop, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.code = run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), stdoutW, s.stderr)
		stdoutW.Close()
	}()

	lines := bufio.NewScanner(stdoutR)
	for range n {
		require.True(t, lines.Scan(), "base URL lines")
		name, value, ok := strings.Cut(lines.Text(), "=")
		require.True(t, ok, "a NAME=value line: %q", lines.Text())
		s.baseURLs[name] = value
	}
	go io.Copy(io.Discard, stdoutR)
	t.Cleanup(func() {
		stop()
		s.wait()
	})
	return s
}

func get(t *testing.T, url, header, value string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunServesEveryProvider(t *testing.T) {
	t.Parallel()
	s := start(t, "--hooked-key", "letmein")

	require.Len(t, s.baseURLs, len(genwatch.Providers()))
	base := s.baseURLs["GENWATCH_HOOX_BASE_URL"]
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, base)
	require.Equal(t, base, s.baseURLs["GENWATCH_HOOKED_BASE_URL"])
	require.Equal(t, base, s.baseURLs["GENWATCH_TOKEN360_BASE_URL"])

	require.Equal(t, http.StatusOK, get(t, base+"/api/public/v1/asset/status/job-1", "Authorization", "Bearer any"))
	require.Equal(t, http.StatusOK, get(t, base+"/v1/videos/job-1", "Authorization", "Bearer any"))
	require.Equal(t, http.StatusOK, get(t, base+"/v1/video/job-1", "x-api-key", "letmein"))
	require.Equal(t, http.StatusForbidden, get(t, base+"/v1/video/job-1", "x-api-key", "any"))
	require.Equal(t, http.StatusNotFound, get(t, base+"/v1/videos/missing-1", "Authorization", "Bearer any"))

	s.stop()
	require.Equal(t, exitOK, s.wait())
	require.Contains(t, s.stderr.String(), "stopped after 5 requests")
}

// TestRunServesConfiguredProviders serves a declarative provider and an
// OpenAI-compatible one from a genwatch configuration, beside the built-in
// ones, each under its name.
func TestRunServesConfiguredProviders(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "genwatch.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
providers:
  vidgen:
    type: openai_videos
    base_url: https://api.vidgen.example
  acme:
    type: declarative
    base_url: https://api.acme.example
    status:
      path: /v2/jobs/{id}/status
      auth: {header: X-Acme-Key}
      state:
        path: job.state
        words: {queued: pending, working: running, done: completed, error: failed}
`), 0o600))
	s := startServing(t, len(genwatch.Providers())+2, "--config", path, "--auto") // the built-in ones, vidgen and acme

	base := s.baseURLs["GENWATCH_HOOX_BASE_URL"]
	require.Equal(t, base+"/acme", s.baseURLs["GENWATCH_ACME_BASE_URL"])
	require.Equal(t, base+"/vidgen", s.baseURLs["GENWATCH_VIDGEN_BASE_URL"])
	require.Equal(t, http.StatusOK, get(t, base+"/acme/v2/jobs/job-1/status", "X-Acme-Key", "any"))
	require.Equal(t, http.StatusUnauthorized, get(t, base+"/acme/v2/jobs/job-1/status", "Authorization", "Bearer any"))
	require.Equal(t, http.StatusOK, get(t, base+"/vidgen/v1/videos/job-1", "Authorization", "Bearer any"))
	require.Equal(t, http.StatusOK, get(t, base+"/v1/videos/job-1", "Authorization", "Bearer any"), "token360 keeps the root")

	resp, err := http.Get(base + "/acme/v2/jobs/fail-2/status")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no key")
}

func TestRunRejectsABadConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "genwatch.yaml")
	require.NoError(t, os.WriteFile(path, []byte("providers:\n  acme: {type: declarative, base_url: 'https://x'}\n"), 0o600))
	var stderr bytes.Buffer
	code := run(t.Context(), []string{"--addr", "127.0.0.1:0", "--config", path}, io.Discard, &stderr)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr.String(), "providers.acme.status: is required with type declarative")
}

func TestRunFaultFlags(t *testing.T) {
	t.Parallel()
	s := start(t, "--error-rate", "1", "--auto=false")
	base := s.baseURLs["GENWATCH_TOKEN360_BASE_URL"]
	require.Contains(t, []int{500, 502, 503}, get(t, base+"/v1/videos/job-1", "Authorization", "Bearer any"))
}

func TestRunStatusRateFlags(t *testing.T) {
	t.Parallel()
	s := start(t, "--status-rate", "504=1", "--auto=false")
	base := s.baseURLs["GENWATCH_HOOX_BASE_URL"]
	require.Equal(t, http.StatusGatewayTimeout, get(t, base+"/api/public/v1/asset/status/job-1", "Authorization", "Bearer any"))
	s.stop()
	require.Equal(t, exitOK, s.wait())
	require.Contains(t, s.stderr.String(), "stopped after 1 requests, 1 of them faulted")
}

func TestRunBurstFlags(t *testing.T) {
	t.Parallel()
	s := start(t, "--burst", "1h", "--retry-after", "2s")
	base := s.baseURLs["GENWATCH_HOOKED_BASE_URL"]
	require.Equal(t, http.StatusTooManyRequests, get(t, base+"/v1/video/job-1", "x-api-key", "any"))
}

func TestRunWebhookFlags(t *testing.T) {
	t.Parallel()
	got := make(chan string, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.URL.Path + " " + gjson.GetBytes(b, "data.id").String() + " " + gjson.GetBytes(b, "data.status").String()
	}))
	t.Cleanup(receiver.Close)
	s := start(t, "--webhook", "hooked="+receiver.URL+"/hook", "--webhook-delay", "10ms", "--seed", "3")
	base := s.baseURLs["GENWATCH_HOOKED_BASE_URL"]
	// fail- ends after 1-3 s pending and 3-8 s running, at the latest.
	require.Equal(t, http.StatusOK, get(t, base+"/v1/video/fail-1", "x-api-key", "any"))
	select {
	case h := <-got:
		require.Equal(t, "/hook fail-1 FAILED", h)
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook")
	}
}

func TestRunWithoutAuto(t *testing.T) {
	t.Parallel()
	s := start(t, "--auto=false")
	base := s.baseURLs["GENWATCH_TOKEN360_BASE_URL"]
	require.Equal(t, http.StatusNotFound, get(t, base+"/v1/videos/job-1", "Authorization", "Bearer any"))
}

func TestRunRejectsBadUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown flag", []string{"--nope"}, exitUsage, "flag provided but not defined"},
		{"error rate above 1", []string{"--error-rate", "1.5"}, exitUsage, "--error-rate 1.5"},
		{"negative latency", []string{"--latency", "-1s"}, exitUsage, "--latency -1s"},
		{"negative burst", []string{"--burst", "-1s"}, exitUsage, "--burst -1s"},
		{"hang rate above 1", []string{"--hang-rate", "2"}, exitUsage, "--hang-rate 2"},
		{"status rate without a code", []string{"--status-rate", "0.5"}, exitUsage, "want CODE=FRACTION"},
		{"status rate of a success", []string{"--status-rate", "200=0.5"}, exitUsage, "want a code from 400 to 599"},
		{"status rate above 1", []string{"--status-rate", "500=1.5"}, exitUsage, "want a number from 0 to 1"},
		{"status rates adding up above 1", []string{"--status-rate", "500=0.6", "--status-rate", "503=0.6"}, exitUsage, "add up to 1.2"},
		{"arguments", []string{"extra"}, exitUsage, `unexpected arguments ["extra"]`},
		{"webhook without a provider", []string{"--webhook", "http://x/"}, exitUsage, "want PROVIDER=URL"},
		{"webhook of an unknown provider", []string{"--webhook", "acme=http://x/"}, exitUsage, `provider "acme"`},
		{"webhook to a bad URL", []string{"--webhook", "hoox=ftp://x/"}, exitUsage, `URL "ftp://x/"`},
		{"webhook rate above 1", []string{"--webhook-lost-rate", "1.5"}, exitUsage, "--webhook-lost-rate 1.5"},
		{"webhook rates adding up above 1", []string{"--webhook-lost-rate", "0.5", "--webhook-late-rate", "0.6"}, exitUsage, "add up to 1.1"},
		{"negative webhook delay", []string{"--webhook-delay", "-1s"}, exitUsage, "--webhook-delay -1s"},
		{"bad address", []string{"--addr", "127.0.0.1:99999"}, exitError, "invalid port"},
		{"help", []string{"--help"}, exitOK, "Usage: simulator"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			require.Equal(t, tt.wantCode, run(t.Context(), tt.args, &stdout, &stderr))
			require.Contains(t, stderr.String(), tt.wantErr)
			require.Empty(t, stdout.String())
		})
	}
}
