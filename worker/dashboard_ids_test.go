package worker

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/stretchr/testify/require"
)

// TestDashboardShowsWholeIDs fetches asynqmon's scripts through the
// dashboard handler. Each function genwatch patches is there, once, in
// asynqmon's own script (a new asynqmon may have changed it): the one that
// cut task IDs at their first "-" returns the whole ID in the script
// genwatch serves, and the one that links to a task's page encodes the ID.
// The rest of the script is unchanged.
func TestDashboardShowsWholeIDs(t *testing.T) {
	t.Parallel()
	dashboard := asynqmon.New(asynqmon.Options{RootPath: DashboardPath, RedisConnOpt: asynq.RedisClientOpt{Addr: "127.0.0.1:1"}})
	served := wholeIDs(dashboard)

	patches := []struct {
		name string
		re   *regexp.Regexp
		// want is what the match m of re reads as in the served script.
		want func(m []string) string
	}{
		{"uuidPrefix", idPrefix, func(m []string) string { return "function " + m[1] + "(" + m[2] + "){return " + m[2] + "}" }},
		{"taskDetailsPath", taskLink, func(m []string) string { return m[1] + "encodeURIComponent(" + m[2] + "))" }},
	}

	index := script(t, dashboard, DashboardPath+"/")
	scripts := regexp.MustCompile(`src="(`+DashboardPath+`/static/js/[^"]+\.js)"`).FindAllStringSubmatch(index, -1)
	require.NotEmpty(t, scripts, "the index names its scripts")
	found := map[string]int{}
	for _, s := range scripts {
		orig, patched := script(t, dashboard, s[1]), script(t, served, s[1])
		grown := 0
		for _, p := range patches {
			ms := p.re.FindAllStringSubmatch(orig, -1)
			found[p.name] += len(ms)
			require.False(t, p.re.MatchString(patched), "%s: %s is still there", s[1], p.name)
			for _, m := range ms {
				require.True(t, strings.Contains(patched, p.want(m)), "%s: %s should read %s", s[1], p.name, p.want(m))
				grown += len(p.want(m)) - len(m[0])
			}
		}
		require.Equal(t, len(orig)+grown, len(patched), "%s: nothing else changed", s[1])
		if grown == 0 {
			require.True(t, orig == patched, "%s: a script without the functions is served as it is", s[1])
		}
		// Served again, from the patched copy.
		require.True(t, patched == script(t, served, s[1]), "%s: served again the same", s[1])
	}
	for _, p := range patches {
		require.Equal(t, 1, found[p.name], "asynqmon's %s, once in its scripts (a new asynqmon may have changed it)", p.name)
	}
}

func script(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rec.Code, path)
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(b)
}
