package providers

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStatusURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		baseURL  string
		endpoint string
		id       string
		want     string
		wantErr  bool
	}{
		{desc: "documented", baseURL: "https://api.hooked.ai", endpoint: "/v1/video", id: "vid_abc123",
			want: "https://api.hooked.ai/v1/video/vid_abc123"},
		{desc: "trailing slash", baseURL: "https://api.hooked.ai/", endpoint: "/v1/video", id: "vid_abc123",
			want: "https://api.hooked.ai/v1/video/vid_abc123"},
		{desc: "port and prefix", baseURL: "http://127.0.0.1:8080/proxy/", endpoint: "/v1/videos", id: "v1",
			want: "http://127.0.0.1:8080/proxy/v1/videos/v1"},
		{desc: "query and fragment dropped", baseURL: "https://api.token360.ai?x=1#f", endpoint: "/v1/videos", id: "v1",
			want: "https://api.token360.ai/v1/videos/v1"},
		{desc: "slash escaped", baseURL: "https://h", endpoint: "/e", id: "a/b", want: "https://h/e/a%2Fb"},
		{desc: "dot-dot inside", baseURL: "https://h", endpoint: "/e", id: "../../admin", want: "https://h/e/..%2F..%2Fadmin"},
		{desc: "query escaped", baseURL: "https://h", endpoint: "/e", id: "a?b=c", want: "https://h/e/a%3Fb=c"},
		{desc: "fragment escaped", baseURL: "https://h", endpoint: "/e", id: "a#b", want: "https://h/e/a%23b"},
		{desc: "percent escaped", baseURL: "https://h", endpoint: "/e", id: "100%", want: "https://h/e/100%25"},
		{desc: "space escaped", baseURL: "https://h", endpoint: "/e", id: "a b", want: "https://h/e/a%20b"},
		{desc: "unicode escaped", baseURL: "https://h", endpoint: "/e", id: "é", want: "https://h/e/%C3%A9"},
		{desc: "template in the middle", baseURL: "https://h/p/", endpoint: "/v2/jobs/{id}/status", id: "a/b?c",
			want: "https://h/p/v2/jobs/a%2Fb%3Fc/status"},
		{desc: "template at the end", baseURL: "https://h", endpoint: "/v2/jobs/{id}", id: "j1", want: "https://h/v2/jobs/j1"},
		{desc: "template id climbing", baseURL: "https://h", endpoint: "/v2/{id}/status", id: "../..", want: "https://h/v2/..%2F../status"},
		{desc: "empty id", baseURL: "https://h", endpoint: "/e", id: "", wantErr: true},
		{desc: "dot id", baseURL: "https://h", endpoint: "/e", id: ".", wantErr: true},
		{desc: "dot-dot id", baseURL: "https://h", endpoint: "/e", id: "..", wantErr: true},
		{desc: "no scheme", baseURL: "api.hooked.ai", endpoint: "/e", id: "x", wantErr: true},
		{desc: "other scheme", baseURL: "ftp://api.hooked.ai", endpoint: "/e", id: "x", wantErr: true},
		{desc: "no host", baseURL: "https://", endpoint: "/e", id: "x", wantErr: true},
		{desc: "unparsable", baseURL: "://h", endpoint: "/e", id: "x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := StatusURL(tc.baseURL, tc.endpoint, tc.id)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

var testNow = time.Date(2026, 4, 16, 15, 0, 0, 0, time.UTC)

func TestCheckStatus(t *testing.T) {
	t.Parallel()
	require.NoError(t, CheckStatus(&Response{StatusCode: http.StatusOK}, "", testNow))

	err := CheckStatus(&Response{
		StatusCode: http.StatusTooManyRequests,
		Header:     http.Header{"Retry-After": {"7"}},
		Body:       []byte("  slow down\n"),
	}, "", testNow)
	require.Equal(t, &HTTPError{StatusCode: 429, RetryAfter: 7 * time.Second, Message: "slow down"}, err)

	err = CheckStatus(&Response{StatusCode: http.StatusNotFound, Body: []byte(`{"message":"x"}`)}, "Video not found", testNow)
	require.EqualError(t, err, "http 404: Video not found")
}
