package exitcode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/cli"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
)

// bin is the directory of the built commands.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "genwatch-exitcode-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The README's build command: go build -o bin/ ./cmd/...
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "github.com/genwatch/genwatch/cmd/...")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	bin = dir
	return redistest.Main(m)
}

// result is how a command ended.
type result struct {
	code           int
	stdout, stderr string
}

// command returns the built command name with args, in an environment of
// vars alone (and PATH), so that the caller's GENWATCH_* are left out.
func command(name string, vars map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func runCommand(t *testing.T, name string, vars map[string]string, args ...string) result {
	t.Helper()
	cmd := command(name, vars, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var exit *exec.ExitError
	if err := cmd.Run(); err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %s: %v", name, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// with returns vars with more set.
func with(vars map[string]string, more ...string) map[string]string {
	out := maps.Clone(vars)
	for i := 0; i+1 < len(more); i += 2 {
		out[more[i]] = more[i+1]
	}
	return out
}

// TestCommandsExitAsDocumented: enqueue exits 2 on an invalid request;
// genwatch wait and enqueue --wait exit 0 only if every generation
// completed, 3 otherwise; a command that cannot reach Redis exits 1.
func TestCommandsExitAsDocumented(t *testing.T) {
	t.Parallel()
	e := clitest.New(t)
	e.Sim.Create(genwatch.ProviderHoox, "ok-1", simulator.Plan{RunFor: time.Second})
	e.Sim.Create(genwatch.ProviderHoox, "ok-2", simulator.Plan{RunFor: time.Second})
	e.Sim.Create(genwatch.ProviderHoox, "bad-1", simulator.Plan{RunFor: time.Second, Outcome: simulator.Fail, FailCode: "nsfw"})
	e.Start(t)
	vars := e.Vars()
	e.Track(t, genwatch.ProviderHoox, "ok-1")
	e.Track(t, genwatch.ProviderHoox, "bad-1")

	for _, tc := range []struct {
		desc string
		name string
		vars map[string]string
		args []string
		want int
	}{
		{"enqueue, an invalid request", "enqueue", vars, []string{"--provider", "nope", "--id", "x"}, cli.ExitUsage},
		{"enqueue --wait, completed", "enqueue", vars, []string{"--provider", "hoox", "--id", "ok-2", "--wait"}, cli.ExitOK},
		{"genwatch wait, completed", "genwatch", vars, []string{"wait", "hoox:ok-1"}, cli.ExitOK},
		{"genwatch wait, failed", "genwatch", vars, []string{"wait", "hoox:bad-1"}, cli.ExitNotCompleted},
		{"genwatch wait, one of two failed", "genwatch", vars, []string{"wait", "hoox:ok-1", "hoox:bad-1"}, cli.ExitNotCompleted},
		{"genwatch status, Redis unreachable", "genwatch", with(vars, "GENWATCH_REDIS_URL", "redis://"+closedAddr(t)+"/0"), []string{"status", "hoox:ok-1"}, cli.ExitError},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := runCommand(t, tc.name, tc.vars, tc.args...)
			require.Equal(t, tc.want, got.code, "stdout:\n%s\nstderr:\n%s", got.stdout, got.stderr)
		})
	}
}

// TestWorkerExitsAsDocumented: the worker exits 0 after SIGTERM, 2 when
// its flags or configuration are refused or an address it should listen
// on is taken, and 1 when it fails while running.
func TestWorkerExitsAsDocumented(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	queue := redistest.Name(t, "q")
	vars := map[string]string{
		"GENWATCH_REDIS_URL":     srv.URL,
		"GENWATCH_QUEUE":         queue,
		"GENWATCH_EVENTS_STREAM": queue + ":events",
		"GENWATCH_HTTP_ADDR":     "127.0.0.1:0",
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })

	t.Run("SIGTERM", func(t *testing.T) {
		cmd := command("worker", vars)
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		lines := bufio.NewScanner(stderr)
		for lines.Scan() && !strings.Contains(lines.Text(), "worker started") {
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		_, _ = io.Copy(io.Discard, stderr)
		err = cmd.Wait()
		require.NoError(t, err, "exit 0")
	})
	// The key of this events stream holds a string: Redis refuses the
	// consumer group of the asynq route.
	require.NoError(t, srv.Client.Set(t.Context(), queue+":string", "not a stream", 0).Err())
	addr := taken.Addr().String()
	for _, tc := range []struct {
		desc   string
		vars   map[string]string
		args   []string
		want   int
		stderr string
	}{
		{"an unknown flag", vars, []string{"--nope"}, cli.ExitUsage, "flag provided but not defined"},
		{"an invalid configuration", with(vars, "GENWATCH_CONCURRENCY", "-1"), nil, cli.ExitUsage, "concurrency"},
		{"the HTTP address taken", vars, []string{"--http", addr}, cli.ExitUsage, addr},
		{"the API address taken", vars, []string{"--api", addr}, cli.ExitUsage, "GENWATCH_API_ADDR"},
		{"Redis refusing the events stream", with(vars, "GENWATCH_EVENTS_STREAM", queue+":string", "GENWATCH_EVENTS_TASK_QUEUE", "events"), nil, cli.ExitError, "WRONGTYPE"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := runCommand(t, "worker", tc.vars, tc.args...)
			require.Equal(t, tc.want, got.code, "stderr:\n%s", got.stderr)
			require.Contains(t, got.stderr, tc.stderr)
		})
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
