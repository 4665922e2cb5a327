package worker_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

// The crash tests run a worker in a child process (this test binary again)
// that dies with os.Exit at a chosen point, as a SIGKILL would leave it: no
// deferred function runs, nothing is acknowledged.
const (
	crashChildEnv = "GENWATCH_TEST_CRASH_CHILD" // the crash point: "poll", "emit", "handler" or "route"
	crashRedisEnv = "GENWATCH_TEST_CRASH_REDIS"
	crashSimEnv   = "GENWATCH_TEST_CRASH_SIM"
	crashQueueEnv = "GENWATCH_TEST_CRASH_QUEUE"
	crashExitCode = 3
)

// runCrashChild is the child's main: a worker that dies at the crash point.
func runCrashChild() int {
	cfg := testConfig(os.Getenv(crashRedisEnv), os.Getenv(crashSimEnv), os.Getenv(crashQueueEnv))
	opt, err := redis.ParseURL(cfg.Redis.URL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rdb := redis.NewClient(opt)
	opts := worker.Options{Redis: rdb}
	switch point := os.Getenv(crashChildEnv); point {
	case "poll":
		// Die while the status call is in flight.
		opts.HTTPClient = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			os.Exit(crashExitCode)
			return nil, nil
		})}
	case "emit":
		// Die right after the event is in the stream, before the task is
		// acknowledged.
		rdb.AddHook(exitAfterEmit{})
	case "handler":
		// Die in the middle of a Go handler's delivery.
		opts.Handlers = map[string]worker.EventHandler{
			"billing": worker.EventHandlerFunc(func(context.Context, genwatch.Event) error {
				os.Exit(crashExitCode)
				return nil
			}),
		}
	case "route":
		// Die right after the handler's consumer group handed this worker
		// the event, before its delivery is queued and acknowledged.
		opts.Handlers = map[string]worker.EventHandler{
			"billing": worker.EventHandlerFunc(func(context.Context, genwatch.Event) error { return nil }),
		}
		rdb.AddHook(exitAfterRead{})
	default:
		fmt.Fprintf(os.Stderr, "unknown crash point %q\n", point)
		return 1
	}
	w, err := worker.New(cfg, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_ = w.Run(ctx)
	return 1 // the crash point was never reached
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// exitAfterEmit ends the process when a script that writes a ":done:" key
// has run.
type exitAfterEmit struct{}

func (exitAfterEmit) DialHook(next redis.DialHook) redis.DialHook { return next }
func (exitAfterEmit) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if name := cmd.Name(); (name == "evalsha" || name == "eval") && err == nil && strings.Contains(fmt.Sprint(cmd.Args()...), ":done:") {
			os.Exit(crashExitCode)
		}
		return err
	}
}
func (exitAfterEmit) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// exitAfterRead ends the process when a consumer group read returns
// entries.
type exitAfterRead struct{}

func (exitAfterRead) DialHook(next redis.DialHook) redis.DialHook { return next }
func (exitAfterRead) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*redis.XStreamSliceCmd); ok && cmd.Name() == "xreadgroup" && err == nil && len(c.Val()) > 0 && len(c.Val()[0].Messages) > 0 {
			os.Exit(crashExitCode)
		}
		return err
	}
}
func (exitAfterRead) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// runCrash runs the test binary as a worker that dies at point, and waits
// for it to die there.
func (e *e2e) runCrash(t *testing.T, point string) {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(),
		crashChildEnv+"="+point,
		crashRedisEnv+"="+e.Redis.URL,
		crashSimEnv+"="+e.SimURL,
		crashQueueEnv+"="+e.Config.Queue,
	)
	out, err := child.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "child output: %s", out)
	require.Equal(t, crashExitCode, exit.ExitCode(), "child output: %s", out)
}

func TestWorkerKilledMidPollStillEndsWithOneEvent(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"poll", "emit"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			e := setupE2E(t)
			e.Sim.Create(genwatch.ProviderHoox, "crash-1", simulator.Plan{})
			res := e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "crash-1"})

			e.runCrash(t, point)

			inspector := asynq.NewInspectorFromRedisClient(e.Redis.Client)
			info, err := inspector.GetTaskInfo(e.Config.Queue, res.TaskID)
			require.NoError(t, err)
			require.Equal(t, asynq.TaskStateActive, info.State, "the dead worker never acknowledged the task")
			wantEvents := map[string]int{"poll": 0, "emit": 1}[point]
			require.Len(t, e.events(t), wantEvents)

			// asynq recovers a task once its lease has been expired for 30 s.
			// Stand in for that wait by expiring the lease in Redis.
			expireLeases(t, e.Redis.Client, e.Config.Queue)

			e.start(t, worker.Options{})
			ev := e.waitEvents(t, 1)[0]
			require.Equal(t, genwatch.StatusCompleted, ev.Status)
			e.waitTaskState(t, e.Config.Queue, res.TaskID, asynq.TaskStateCompleted)
			require.Len(t, e.events(t), 1, "exactly one event")
		})
	}
}

// expireLeases moves every lease of the queue into the distant past.
func expireLeases(t *testing.T, rdb *redis.Client, queue string) {
	t.Helper()
	ctx := context.Background()
	key := "asynq:{" + queue + "}:lease"
	ids, err := rdb.ZRange(ctx, key, 0, -1).Result()
	require.NoError(t, err)
	require.NotEmpty(t, ids)
	for _, id := range ids {
		require.NoError(t, rdb.ZAdd(ctx, key, redis.Z{Score: 1, Member: id}).Err())
	}
}
