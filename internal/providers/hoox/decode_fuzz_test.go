package hoox

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
		`{"status":"completed","x":` + strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001) + "}",
		`{"status":"completed","type":"VIDEO","width":1e308,"height":1e400}`,
		`{"status":"completed","duration_seconds":1e308,"cost":-1e308}`,
		`{"status":"Failed","error":{"code":12345678901234567890,"message":7}}`,
		`{"status":"failed","error":[]}`,
		`{"status":"failed","error":null}`,
		"{\"status\":\"completed\",\"url\":\"\xff\",\"type\":\"v\xffideo\"}",
		`{"status":"pending","status":"archived"}`,
		`{"STATUS":"generating","Width":0.4}`,
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
		// Hoox reports no progress and no size; its media type is one of
		// the documented three or left empty.
		if st.Progress != nil || st.SizeBytes != 0 {
			t.Errorf("Progress = %v, SizeBytes = %d; Hoox reports neither", st.Progress, st.SizeBytes)
		}
		switch st.MediaType {
		case "", providers.MediaImage, providers.MediaVideo, providers.MediaAudio:
		default:
			t.Errorf("MediaType = %q, want a documented media type or empty", st.MediaType)
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
