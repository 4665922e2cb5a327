// Package clitest runs a genwatch worker against the simulated provider
// APIs, for the tests of the commands: a command under test sees the
// worker's Redis, queue and stream through Env.Vars, as its environment.
//
// Generations live for real: asynq schedules in real time. A fast poll
// policy (a poll every second) and short simulator plans keep a test to a
// few seconds; tests wait on conditions (Env.WaitFor), never sleep.
package clitest

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"gopkg.in/yaml.v3"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/fleet"
	"github.com/genwatch/genwatch/internal/providers/declared"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/internal/tasks"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// WaitFor bounds how long a test waits for a condition; waiting ends as soon
// as it holds, the bound only turns a hang into a failure.
const WaitFor = 60 * time.Second

// FastPolicy polls every second.
var FastPolicy = schedule.Policy{Initial: time.Second, Multiplier: 1, Max: time.Second, Jitter: -1, NotFoundGrace: 2 * time.Second}

// Keys returns the API key of each built-in provider's default account in
// tests, Key(name); the simulator accepts exactly these. Every registered
// provider has one, so none is left out of a test.
func Keys() map[string]string {
	keys := map[string]string{}
	for _, name := range genwatch.Providers() {
		keys[name] = Key(name)
	}
	return keys
}

// Key is the API key of a provider's default account in tests.
func Key(provider string) string { return "test-" + provider + "-key" }

// NewConfig returns a worker configuration for tests: Redis at redisURL,
// every provider at simURL with its test key, the queue, stream and
// delivery queue named after name, polls every second, and the HTTP server
// on a free loopback port.
func NewConfig(redisURL, simURL, name string) config.Config {
	cfg := config.Default()
	cfg.Redis.URL = redisURL
	cfg.Queue = name
	cfg.Events.Stream = name + ":events"
	cfg.Events.DeliveryQueue = name + ":deliveries"
	cfg.Concurrency = 10
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Poll = FastPolicy.WithDefaults()
	cfg.ShutdownTimeout = 5 * time.Second
	for p, key := range Keys() {
		cfg.Providers[p] = config.Provider{
			BaseURL:  simURL,
			Accounts: map[string]config.Account{genwatch.DefaultAccount: {APIKey: secret.Value(key)}},
		}
	}
	return cfg
}

