package hooked

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/genwatch/genwatch/internal/providers"
)

// FuzzDecode feeds decode arbitrary bodies, seeded with every canned
// response in testdata and a few hostile ones. Whatever the body, decode
// must not panic and must either fail with ErrMalformed or return a Status
// the poll handler can use as it is.
func FuzzDecode(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	for _, body := range []string{
		"", "null", "[]", "{}", `""`, "0", "\xff\xfe{}",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		`{"success":true,"data":` + strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001) + "}",
		`{"success":true}`,
		`{"success":true,"data":null}`,
		`{"success":"true","data":{"status":"STARTED"}}`,
		"{\"success\":false,\"message\":\"\xff\\u0000\"}",
		`{"success":true,"data":{"status":"STARTED","progress":1e308}}`,
		`{"success":true,"data":{"status":"started","progress":-1e308}}`,
		`{"success":true,"data":{"status":"COMPLETED","size":9223372036854775807,"durationInFrames":1e308}}`,
		`{"success":true,"data":{"status":"COMPLETED","size":9223372036854775808}}`,
		`{"success":true,"data":{"status":"COMPLETED","usedCredits":1e400}}`,
		"{\"success\":true,\"data\":{\"status\":\"FAILED\",\"message\":\"\xff\"}}",
		`{"Success":true,"DATA":{"Status":"Completed"}}`,
	} {
		f.Add([]byte(body))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := decode(body)
		if err != nil {
			checkMalformed(t, st, err)
			return
		}
		// NewHTTP sanitizes every decoded status before anyone sees it.
		st.Sanitize()
		checkStatus(t, body, st)
		// Hooked makes only videos, gives no pixels and no error code, and
		// its data message is an error message only on a FAILED video.
		if st.MediaType != providers.MediaVideo || st.Width != 0 || st.Height != 0 || st.ErrorCode != "" {
			t.Errorf("MediaType %q, Width %d, Height %d, ErrorCode %q; want video, 0, 0, empty",
				st.MediaType, st.Width, st.Height, st.ErrorCode)
		}
		if st.State != providers.StateFailed && st.ErrorMessage != "" {
			t.Errorf("ErrorMessage %q on a %v video", st.ErrorMessage, st.State)
		}
	})
}

// checkMalformed asserts that a failed decode is ErrMalformed, says more
// than the bare sentinel, in valid UTF-8, and returns no Status.
func checkMalformed(t *testing.T, st *providers.Status, err error) {
	t.Helper()
	if st != nil {
		t.Errorf("decode returned a Status along with error %v", err)
	}
	if !errors.Is(err, providers.ErrMalformed) {
		t.Fatalf("error %q (%T) is not ErrMalformed", err, err)
	}
	msg := err.Error()
	if msg == providers.ErrMalformed.Error() || !utf8.ValidString(msg) {
		t.Fatalf("error %q does not say what is malformed in valid UTF-8", msg)
	}
}

// checkStatus asserts what every decoded Status must satisfy.
func checkStatus(t *testing.T, body []byte, st *providers.Status) {
	t.Helper()
	if st == nil {
		t.Fatal("decode returned neither a Status nor an error")
	}
	if !json.Valid(body) {
		t.Errorf("decode accepted a body that is not valid JSON")
	}
	if st.Raw != nil {
		t.Errorf("decode set Raw; that is left to NewHTTP")
	}
	if st.State == providers.StateUnknown || st.State.String() == "unknown" {
		t.Errorf("State = %d (%v) for a body that decoded", st.State, st.State)
	}
	if want, ok := states[strings.ToLower(st.ProviderStatus)]; !ok || want != st.State {
		t.Errorf("ProviderStatus %q gave State %v, its table says %v", st.ProviderStatus, st.State, want)
	}
	if st.Progress != nil && (*st.Progress < 0 || *st.Progress > 100) {
		t.Errorf("Progress = %d, want 0-100", *st.Progress)
	}
	if st.Width < 0 || st.Height < 0 || st.DurationSeconds < 0 || st.SizeBytes < 0 {
		t.Errorf("negative measure: Width %d, Height %d, DurationSeconds %v, SizeBytes %d",
			st.Width, st.Height, st.DurationSeconds, st.SizeBytes)
	}
}
