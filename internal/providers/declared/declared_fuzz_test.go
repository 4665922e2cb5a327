package declared_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/declared"
	"github.com/genwatch/genwatch/internal/providers/providertest"
)

// FuzzDecode feeds a declared provider's decoder arbitrary bodies. Whatever
// the body, it must not panic and must either fail with ErrMalformed or
// return a Status the poll handler can use as it is.
func FuzzDecode(f *testing.F) {
	for _, body := range []string{
		"", "null", "[]", "{}", `""`, "0", "\xff\xfe{}",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		`{"job":` + strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001) + "}",
		`{"job":{"state":"done","fraction":1e308,"output":{"size":"1e308x-1e308","bytes":1e400,"seconds":"NaN","frames":"-Inf"}},"billing":{"credits":"1e999"}}`,
		`{"job":{"state":"error","error":{"code":["x"],"message":"\ud800"}}}`,
		"{\"job\":{\"state\":\"WORKING\",\"model\":\"\xff\"}}",
		`{"job":{"state":"done","output":{"url":"a"},"output":{"url":"b"}}}`,
	} {
		f.Add([]byte(body))
	}
	s, err := declared.Parse([]byte(acme))
	if err != nil {
		f.Fatal(err)
	}
	def := declared.Definition(s, "acme")
	states := map[string]providers.State{}
	for word, meaning := range s.State.Words {
		states[strings.ToLower(word)] = map[string]providers.State{
			"pending": providers.StatePending, "running": providers.StateRunning,
			"completed": providers.StateCompleted, "failed": providers.StateFailed,
		}[meaning]
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := def.Decode(body)
		if err != nil {
			providertest.CheckDecodeError(t, st, err)
			return
		}
		st.Sanitize() // as NewHTTP does
		providertest.CheckDecoded(t, body, st, states)
		if st.State != providers.StateFailed && (st.ErrorCode != "" || st.ErrorMessage != "") {
			t.Errorf("error %q/%q read from a generation that did not fail", st.ErrorCode, st.ErrorMessage)
		}
		switch st.MediaType {
		case providers.MediaVideo, providers.MediaImage, providers.MediaAudio:
		default:
			t.Errorf("MediaType %q", st.MediaType)
		}
	})
}

// FuzzParse feeds Parse arbitrary specs. Whatever the YAML, it must not
// panic; a spec it accepts builds a provider that reads its own imitation
// back: each state the simulator renders decodes to that state.
func FuzzParse(f *testing.F) {
	for _, spec := range []string{
		acme, "{}", "path: /x\nstate: {path: s, words: {ok: completed}}",
		"path: /x/{id}\nstate: {path: a.b, words: {x: completed, y: failed, z: pending}}\nfields: {url: 'u|@reverse', progress: 'p.#'}",
		"path: /x\nstate: {path: '..', words: {x: completed}}\nwebhook_id: '*'",
		"fields: {url: [[1]]}", "fields: {url: {path: [1]}}", "state: {words: [1]}", ": :", "\xff",
	} {
		f.Add([]byte(spec))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := declared.Parse(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "status") {
				t.Fatalf("error %q does not name its YAML path", err)
			}
			return
		}
		def := declared.Definition(s, "fuzzed")
		for _, state := range []providers.State{providers.StatePending, providers.StateRunning, providers.StateCompleted, providers.StateFailed} {
			g := providers.Imitated{ID: "gen-1", State: state, Progress: 40, CreatedAt: time.Unix(0, 0),
				MediaType: providers.MediaVideo, URL: "https://cdn/x.mp4", Width: 640, Height: 480, DurationSeconds: 4,
				ErrorCode: "e", ErrorMessage: "m"}
			body, err := json.Marshal(def.Imitation.Render(g))
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			st, err := def.Decode(body)
			if err != nil {
				providertest.CheckDecodeError(t, st, err)
				continue // a path only gjson reads (a query, a modifier) is not rendered
			}
			if st.State == providers.StateUnknown {
				t.Fatalf("decoded state unknown from %s", body)
			}
		}
	})
}
