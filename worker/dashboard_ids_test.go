package worker

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/stretchr/testify/require"
)

// TestDashboardShowsWholeIDs fetches asynqmon's scripts through the
// dashboard handler: the function that cut task IDs at their first "-"
// is there in asynqmon's own script and returns the whole ID in the one
// genwatch serves, and the rest of the script is unchanged.
func TestDashboardShowsWholeIDs(t *testing.T) {
	t.Parallel()
	dashboard := asynqmon.New(asynqmon.Options{RootPath: DashboardPath, RedisConnOpt: asynq.RedisClientOpt{Addr: "127.0.0.1:1"}})
	served := wholeIDs(dashboard)

	index := script(t, dashboard, DashboardPath+"/")
	scripts := regexp.MustCompile(`src="(`+DashboardPath+`/static/js/[^"]+\.js)"`).FindAllStringSubmatch(index, -1)
	require.NotEmpty(t, scripts, "the index names its scripts")
	found := 0
	for _, s := range scripts {
		orig, patched := script(t, dashboard, s[1]), script(t, served, s[1])
		if !idPrefix.MatchString(orig) {
			require.Equal(t, orig, patched, "%s: a script without the function is served as it is", s[1])
			continue
		}
		found++
		require.NotRegexp(t, idPrefix, patched, "%s still cuts IDs", s[1])
		m := idPrefix.FindStringSubmatch(orig)
		require.Contains(t, patched, "function "+m[1]+"("+m[2]+"){return "+m[2]+"}")
		require.Equal(t, len(orig)-len(m[0])+len("function "+m[1]+"("+m[2]+"){return "+m[2]+"}"), len(patched), "nothing else changed")
		// Served again, from the patched copy.
		require.Equal(t, patched, script(t, served, s[1]))
	}
	require.Equal(t, 1, found, "asynqmon's uuidPrefix, in one of its scripts (a new asynqmon may have changed it)")
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
