// Package python_test runs track.py, the Python example of the HTTP API,
// against a worker and the simulated providers, so that the example keeps
// working. It needs python3 (.ci/run installs it).
package python_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/api"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

const token = "python-example-token-0123"

// run runs track.py with args against a worker and returns its exit code,
// stdout and stderr.
func run(t *testing.T, base string, args ...string) (int, string, string) {
	t.Helper()
	python, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 is needed (apt-get install python3)")
	cmd := exec.CommandContext(t.Context(), python, append([]string{"track.py", "--api", base, "--timeout", "60"}, args...)...)
	cmd.Env = append(os.Environ(), "GENWATCH_API_TOKEN="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stdout.String(), stderr.String()
}

func TestTrackPy(t *testing.T) {
	env := clitest.New(t)
	env.Config.APIAddr = "127.0.0.1:0"
	env.Config.APITokens = []secret.Value{token}
	w := env.Start(t)
	base := "http://" + w.APIAddr().String()
	env.Sim.Create(simulator.Hooked, "vid/py-1", simulator.Plan{PendingFor: time.Second, RunFor: 2 * time.Second})
	env.Sim.Create(simulator.Hoox, "py-fail", simulator.Plan{RunFor: time.Second, Outcome: simulator.Fail})

	code, stdout, stderr := run(t, base, "--provider", "hooked", "--id", "vid/py-1", "--metadata", `{"order": 7}`)
	require.Equal(t, 0, code, stderr)
	var ev genwatch.Event
	require.NoError(t, json.Unmarshal([]byte(stdout), &ev), stdout)
	require.Equal(t, genwatch.StatusCompleted, ev.Status)
	require.Equal(t, "vid/py-1", ev.GenerationID)
	require.JSONEq(t, `{"order":7}`, string(ev.Metadata))
	require.Contains(t, stderr, "tracking hooked:vid/py-1")
	require.Contains(t, stderr, "generation.completed after")
	require.Equal(t, env.Events(t)[0].ID, ev.ID, "the event of the stream")
	if strings.Contains(string(api.OpenAPI()), `"/v1/events"`) {
		require.Contains(t, stderr, "from /v1/events", "read from the live event stream")
	}

	code, stdout, _ = run(t, base, "--provider", "hoox", "--id", "py-fail")
	require.Equal(t, 3, code)
	require.Contains(t, stdout, `"status": "failed"`)

	code, _, stderr = run(t, base, "--provider", "hoox", "--id", "")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "400 invalid_request: invalid tracking request: generation_id is required")
}
