package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc           string
		err            error
		wantClass      Class
		wantRetryAfter time.Duration
	}{
		{desc: "nil", err: nil, wantClass: ClassNone},
		{desc: "404", err: &HTTPError{StatusCode: http.StatusNotFound}, wantClass: ClassNotFound},
		{desc: "401", err: &HTTPError{StatusCode: http.StatusUnauthorized}, wantClass: ClassUnauthorized},
		{desc: "403", err: &HTTPError{StatusCode: http.StatusForbidden}, wantClass: ClassUnauthorized},
		{desc: "429 with delay", err: &HTTPError{StatusCode: http.StatusTooManyRequests, RetryAfter: 7 * time.Second},
			wantClass: ClassRateLimited, wantRetryAfter: 7 * time.Second},
		{desc: "503 with delay", err: &HTTPError{StatusCode: http.StatusServiceUnavailable, RetryAfter: time.Minute},
			wantClass: ClassTransient, wantRetryAfter: time.Minute},
		{desc: "500", err: &HTTPError{StatusCode: http.StatusInternalServerError}, wantClass: ClassTransient},
		{desc: "unexpected 3xx", err: &HTTPError{StatusCode: http.StatusMovedPermanently}, wantClass: ClassTransient},
		{desc: "wrapped 404", err: fmt.Errorf("hoox: get status: %w", &HTTPError{StatusCode: http.StatusNotFound}),
			wantClass: ClassNotFound},
		{desc: "malformed", err: UnknownStatus("archived"), wantClass: ClassTransient},
		{desc: "timeout", err: fmt.Errorf("request: %w", context.DeadlineExceeded), wantClass: ClassTransient},
		{desc: "unknown error", err: errors.New("boom"), wantClass: ClassTransient},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			class, retryAfter := Classify(tc.err)
			require.Equal(t, tc.wantClass, class)
			require.Equal(t, tc.wantRetryAfter, retryAfter)
		})
	}
}

func TestClassString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ok", ClassNone.String())
	require.Equal(t, "rate_limited", ClassRateLimited.String())
	require.Equal(t, "transient", Class(99).String())
	require.Equal(t, "transient", Class(-1).String())
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		value string
		want  time.Duration
	}{
		{desc: "absent", value: "", want: 0},
		{desc: "seconds", value: "7", want: 7 * time.Second},
		{desc: "zero seconds", value: "0", want: 0},
		{desc: "negative seconds", value: "-5", want: 0},
		{desc: "capped at a day", value: "9999999", want: 24 * time.Hour},
		{desc: "http date ahead", value: "Thu, 16 Apr 2026 15:01:30 GMT", want: 90 * time.Second},
		{desc: "http date past", value: "Thu, 16 Apr 2026 14:59:00 GMT", want: 0},
		{desc: "fractional seconds", value: "1.5", want: 0},
		{desc: "garbage", value: "soon", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ParseRetryAfter(tc.value, testNow))
		})
	}
}

func TestHTTPError(t *testing.T) {
	t.Parallel()
	err := error(&HTTPError{StatusCode: http.StatusNotFound, Message: "Video not found"})
	require.EqualError(t, err, "http 404: Video not found")
	require.ErrorIs(t, err, ErrNotFound)
	require.NotErrorIs(t, err, ErrUnavailable)
	require.EqualError(t, &HTTPError{StatusCode: http.StatusBadGateway}, "http 502")
}
