package providers

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStamp(t *testing.T) {
	t.Parallel()
	at := func(sec, nsec int64) time.Time { return time.Unix(sec, nsec).UTC() }
	tests := []struct {
		desc string
		json string
		want time.Time
	}{
		{desc: "RFC 3339", json: `"2026-04-16T15:07:41Z"`, want: at(1776352061, 0)},
		{desc: "RFC 3339 with a fraction and an offset", json: `"2026-04-16T17:07:41.25+02:00"`, want: at(1776352061, 250_000_000)},
		{desc: "Unix seconds", json: `1776352061`, want: at(1776352061, 0)},
		{desc: "Unix seconds with a fraction", json: `1776352061.5`, want: at(1776352061, 500_000_000)},
		{desc: "Unix milliseconds", json: `1776352061250`, want: at(1776352061, 250_000_000)},
		{desc: "a numeric string", json: `"1776352061"`, want: at(1776352061, 0)},
		{desc: "absent", json: ``},
		{desc: "null", json: `null`},
		{desc: "an unknown format", json: `"Thursday"`},
		{desc: "a date without a time", json: `"2026-04-16"`},
		{desc: "zero", json: `0`},
		{desc: "negative", json: `-5`},
		{desc: "before 2000", json: `"1999-12-31T23:59:59Z"`},
		{desc: "beyond any calendar", json: `1e300`},
		{desc: "a far-future placeholder", json: `"9999-12-31T23:59:59Z"`},
		{desc: "2200 and on", json: `"2200-01-01T00:00:00Z"`},
		{desc: "seconds in 5138", json: `100000000000`},
		{desc: "milliseconds in 2200", json: `7258118400000`},
		{desc: "the last second before 2200", json: `"2199-12-31T23:59:59Z"`, want: time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC)},
		{desc: "a boolean", json: `true`},
		{desc: "an object", json: `{"seconds": 1776352061}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			body := `{}`
			if tt.json != "" {
				body = `{"updated_at":` + tt.json + `}`
			}
			var v struct {
				UpdatedAt Stamp `json:"updated_at"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &v), "an odd timestamp never fails the body")
			require.True(t, tt.want.Equal(v.UpdatedAt.Time), "got %v, want %v", v.UpdatedAt.Time, tt.want)
			if !tt.want.IsZero() {
				require.Equal(t, time.UTC, v.UpdatedAt.Location())
			}
		})
	}
}
