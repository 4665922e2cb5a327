package providers

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Stamp is a provider's timestamp, read leniently: an RFC 3339 string, or
// a Unix time as a number or numeric string, in seconds or, when larger
// than unixMillisAbove, in milliseconds. Anything else (null, an unknown
// format, a time before 2000 or from 2200 on, such as a 9999-12-31
// placeholder) reads as the zero time rather than an error: a timestamp
// only refines the pacing, and an odd one must not make a status
// unreadable.
type Stamp struct{ time.Time }

// unixMillisAbove tells milliseconds from seconds: as seconds it would be
// past the year 5000.
const unixMillisAbove = 1e11

// earliestStamp and stampsBefore bound the timestamps taken as meant.
var (
	earliestStamp = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	stampsBefore  = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// UnmarshalJSON implements json.Unmarshaler.
func (s *Stamp) UnmarshalJSON(b []byte) error {
	var v any
	if json.Unmarshal(b, &v) != nil {
		*s = Stamp{}
		return nil
	}
	switch v := v.(type) {
	case string:
		*s = Stamp{StampText(v)}
	case float64:
		*s = Stamp{StampUnix(v)}
	default:
		*s = Stamp{}
	}
	return nil
}

// StampText reads an RFC 3339 time or a numeric Unix time (see Stamp),
// or returns the zero time.
func StampText(text string) time.Time {
	text = strings.TrimSpace(text)
	if t, err := time.Parse(time.RFC3339Nano, text); err == nil {
		return sane(t)
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		return StampUnix(f)
	}
	return time.Time{}
}

// StampUnix reads a Unix time in seconds, or in milliseconds when larger
// than unixMillisAbove, or returns the zero time.
func StampUnix(v float64) time.Time {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return time.Time{}
	}
	if v > unixMillisAbove {
		v /= 1000
	}
	if v >= float64(stampsBefore.Unix()) {
		return time.Time{}
	}
	sec, frac := math.Modf(v)
	return sane(time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC())
}

func sane(t time.Time) time.Time {
	if t.Before(earliestStamp) || !t.Before(stampsBefore) {
		return time.Time{}
	}
	return t.UTC()
}
