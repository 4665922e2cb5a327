package hoox

import (
	"strings"
	"testing"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/providertest"
)

// FuzzDecode feeds decode arbitrary bodies, seeded with every canned
// response in testdata and a few hostile ones. Whatever the body, decode
// must not panic and must either fail with ErrMalformed or return a Status
// the poll handler can use as it is.
func FuzzDecode(f *testing.F) {
	providertest.AddSeeds(f,
		`{"status":"completed","x":`+strings.Repeat(`{"a":`, 10001)+"1"+strings.Repeat("}", 10001)+"}",
		`{"status":"completed","type":"VIDEO","width":1e308,"height":1e400}`,
		`{"status":"completed","duration_seconds":1e308,"cost":-1e308}`,
		`{"status":"Failed","error":{"code":12345678901234567890,"message":7}}`,
		`{"status":"failed","error":[]}`,
		`{"status":"failed","error":null}`,
		"{\"status\":\"completed\",\"url\":\"\xff\",\"type\":\"v\xffideo\"}",
		`{"status":"pending","status":"archived"}`,
		`{"STATUS":"generating","Width":0.4}`,
	)

	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := decode(body)
		if err != nil {
			providertest.CheckDecodeError(t, st, err)
			return
		}
		// NewHTTP sanitizes every decoded status before anyone sees it.
		st.Sanitize()
		providertest.CheckDecoded(t, body, st, states)
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
