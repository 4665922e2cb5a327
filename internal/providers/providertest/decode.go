package providertest

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

// CheckDecodeError asserts that a failed decode is ErrMalformed, says more
// than the bare sentinel, in valid UTF-8, and returns no Status. Adapters'
// fuzz targets call it on every error.
func CheckDecodeError(t *testing.T, st *providers.Status, err error) {
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

// CheckDecoded asserts what every decoded (and sanitized) Status must
// satisfy; states is the adapter's table of status words.
func CheckDecoded(t *testing.T, body []byte, st *providers.Status, states map[string]providers.State) {
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

// AddSeeds seeds a fuzz target with every file in the package's testdata/
// and the given bodies, plus hostile ones every decoder must survive.
func AddSeeds(f *testing.F, bodies ...string) {
	f.Helper()
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
	hostile := []string{
		"", "null", "[]", "{}", `""`, "0", "\xff\xfe{}",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	}
	for _, body := range append(hostile, bodies...) {
		f.Add([]byte(body))
	}
}
