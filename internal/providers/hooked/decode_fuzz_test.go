package hooked

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
		`{"success":true,"data":`+strings.Repeat(`{"a":`, 10001)+"1"+strings.Repeat("}", 10001)+"}",
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
