package genwatch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/genwatch/genwatch"
)

// FuzzDecodeRequest feeds DecodeRequest arbitrary payloads. Whatever the
// payload, it must not panic; a payload it rejects gets an
// *InvalidRequestError that says why, so the worker archives the task; a
// payload it accepts (any well-formed provider name, as the configuration
// says which exist) is a valid request that survives Encode and
// DecodeRequest unchanged, as it does between Client and worker.
func FuzzDecodeRequest(f *testing.F) {
	for _, payload := range []string{
		`{"provider":"hoox","generation_id":"662f8c1d3a4b5e6f70123456"}`,
		`{"provider":"hooked","generation_id":"vid_abc123","account":"team-b",` +
			`"metadata":{"user_id":42,"tags":["a","<b>"],"nested":{"x":null}},` +
			`"max_wait_seconds":600,"enqueued_at":"2026-04-16T15:06:57.123456789+02:00"}`,
		`{"provider":"token360","generation_id":"a/b?c#d","metadata": { "k" : "v\u2028" } ,"enqueued_at":null}`,
		`{"provider":"hoox","generation_id":"x","metadata":{"a":1,"a":2}}`,
		`{"PROVIDER":"hoox","Generation_ID":"x"}`,
		"{\"provider\":\"hoox\",\"generation_id\":\"\xff\xfe\"}",
		`{"provider":"hoox","generation_id":"x","enqueued_at":"0000-01-01T00:00:00-23:59"}`,
		`{"provider":"hoox","generation_id":"x","enqueued_at":"9999-12-31T23:59:59+23:59"}`,
		// Within the limit as sent, over it once Encode escapes "<" as \u003c.
		`{"provider":"hoox","generation_id":"x","metadata":{"html":"` +
			strings.Repeat("<", genwatch.MaxMetadataBytes-12) + `"}}`,
		// Invalid.
		"", "null", "[]", "{}", `""`, "\xff",
		`{"provider":"midjourney","generation_id":"x"}`,
		`{"provider":"Mid Journey","generation_id":"x"}`,
		`{"provider":"acme:v2","generation_id":"x"}`,
		`{"provider":"hoox"}`,
		`{"provider":"hoox","generation_id":".."}`,
		`{"provider":"hoox","generation_id":"` + strings.Repeat("x", genwatch.MaxGenerationIDBytes+1) + `"}`,
		`{"provider":"hoox","generation_id":"x","metadata":[1]}`,
		`{"provider":"hoox","generation_id":"x","metadata":null}`,
		`{"provider":"hoox","generation_id":"x","max_wait_seconds":-1}`,
		`{"provider":"hoox","generation_id":"x","expected_seconds":-5}`,
		`{"provider":"hoox","generation_id":"x","expected_seconds":45}`,
		`{"provider":"hoox","generation_id":"x","max_wait_seconds":1e3}`,
		`{"provider":"hoox","generation_id":"x","max_wait_seconds":9223372036854775808}`,
		`{"provider":"hoox","generation_id":"x","enqueued_at":"yesterday"}`,
		`{"provider":"hoox","generation_id":"x","enqueued_at":"10000-01-01T00:00:00Z"}`,
		`{"provider":"hoox","generation_id":"x","priority":1}`,
		`{"provider":"hoox","generation_id":"x"} {}`,
		`{"provider":"hoox","generation_id":"x"`,
		`{"provider":1,"generation_id":["x"]}`,
		`{"generation_id":"x","metadata":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	} {
		f.Add([]byte(payload))
	}

	f.Fuzz(func(t *testing.T, payload []byte) {
		req, err := genwatch.DecodeRequest(payload)
		if err != nil {
			checkInvalidRequest(t, err)
			return
		}
		// Any well-formed provider name passes; the worker checks it
		// against its configuration.
		if err := req.ValidateFor([]string{req.Provider}); err != nil {
			t.Fatalf("DecodeRequest accepted a request that ValidateFor its provider rejects: %v", err)
		}
		if strings.ContainsAny(req.Provider, ": ") {
			t.Fatalf("DecodeRequest accepted provider %q, which cannot be part of a task ID", req.Provider)
		}
		encoded, err := req.Encode()
		if err != nil {
			t.Fatalf("Encode of an accepted request: %v", err)
		}
		again, err := genwatch.DecodeRequest(encoded)
		if err != nil {
			t.Fatalf("DecodeRequest(Encode(req)) = %.300v\npayload: %.200q\nencoded: %.200q", err, payload, encoded)
		}
		if diff := cmp.Diff(req, again, cmp.Comparer(sameJSON)); diff != "" {
			t.Errorf("request changed on Encode and DecodeRequest (-want +got):\n%s", diff)
		}
		if reencoded, err := again.Encode(); err != nil || !bytes.Equal(reencoded, encoded) {
			t.Errorf("second Encode = %q, %v; want %q", reencoded, err, encoded)
		}
	})
}

// checkInvalidRequest asserts that err is an *InvalidRequestError that
// lists at least one problem, each with a message.
func checkInvalidRequest(t *testing.T, err error) {
	t.Helper()
	var ire *genwatch.InvalidRequestError
	if !genwatch.IsInvalidRequest(err) || !errors.As(err, &ire) {
		t.Fatalf("error %q (%T) is not an *InvalidRequestError", err, err)
	}
	if len(ire.Errs) == 0 {
		t.Fatalf("InvalidRequestError %q lists no problem", err)
	}
	for _, e := range ire.Errs {
		if e == nil || e.Error() == "" {
			t.Fatalf("InvalidRequestError %q lists a problem without a message: %#v", err, ire.Errs)
		}
	}
}

// sameJSON compares metadata as JSON values: Encode compacts it and
// escapes HTML characters, which changes its bytes but not its value.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	va, errA := decodeValue(a)
	vb, errB := decodeValue(b)
	return errA == nil && errB == nil && cmp.Equal(va, vb)
}

func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
