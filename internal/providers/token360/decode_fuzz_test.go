package token360

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
		`{"status":"queued","parameters":`+strings.Repeat(`{"a":`, 10001)+"1"+strings.Repeat("}", 10001)+"}",
		`{"status":"in_progress","progress":1e308}`,
		`{"status":"in_progress","progress":-1e308}`,
		`{"status":"completed","duration":1e308,"url":"","video_url":"https://v"}`,
		`{"status":"completed","duration":1e400}`,
		`{"status":"failed","error":{"code":-1.5e300,"message":null}}`,
		"{\"status\":\"failed\",\"error\":\"\xff\"}",
		`{"status":"failed","error":true}`,
		`{"status":"IN_PROGRESS","Status":"cancelled"}`,
		`{"status":null}`,
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
		// Token360 makes only videos and gives no pixels, thumbnail, size
		// or cost.
		if st.MediaType != providers.MediaVideo || st.Width != 0 || st.Height != 0 ||
			st.ThumbnailURL != "" || st.SizeBytes != 0 || st.Cost != nil {
			t.Errorf("MediaType %q, Width %d, Height %d, ThumbnailURL %q, SizeBytes %d, Cost %v; want video and nothing else",
				st.MediaType, st.Width, st.Height, st.ThumbnailURL, st.SizeBytes, st.Cost)
		}
	})
}