// ReadEvents reads a whole event stream.
func ReadEvents(t testing.TB, rdb redis.UniversalClient, stream string) []genwatch.Event {
	t.Helper()
	msgs, err := rdb.XRange(t.Context(), stream, "-", "+").Result()
	require.NoError(t, err)
	out := make([]genwatch.Event, 0, len(msgs))
	for _, m := range msgs {
		ev, err := genwatch.DecodeEvent([]byte(m.Values[genwatch.StreamField].(string)))
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

// Env is one test's Redis, simulator and worker configuration.
type Env struct {
	Redis *redistest.Server
	Sim   *simulator.Simulator
	// SimURL is the simulator's base URL, for every built-in provider
	// (the others are under SimURL + "/<name>").
	SimURL string
	// Config is the worker's.
	Config config.Config
	// Control shows and cancels the generations tracked under Config.
	Control *tasks.Control
	// Client enqueues on the worker's queue.
	Client *genwatch.Client
}

// New returns an Env with its own queue and stream, named after the test;
// Start runs a worker on it.
func New(t testing.TB) *Env {
	t.Helper()
	return NewOn(t, redistest.New(t), redistest.Name(t, "q"))
}

// NewOn returns an Env on the given Redis (one a test starts, stops or
// serves over TLS itself), with queue and stream named after name.
func NewOn(t testing.TB, srv *redistest.Server, name string) *Env {
	t.Helper()
	return NewWith(t, srv, name, simulator.Config{})
}

// NewWith is NewOn with a simulator configured by simCfg; its Providers
// are the configuration's and its Keys are always Keys().
func NewWith(t testing.TB, srv *redistest.Server, name string, simCfg simulator.Config) *Env {
	t.Helper()
	return newEnv(t, srv, name, simCfg, "")
}

// NewWithProviders returns an Env like New whose worker also has the
// providers that providersYAML configures: the "providers:" block of a
// configuration file, giving each a type (and a declarative one its
// status) but neither base URL nor key. The simulator serves each under
// "/<name>", where its base URL points, and accepts Key(name).
func NewWithProviders(t testing.TB, providersYAML string) *Env {
	t.Helper()
	return newEnv(t, redistest.New(t), redistest.Name(t, "q"), simulator.Config{}, providersYAML)
}

func newEnv(t testing.TB, srv *redistest.Server, name string, simCfg simulator.Config, providersYAML string) *Env {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	t.Cleanup(hs.Close)
	simURL := "http://" + hs.Listener.Addr().String()

	cfg := NewConfig(srv.URL, simURL, name)
	simCfg.Keys = Keys()
	if providersYAML != "" {
		for name, p := range loadProviders(t, providersYAML, simURL) {
			cfg.Providers[name] = p
			simCfg.Keys[name] = Key(name)
		}
	}
	simCfg.Providers = declared.Definitions(cfg)
	sim := simulator.New(simCfg)
	t.Cleanup(sim.Close)
	hs.Config.Handler = sim
	hs.Start()

	aq := asynq.NewClientFromRedisClient(srv.Client)
	t.Cleanup(func() { _ = aq.Close() })
	return &Env{
		Redis:   srv,
		Sim:     sim,
		SimURL:  simURL,
		Config:  cfg,
		Control: fleet.NewControl(srv.Client, cfg),
		Client:  genwatch.NewClient(aq, cfg.ClientConfig()),
	}
}

// loadProviders loads the providers a "providers:" block configures, as
// the worker would, with the base URL and key of each from the
// environment: the simulator's "/<name>" and Key(name).
func loadProviders(t testing.TB, providersYAML, simURL string) map[string]config.Provider {
	t.Helper()
	var names struct {
		Providers map[string]yaml.Node `yaml:"providers"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(providersYAML), &names))
	env := map[string]string{}
	for name := range names.Providers {
		env[config.APIKeyVar(name)] = Key(name)
		env[strings.TrimSuffix(config.APIKeyVar(name), "API_KEY")+"BASE_URL"] = simURL + "/" + name
	}
	path := filepath.Join(t.TempDir(), "providers.yaml")
	require.NoError(t, os.WriteFile(path, []byte(providersYAML), 0o600))
	cfg, err := config.Load(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)
	out := map[string]config.Provider{}
	for name := range names.Providers {
		out[name] = cfg.Providers[name]
	}
	return out
}

// Vars are the environment variables under which a command sees what the
// worker sees.
func (e *Env) Vars() map[string]string {
	return map[string]string{
		"GENWATCH_REDIS_URL":             e.Config.Redis.URL,
		"GENWATCH_QUEUE":                 e.Config.Queue,
		"GENWATCH_EVENTS_STREAM":         e.Config.Events.Stream,
		"GENWATCH_EVENTS_DELIVERY_QUEUE": e.Config.Events.DeliveryQueue,
		"GENWATCH_SHARDS":                strconv.Itoa(e.Config.Shards),
	}
}

// Start runs a worker until the test ends, and returns it.
func (e *Env) Start(t testing.TB) *worker.Worker {
	t.Helper()
	w, err := worker.New(e.Config, worker.Options{
		Redis:  e.Redis.Client,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return w
}

// Track enqueues a generation and returns its task ID.
func (e *Env) Track(t testing.TB, provider, generationID string) string {
	t.Helper()
	res, err := e.Client.Track(t.Context(), genwatch.Request{Provider: provider, GenerationID: generationID})
	require.NoError(t, err)
	return res.TaskID
}

// WaitFor waits until the generation's status satisfies cond, and returns
// that status.
func (e *Env) WaitFor(t testing.TB, taskID string, cond func(genwatch.Generation) bool) genwatch.Generation {
	t.Helper()
	var g genwatch.Generation
	require.Eventually(t, func() bool {
		var err error
		g, err = e.Control.Status(t.Context(), taskID)
		return err == nil && cond(g)
	}, WaitFor, 20*time.Millisecond, "%s never reached the condition", taskID)
	return g
}

// Events reads the whole event stream.
func (e *Env) Events(t testing.TB) []genwatch.Event {
	t.Helper()
	return ReadEvents(t, e.Redis.Client, e.Config.Events.Stream)
}
