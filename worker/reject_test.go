package worker_test

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

// withoutProvider returns the test's configuration with no account for
// provider, as a worker started without its key has.
func (e *e2e) withoutProvider(provider string) config.Config {
	cfg := e.Config
	cfg.Providers = maps.Clone(cfg.Providers)
	p := cfg.Providers[provider]
	p.Accounts = map[string]config.Account{}
	cfg.Providers[provider] = p
	return cfg
}

// enqueueRaw enqueues a tracking request as a foreign asynq client would,
// without the Go client's validation against the configured accounts.
func (e *e2e) enqueueRaw(t *testing.T, req genwatch.Request) {
	t.Helper()
	payload, err := req.Encode()
	require.NoError(t, err)
	aq := asynq.NewClientFromRedisClient(e.Redis.Client)
	t.Cleanup(func() { _ = aq.Close() })
	_, err = aq.Enqueue(asynq.NewTask(genwatch.TaskTypePoll, payload),
		asynq.TaskID(req.TaskID()), asynq.Queue(e.Config.Queue), asynq.MaxRetry(25))
	require.NoError(t, err)
}

func TestWorkerWithoutAccountSaysSoAndRejectsAfterTheGrace(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	cfg := e.withoutProvider(genwatch.ProviderHooked)
	cfg.UnknownAccountGrace = time.Second
	core, logs := observer.New(zapcore.WarnLevel)
	runWorker(t, e, cfg, worker.Options{Logger: zap.New(core)})

	noAccount := func(provider string) []observer.LoggedEntry {
		return logs.FilterMessageSnippet("provider has no account").FilterField(zap.String("provider", provider)).All()
	}
	require.Eventually(t, func() bool { return len(noAccount("hooked")) == 1 }, waitFor, 10*time.Millisecond,
		"the worker says at start that it cannot poll hooked")
	warned := noAccount("hooked")
	require.Equal(t, "GENWATCH_HOOKED_API_KEY", warned[0].ContextMap()["set"])
	require.Empty(t, noAccount("hoox"))

	e.Sim.Create(genwatch.ProviderHooked, "v1", simulator.Plan{})
	e.enqueueRaw(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "v1"})
	ev := e.waitEvents(t, 1)[0]
	require.Equal(t, genwatch.StatusFailed, ev.Status)
	require.Equal(t, genwatch.CodeRejected, ev.Error.Code)
	require.Zero(t, e.Sim.Requests(genwatch.ProviderHooked, "v1"), "the provider is never called")
	inspector := asynq.NewInspectorFromRedisClient(e.Redis.Client)
	require.Eventually(t, func() bool {
		_, err := inspector.GetTaskInfo(e.Config.Queue, "hooked:v1")
		return errors.Is(err, asynq.ErrTaskNotFound)
	}, waitFor, 20*time.Millisecond, "the task is done (enqueued without retention)")
	require.Len(t, e.events(t), 1)
}

func TestRequestForAMissingAccountWaitsForAWorkerThatHasIt(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	cfg := e.withoutProvider(genwatch.ProviderHooked)
	cfg.UnknownAccountGrace = time.Hour
	runWorker(t, e, cfg, worker.Options{})

	e.Sim.Create(genwatch.ProviderHooked, "v2", simulator.Plan{})
	e.enqueueRaw(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "v2"})
	info := e.waitTaskState(t, e.Config.Queue, "hooked:v2", asynq.TaskStateRetry)
	require.True(t, strings.HasPrefix(info.LastErr, `no worker has account "default" of provider hooked`), info.LastErr)
	require.Zero(t, info.Retried, "waiting for the fleet is not a failure")

	// A worker of the fleet that has the account takes it.
	e.start(t, worker.Options{})
	ev := e.waitEvents(t, 1)[0]
	require.Equal(t, genwatch.StatusCompleted, ev.Status)
	require.Len(t, e.events(t), 1)
}
