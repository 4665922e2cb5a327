package worker

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// idPrefix matches asynqmon's uuidPrefix once minified: a one-argument
// function that cuts its argument at the first "-". asynqmon made it for
// asynq's own task IDs, UUIDs, and its task tables show every ID through
// it; genwatch's task IDs are "<provider>:<generation id>", and generation
// IDs are often UUIDs, so "hooked:3f2a9c1e-…" showed as "hooked:3f2a9c1e".
var idPrefix = regexp.MustCompile(`function (\w+)\((\w+)\)\{var (\w+)=(\w+)\.indexOf\("-"\);return-1===(\w+)\?(\w+):(\w+)\.substr\(0,(\w+)\)\}`)

// wholeIDs serves the dashboard with its ID-cutting function replaced by
// one that returns the whole ID. The patch is made once per script and
// kept; a script without the function is served as it is.
func wholeIDs(next http.Handler) http.Handler {
	var (
		mu      sync.Mutex
		patched = map[string][]byte{}
	)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/static/js/") || !strings.HasSuffix(r.URL.Path, ".js") {
			next.ServeHTTP(rw, r)
			return
		}
		mu.Lock()
		body, ok := patched[r.URL.Path]
		mu.Unlock()
		if !ok {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				copyResponse(rw, rec, rec.Body.Bytes())
				return
			}
			body = patchIDPrefix(rec.Body.Bytes())
			mu.Lock()
			patched[r.URL.Path] = body
			mu.Unlock()
		}
		rw.Header().Set("Content-Type", "application/javascript")
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = rw.Write(body)
	})
}

// patchIDPrefix replaces asynqmon's uuidPrefix with the identity.
func patchIDPrefix(js []byte) []byte {
	return idPrefix.ReplaceAll(js, []byte("function ${1}(${2}){return ${2}}"))
}

func copyResponse(rw http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		rw.Header()[k] = v
	}
	rw.WriteHeader(rec.Code)
	_, _ = rw.Write(body)
}
