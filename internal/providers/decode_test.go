package providers

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		json    string
		want    ErrorObject
		wantErr bool
	}{
		{desc: "absent", json: `{}`, want: ErrorObject{}},
		{desc: "null", json: `{"error":null}`, want: ErrorObject{}},
		{desc: "string", json: `{"error":"Timed out"}`, want: ErrorObject{Message: "Timed out"}},
		{desc: "object", json: `{"error":{"code":"content_policy","message":"Rejected"}}`,
			want: ErrorObject{Code: "content_policy", Message: "Rejected"}},
		{desc: "numeric code", json: `{"error":{"code":4001,"message":"Rejected"}}`,
			want: ErrorObject{Code: "4001", Message: "Rejected"}},
		{desc: "extra fields", json: `{"error":{"code":"x","message":"y","type":"invalid_request_error"}}`,
			want: ErrorObject{Code: "x", Message: "y"}},
		{desc: "number", json: `{"error":42}`, wantErr: true},
		{desc: "message not a string", json: `{"error":{"message":["a"]}}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			var got struct {
				Error ErrorObject `json:"error"`
			}
			err := json.Unmarshal([]byte(tc.json), &got)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Error)
		})
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		body string
		want string
	}{
		{desc: "hooked", body: `{"success":false,"message":"Video not found"}`, want: "Video not found"},
		{desc: "error object", body: `{"error":{"code":"not_found","message":"Task not found"}}`, want: "Task not found"},
		{desc: "error string", body: `{"error":"Asset not found"}`, want: "Asset not found"},
		{desc: "error object before message", body: `{"message":"outer","error":{"message":"inner"}}`, want: "inner"},
		{desc: "code only", body: `{"error":{"code":"rate_limited"}}`, want: "rate_limited"},
		{desc: "message beats code", body: `{"error":{"code":"rate_limited"},"message":"Slow down"}`, want: "Slow down"},
		{desc: "odd error shape", body: `{"error":true,"message":"Bad gateway"}`, want: "Bad gateway"},
		{desc: "message null", body: `{"message":null}`, want: ""},
		{desc: "no message", body: `{"status":"error"}`, want: ""},
		{desc: "not json", body: `<html>Bad Gateway</html>`, want: ""},
		{desc: "array", body: `["error"]`, want: ""},
		{desc: "empty", body: ``, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, errorMessage([]byte(tc.body)))
		})
	}
}

func TestParseState(t *testing.T) {
	t.Parallel()
	words := map[string]State{"started": StateRunning, "in_progress": StateRunning, "completed": StateCompleted}
	tests := []struct {
		desc    string
		word    string
		want    State
		wantErr bool
	}{
		{desc: "lower case", word: "completed", want: StateCompleted},
		{desc: "upper case", word: "STARTED", want: StateRunning},
		{desc: "underscore", word: "in_progress", want: StateRunning},
		{desc: "unknown", word: "archived", wantErr: true},
		{desc: "empty", word: "", wantErr: true},
		{desc: "padded", word: " completed", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := ParseState(words, tc.word)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrMalformed)
				require.ErrorContains(t, err, `"`+tc.word+`"`)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		in   *float64
		want *int
	}{
		{desc: "absent", in: nil, want: nil},
		{desc: "zero", in: new(0.0), want: new(0)},
		{desc: "within", in: new(45.0), want: new(45)},
		{desc: "rounded", in: new(99.5), want: new(100)},
		{desc: "above", in: new(120.0), want: new(100)},
		{desc: "below", in: new(-3.0), want: new(0)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Percent(tc.in))
		})
	}
}
