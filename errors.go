package genwatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrUnknownProvider is wrapped by a validation error for a provider name
// genwatch does not know.
var ErrUnknownProvider = errors.New("unknown provider")

// ErrUnknownAccount is wrapped by a validation error for an account that is
// not configured for its provider.
var ErrUnknownAccount = errors.New("unknown account")

// InvalidRequestError lists every problem found in a tracking request.
// Workers archive such a task at once; the CLI exits with code 2.
type InvalidRequestError struct {
	Errs []error
}

// Error implements error.
func (e *InvalidRequestError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return "invalid tracking request: " + strings.Join(msgs, "; ")
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (e *InvalidRequestError) Unwrap() []error { return e.Errs }

// IsInvalidRequest reports whether err is, or wraps, an *InvalidRequestError.
func IsInvalidRequest(err error) bool {
	var ire *InvalidRequestError
	return errors.As(err, &ire)
}

// decodeStrict unmarshals exactly one JSON value into v, rejecting unknown
// fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("unexpected data after the JSON object")
	}
	return nil
}
