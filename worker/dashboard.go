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

// taskLink matches asynqmon's taskDetailsPath once minified: it puts the
// task ID into the link to the task's page as it is, so that the link of
// an ID with a "/" ("hooked:runs/2026/abc") has more segments than the
// page's route and opens nothing.
var taskLink = regexp.MustCompile(`(\.TASK_DETAILS\.replace\(":qname",\w+\)\.replace\(":taskId",)(\w+)\)`)

// wholeIDs serves the dashboard with its ID-cutting function replaced by
// one that returns the whole ID, and its links to a task's page with the
// task ID encoded as one path segment. The patch is made once per script
// and kept; a script without either function is served as it is.
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
			body = patchScript(rec.Body.Bytes())
			mu.Lock()
			patched[r.URL.Path] = body
			mu.Unlock()
		}
		rw.Header().Set("Content-Type", "application/javascript")
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = rw.Write(body)
	})
}

// patchScript replaces asynqmon's uuidPrefix with the identity and makes
// its taskDetailsPath encode the task ID (":" as %3A, "/" as %2F). The
// task's page reads the ID back from its path still encoded and asks the
// API for it so; the server decodes the path, and slashIDs serves the IDs
// with a "/".
func patchScript(js []byte) []byte {
	js = idPrefix.ReplaceAll(js, []byte("function ${1}(${2}){return ${2}}"))
	return taskLink.ReplaceAll(js, []byte("${1}encodeURIComponent(${2}))"))
}

func copyResponse(rw http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		rw.Header()[k] = v
	}
	rw.WriteHeader(rec.Code)
	_, _ = rw.Write(body)
}
