package providers

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// ErrorObject is a provider's error value, read leniently: a bare string is
// taken as the message, an object gives "code" and "message" (a numeric
// code is kept as its decimal text), and null leaves both empty.
type ErrorObject struct {
	Code    string
	Message string
}

// UnmarshalJSON implements json.Unmarshaler.
func (e *ErrorObject) UnmarshalJSON(b []byte) error {
	var msg string
	if json.Unmarshal(b, &msg) == nil {
		*e = ErrorObject{Message: msg}
		return nil
	}
	var obj struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	*e = ErrorObject{Message: obj.Message}
	switch code := obj.Code.(type) {
	case string:
		e.Code = code
	case float64:
		e.Code = strconv.FormatFloat(code, 'f', -1, 64)
	}
	return nil
}

// errorMessage returns the message of a provider's error body, for
// CheckStatus: the "error" value (a string, or an object's "message", else
// its "code"), else a top-level "message". It returns "" when the body has
// none of these, and CheckStatus then quotes the body itself.
func errorMessage(body []byte) string {
	var fields struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &fields) != nil {
		return ""
	}
	var e ErrorObject
	if json.Unmarshal(fields.Error, &e) == nil && e.Message != "" {
		return e.Message
	}
	var msg string
	if json.Unmarshal(fields.Message, &msg) == nil && msg != "" {
		return msg
	}
	return e.Code
}

// ParseState maps a provider's status word to a State through words, whose
// keys are lower case; the word's case does not matter. A word that is not
// in words, the empty word included, is UnknownStatus.
func ParseState(words map[string]State, word string) (State, error) {
	if s, ok := words[strings.ToLower(word)]; ok {
		return s, nil
	}
	return StateUnknown, UnknownStatus(word)
}

// Count rounds a JSON number that counts something (pixels) to an int; a
// negative, non-finite or out-of-range value is 0, "not reported".
func Count(v float64) int {
	if math.IsNaN(v) || v < 0 || v > math.MaxInt32 {
		return 0
	}
	return int(math.Round(v))
}

// Sanitize turns the impossible values a provider may send (negative
// sizes and durations, non-finite numbers, a negative cost) into "not
// reported", so that they never reach an event.
func (s *Status) Sanitize() {
	if s.Width < 0 {
		s.Width = 0
	}
	if s.Height < 0 {
		s.Height = 0
	}
	if s.SizeBytes < 0 {
		s.SizeBytes = 0
	}
	if d := s.DurationSeconds; d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
		s.DurationSeconds = 0
	}
	if c := s.Cost; c != nil && (*c < 0 || math.IsNaN(*c) || math.IsInf(*c, 0)) {
		s.Cost = nil
	}
}

// Percent rounds a reported progress to a whole percentage within 0-100,
// for Status.Progress. Nil, for "not reported", stays nil.
func Percent(p *float64) *int {
	if p == nil {
		return nil
	}
	v := int(math.Round(min(max(*p, 0), 100)))
	return &v
}
