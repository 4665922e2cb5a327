// Package worker runs a genwatch worker: the asynq server that polls
// providers for tracked generations and delivers their completion events.
//
// cmd/worker is a thin shell around it; a Go program that wants its own
// event handlers embeds it instead:
//
//	cfg, err := worker.LoadConfig("genwatch.yaml", os.LookupEnv)
//	w, err := worker.New(cfg, worker.Options{
//		Logger:   logger,
//		Handlers: map[string]worker.EventHandler{"billing": billingHandler},
//	})
//	err = w.Run(ctx) // until ctx is done, then a graceful shutdown
//
// Run never touches signals, so that it can be embedded and tested.
//
// To show or cancel tracked generations, with or without a worker in the
// same process, use package control.
package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/api"
	"github.com/genwatch/genwatch/internal/feed"
	"github.com/genwatch/genwatch/internal/fleet"
	"github.com/genwatch/genwatch/internal/hint"
	"github.com/genwatch/genwatch/internal/metrics"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/declared"
	"github.com/genwatch/genwatch/internal/quietlog"
	"github.com/genwatch/genwatch/internal/sink"
	"github.com/genwatch/genwatch/internal/tasks"
	"github.com/genwatch/genwatch/internal/throttle"
	"github.com/genwatch/genwatch/internal/throttle/guard"
)

// Config is the worker's configuration: see package config, whose Default
// and Load build one, and config/genwatch.example.yaml for every option.
type Config = config.Config

// LoadConfig reads the YAML file at path (none if empty) and the
// environment through getenv (os.LookupEnv), environment winning.
func LoadConfig(path string, getenv func(string) (string, bool)) (Config, error) {
	return config.Load(path, getenv)
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config { return config.Default() }

// EventHandler receives completion events in the worker process. A failing
// handler is retried on its own, with backoff; it may see an event more than
// once and should deduplicate on Event.ID. The same handler serves
// genwatch.Consume, in a process that does not run the worker.
type EventHandler = genwatch.EventHandler

// EventHandlerFunc adapts a function to EventHandler.
type EventHandlerFunc = genwatch.EventHandlerFunc

// Options are the parts of a worker that are code, not configuration.
type Options struct {
	// Logger logs. If nil, nothing is logged.
	Logger *zap.Logger
	// Handlers are Go event handlers by name. The name is part of each
	// delivery's task ID: keep it stable across deployments.
	Handlers map[string]EventHandler
	// HTTPClient makes provider status calls and webhook deliveries. If
	// nil, a client with pooled keep-alive connections is used.
	HTTPClient *http.Client
	// Clock tells the poll handler the time. If nil, the real clock. asynq
	// itself always uses the real clock.
	Clock clockwork.Clock
	// Redis, when set, is used instead of dialing Config.Redis.URL; the
	// caller keeps ownership of it.
	Redis redis.UniversalClient
	// APIRoutes are further handlers of the public API (Config.APIAddr),
	// by http.ServeMux pattern ("GET /v1/things"), served behind its bearer
	// token check.
	APIRoutes map[string]http.Handler
	// ClaimIdle is how long an event a dead worker's reader took is left
	// before another takes it over. If zero, 30 s.
	ClaimIdle time.Duration
}

// Worker is one genwatch worker process.
type Worker struct {
	cfg      Config
	log      *zap.Logger
	rdb      redis.UniversalClient
	ownRedis bool
	// ownHTTP is the HTTP client the worker made itself, when
	// Options.HTTPClient is nil; its idle connections close with the worker.
	ownHTTP  *http.Client
	server   *asynq.Server
	client   *asynq.Client
	mux      *asynq.ServeMux
	http     *http.Server
	listener net.Listener
	// api serves the public API on apiListener, when Config.APIAddr is set.
	api         *http.Server
	apiListener net.Listener
	// feed serves GET /v1/events on the API, from one reader of the streams.
	feed    *feed.Feed
	pauses  *throttle.Pauses
	router  *sink.Router
	running atomic.Bool
	// redisDown is set while asynq's health check cannot reach Redis;
	// downSince is when it began, for the health check's goroutine only.
	redisDown atomic.Bool
	downSince time.Time
	// quiet holds back the repeats of what the loops that talk to Redis
	// log (asynq's, the feed's, the routes', the pauses'): while Redis is
	// down they fail again and again.
	quiet *quietlog.Quieter
}

// New builds a worker from cfg. It connects to nothing yet, but listens on
// Config.HTTPAddr (unless "off" or empty) and Config.APIAddr (when set), so
// that a taken port fails here and Addr and APIAddr are known before Run.
func New(cfg Config, opts Options) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	w := &Worker{cfg: cfg, log: log, rdb: opts.Redis, quiet: quietlog.New(quietlog.Config{})}
	if w.rdb == nil {
		rdb, err := cfg.Redis.NewClient()
		if err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
		w.rdb = rdb
		w.ownRedis = true
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		httpClient = newHTTPClient(cfg.Concurrency)
		w.ownHTTP = httpClient
	}

	w.pauses = throttle.NewPauses(w.rdb, fleet.KeyPrefix(cfg.Queue), w.quiet.Logger(log.Named("throttle")), nil)
	targets, err := buildTargets(cfg, httpClient, throttleDeps{
		limiter: redis_rate.NewLimiter(w.rdb),
		pauses:  w.pauses,
		log:     log.Named("throttle"),
	})
	if err != nil {
		return nil, w.closeOnError(err)
	}
	reg := newRegistry(w.rdb, cfg.Sharding().Queues())
	m := metrics.New(reg)
	w.client = asynq.NewClientFromRedisClient(w.rdb)
	routes, err := buildRoutes(cfg, opts.Handlers, routeDeps{
		client:    httpClient,
		enqueuer:  w.client,
		endpoints: fleet.NewEndpoints(w.rdb, cfg),
		observer:  m,
		log:       log.Named("sink"),
	})
	if err != nil {
		return nil, w.closeOnError(err)
	}
	w.router = sink.NewRouter(w.rdb, w.client, sink.RouterConfig{
		Streams:       cfg.Sharding().Streams(),
		Consumer:      consumerName(),
		DeliveryQueue: cfg.Events.DeliveryQueue,
		Routes:        routes,
		Retention:     cfg.Retention,
		ClaimIdle:     opts.ClaimIdle,
		Observer:      m,
		Logger:        w.quiet.Logger(log.Named("sink")),
	})
	pollCfg := tasks.PollConfig{
		Store:     fleet.NewStore(w.rdb, cfg),
		Targets:   targets,
		Logger:    log.Named("poll"),
		Observer:  m,
		Clock:     opts.Clock,
		MaxWait:   cfg.MaxWait,
		Retention: cfg.Retention,

		UnknownAccountGrace: cfg.UnknownAccountGrace,
	}
	w.mux = asynq.NewServeMux()
	w.mux.Handle(genwatch.TaskTypePoll, tasks.NewPollHandler(pollCfg))
	w.mux.Handle(sink.TaskTypeDeliver, sink.NewDeliverHandler(w.router.Sinks(), m))
	w.server = w.newServer(w.router.Queues())

	if cfg.HTTPAddr != "" && cfg.HTTPAddr != "off" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return nil, w.closeOnError(fmt.Errorf("http_addr (%s): %w", httpAddrSetting, err))
		}
		w.listener = ln
		w.http = &http.Server{Handler: w.handler(reg), ReadHeaderTimeout: 10 * time.Second}
	}
	if cfg.APIEnabled() {
		if err := w.listenAPI(reg, opts.APIRoutes); err != nil {
			return nil, w.closeOnError(err)
		}
	}
	return w, nil
}

// listenAPI builds the public API and listens on Config.APIAddr.
func (w *Worker) listenAPI(reg *prometheus.Registry, routes map[string]http.Handler) error {
	cfg := w.cfg
	inspector := asynq.NewInspectorFromRedisClient(w.rdb)
	w.feed = feed.New(w.rdb, feed.Config{Streams: cfg.Sharding().Streams(), Logger: w.quiet.Logger(w.log.Named("feed"))})
	handler, err := api.New(api.Config{
		Client:  genwatch.NewClient(w.client, cfg.ClientConfig()),
		Control: fleet.NewControl(w.rdb, cfg),
		Tokens:  cfg.APITokens,
		Hooks: api.Hooks{
			Token:   cfg.HooksToken,
			IDPaths: webhookIDPaths(cfg),
			Poller: hint.New(hint.Config{
				Redis:     w.rdb,
				Recorder:  fleet.NewStore(w.rdb, cfg),
				Inspector: inspector,
				Shards:    cfg.Sharding(),
			}),
			Observer: metrics.NewHooks(reg),
		},
		Routes: withFeed(routes, w.feed),
		Logger: w.log.Named("api"),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("api_addr (%s): %w", apiAddrSetting, err)
	}
	w.apiListener = ln
	w.api = api.NewServer(handler, w.log.Named("api"))
	if len(cfg.APITokens) == 0 {
		w.log.Warn("the public API has no api_tokens (GENWATCH_API_TOKENS): every tracking call is refused")
	}
	return nil
}

// withFeed adds GET /v1/events, the live event feed, to the API's routes.
func withFeed(routes map[string]http.Handler, f *feed.Feed) map[string]http.Handler {
	all := map[string]http.Handler{"GET /v1/events": f}
	maps.Copy(all, routes)
	return all
}

// redisHealth logs when Redis becomes unreachable and when it is back,
// with how long it was away and how many repeated lines of the loops were
// held back meanwhile; asynq keeps retrying in between and loses nothing.
func (w *Worker) redisHealth(err error) {
	switch {
	case err != nil && !w.redisDown.Swap(true):
		w.downSince = time.Now()
		w.log.Error("redis is unreachable; polls wait until it is back", zap.Error(err))
	case err == nil && w.redisDown.Swap(false):
		w.log.Info("redis is reachable again",
			zap.Duration("down_for", time.Since(w.downSince).Round(time.Millisecond)),
			zap.Int("repeated_lines_held_back", w.quiet.Reset()))
	}
}

// newRegistry returns the Prometheus registry of a worker: the process,
// asynq's queues and the in-flight generations; genwatch's own metrics are
// added by metrics.New.
func newRegistry(rdb redis.UniversalClient, queues []string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		asynqmetrics.NewQueueMetricsCollector(inspector),
		metrics.NewInFlight(inspector, queues),
	)
	return reg
}

// The worker's asynq check intervals: the floor under detection lag.
//
// asynq schedules a poll on a whole second and moves it to the queue on the
// first DelayedTaskCheckInterval tick after that second has begun; an idle
// worker looks for queued work every TaskCheckInterval, which is also how
// soon a poll that a webhook hint runs at once starts. Each tick costs one
// script call per delayed set (retry and scheduled) of each queue, about
// 20 commands a second for a worker at 100 ms: nothing beside the 19
// commands of every poll (docs/benchmarks.md).
const (
	DelayedTaskCheckInterval = 100 * time.Millisecond
	TaskCheckInterval        = 100 * time.Millisecond
)

// newServer configures the asynq server: polls are never failures while
// waiting, and their delays decide the next run.
func (w *Worker) newServer(deliveryQueues []string) *asynq.Server {
	queues := map[string]int{}
	for _, q := range w.cfg.Sharding().Queues() {
		queues[q] = 6
	}
	for _, q := range deliveryQueues {
		queues[q] = 2
	}
	return asynq.NewServerFromRedisClient(w.rdb, asynq.Config{
		Concurrency:              w.cfg.Concurrency,
		Queues:                   queues,
		IsFailure:                tasks.IsFailure,
		RetryDelayFunc:           retryDelay(tasks.RetryDelay(time.Now)),
		DelayedTaskCheckInterval: DelayedTaskCheckInterval,
		TaskCheckInterval:        TaskCheckInterval,
		ShutdownTimeout:          w.cfg.ShutdownTimeout,
		HealthCheckFunc:          w.redisHealth,
		HealthCheckInterval:      time.Second,
		Logger:                   w.quiet.Logger(w.log.Named("asynq")).Sugar(),
		LogLevel:                 asynq.WarnLevel,
	})
}

// Addr is the address the HTTP server listens on, or nil when it is off.
func (w *Worker) Addr() net.Addr {
	if w.listener == nil {
		return nil
	}
	return w.listener.Addr()
}

// APIAddr is the address the public API listens on, or nil when it is off.
func (w *Worker) APIAddr() net.Addr {
	if w.apiListener == nil {
		return nil
	}
	return w.apiListener.Addr()
}

// Run starts processing and blocks until ctx is done or an HTTP server
// fails. It then stops taking tasks, lets in-flight polls finish for up to
// ShutdownTimeout, returns the rest to the queue, stops the HTTP servers
// and the loops that read the streams and the pauses, and returns once
// every goroutine it started has ended: nil after ctx is done, or the
// failure, naming the address and the setting that chose it.
func (w *Worker) Run(ctx context.Context) error {
	defer w.close()
	// The routes' groups exist before this worker can end a generation.
	if err := w.router.Prepare(ctx); err != nil {
		w.closeListeners()
		return fmt.Errorf("worker: %w", err)
	}
	w.migrateLegacyKeys(ctx)

	// The loops outlive the asynq server, so that polls in flight while it
	// shuts down still see the pauses and have their events routed.
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	defer func() {
		stopLoops()
		loops.Wait()
		w.log.Info("stopped")
	}()
	loops.Go(func() { w.pauses.Run(loopCtx) })
	loops.Go(func() { w.router.Run(loopCtx) })
	if w.cfg.Redis.Mode == config.RedisSentinel {
		if fo, err := w.cfg.Redis.FailoverOptions(); err == nil {
			loops.Go(func() { watchPrimary(loopCtx, fo, w.log.Named("redis")) })
		}
	}
	// The feed stops before the API server, so that its subscribers leave.
	feedCtx, stopFeed := context.WithCancel(loopCtx)
	defer stopFeed()
	if w.feed != nil {
		loops.Go(func() { _ = w.feed.Run(feedCtx) })
	}

	if err := w.server.Start(w.mux); err != nil {
		w.closeListeners()
		return fmt.Errorf("worker: start: %w", err)
	}
	w.running.Store(true)

	// The HTTP servers and the shutdown run in one group: the first server
	// to fail cancels gctx, as ctx ending does, which starts the shutdown.
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range w.servers() {
		g.Go(func() error {
			err := s.srv.Serve(s.ln)
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			err = fmt.Errorf("worker: %s %s (%s): %w", s.setting, s.ln.Addr(), s.change, err)
			w.log.Error("http server failed; shutting down", zap.Error(err))
			return err
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		w.shutdown(stopFeed)
		return nil
	})
	w.logStarted()
	w.warnMissingAccounts()
	return g.Wait()
}

// shutdown stops the asynq server, letting polls in flight finish for up
// to ShutdownTimeout, then the feed and the HTTP servers.
func (w *Worker) shutdown(stopFeed func()) {
	w.log.Info("shutting down")
	w.running.Store(false)
	w.server.Stop()
	w.server.Shutdown()
	stopFeed()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range w.servers() {
		if err := s.srv.Shutdown(sctx); err != nil {
			// Connections still open after the grace are cut.
			_ = s.srv.Close()
		}
	}
}

// served is an HTTP server with its listener, and how an operator names
// its address: the configuration key, and the variable and flag that set it.
type served struct {
	srv     *http.Server
	ln      net.Listener
	setting string
	change  string
}

// servers returns the HTTP servers this worker runs.
func (w *Worker) servers() []served {
	var all []served
	if w.http != nil {
		all = append(all, served{w.http, w.listener, "http_addr", httpAddrSetting})
	}
	if w.api != nil {
		all = append(all, served{w.api, w.apiListener, "api_addr", apiAddrSetting})
	}
	return all
}

// Where an operator changes each address.
const (
	httpAddrSetting = "GENWATCH_HTTP_ADDR, worker --http"
	apiAddrSetting  = "GENWATCH_API_ADDR, worker --api"
)

// logStarted says that the worker runs, and where.
func (w *Worker) logStarted() {
	fields := []zap.Field{
		zap.String("queue", w.cfg.Queue),
		zap.Int("shards", w.cfg.Shards),
		zap.Int("concurrency", w.cfg.Concurrency),
		zap.String("stream", w.cfg.Events.Stream),
	}
	if addr := w.Addr(); addr != nil {
		fields = append(fields, zap.String("http", "http://"+addr.String()), zap.String("dashboard", "http://"+addr.String()+DashboardPath+"/"))
	}
	if addr := w.APIAddr(); addr != nil {
		fields = append(fields, zap.String("api", "http://"+addr.String()))
	}
	w.log.Info("worker started", fields...)
}

// warnMissingAccounts says, for each provider without any account, that
// this worker cannot poll it: its requests wait for another worker of the
// fleet and end rejected if none takes them.
func (w *Worker) warnMissingAccounts() {
	for _, name := range slices.Sorted(maps.Keys(w.cfg.Providers)) {
		if len(w.cfg.Providers[name].Accounts) > 0 {
			continue
		}
		w.log.Warn("provider has no account in this worker: its tracking requests wait for another worker, then end failed with code rejected",
			zap.String("provider", name),
			zap.String("set", config.APIKeyVar(name)),
			zap.Duration("unknown_account_grace", w.cfg.UnknownAccountGrace))
	}
}

func (w *Worker) close() {
	if err := w.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		w.log.Debug("closing asynq client", zap.Error(err))
	}
	if w.ownRedis {
		_ = w.rdb.Close()
	}
	if w.ownHTTP != nil {
		w.ownHTTP.CloseIdleConnections()
	}
}

// closeListeners closes the listeners of servers that never ran.
func (w *Worker) closeListeners() {
	for _, ln := range []net.Listener{w.listener, w.apiListener} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

func (w *Worker) closeOnError(err error) error {
	w.closeListeners()
	if w.ownRedis {
		_ = w.rdb.Close()
	}
	return fmt.Errorf("worker: %w", err)
}

// retryDelay schedules deliveries with their own backoff and everything
// else (polls) with poll.
func retryDelay(poll asynq.RetryDelayFunc) asynq.RetryDelayFunc {
	return func(n int, err error, t *asynq.Task) time.Duration {
		if t.Type() == sink.TaskTypeDeliver {
			return sink.RetryDelay(n, err, rand.Float64())
		}
		return poll(n, err, t)
	}
}

// webhookIDPaths maps each configured provider's name to where its
// webhook bodies keep the generation ID, as its definition says.
func webhookIDPaths(cfg Config) map[string][]string {
	paths := map[string][]string{}
	for _, d := range declared.Definitions(cfg) {
		paths[d.Name] = d.WebhookIDPaths
	}
	return paths
}

type throttleDeps struct {
	limiter *redis_rate.Limiter
	pauses  *throttle.Pauses
	log     *zap.Logger
}

func buildTargets(cfg Config, client *http.Client, deps throttleDeps) (tasks.Targets, error) {
	targets := tasks.Targets{}
	for name, p := range cfg.Providers {
		def, ok := declared.Lookup(cfg, name)
		if !ok {
			return nil, fmt.Errorf("provider %q: no adapter", name)
		}
		policy := cfg.Policy(name)
		targets[name] = map[string]tasks.Target{}
		for acct, a := range p.Accounts {
			adapter, err := def.New(providers.Config{
				BaseURL: p.BaseURL,
				APIKey:  a.APIKey,
				HTTP: providers.HTTPConfig{
					Client:       client,
					Timeout:      cfg.RequestTimeout,
					MaxBodyBytes: cfg.MaxResponseBytes,
				},
			})
			if err != nil {
				return nil, fmt.Errorf("provider %s account %s: %w", name, acct, err)
			}
			admit := guard.New(guard.Config{
				Key:     name + "/" + acct,
				Limit:   p.AccountRateLimit(acct),
				Limiter: deps.limiter,
				Pauses:  deps.pauses,
				Breaker: cfg.CircuitBreaker,
				OnStateChange: func(key string, from, to gobreaker.State) {
					deps.log.Warn("circuit breaker changed state", zap.String("account_key", key),
						zap.String("from", from.String()), zap.String("to", to.String()))
				},
			})
			targets[name][acct] = tasks.Target{Provider: adapter, Policy: policy, Guard: admit}
		}
	}
	return targets, nil
}

type routeDeps struct {
	client    *http.Client
	enqueuer  sink.Enqueuer
	endpoints *sink.Endpoints
	observer  sink.Observer
	log       *zap.Logger
}

// buildRoutes returns the worker's destinations beside the stream: the
// asynq sink, each webhook endpoint and each Go handler.
func buildRoutes(cfg Config, handlers map[string]EventHandler, deps routeDeps) ([]sink.Route, error) {
	var routes []sink.Route
	if cfg.Events.TaskQueue != "" {
		routes = append(routes, sink.Route{Name: "asynq", Inline: true,
			Sink: sink.TaskSink(deps.enqueuer, cfg.Events.TaskQueue, cfg.Retention)})
	}
	for _, wc := range cfg.Events.Webhooks {
		wh, err := sink.NewWebhook(sink.WebhookConfig{
			Name:      wc.Name,
			URL:       wc.URL,
			Secrets:   wc.Secrets,
			Client:    deps.client,
			Timeout:   wc.Timeout,
			Endpoints: deps.endpoints,
			Observer:  deps.observer,
			Logger:    deps.log,
		})
		if err != nil {
			return nil, err
		}
		routes = append(routes, sink.Route{Name: "webhook:" + wc.Name, EventTypes: wc.Events, Sink: wh})
	}
	for _, name := range slices.Sorted(maps.Keys(handlers)) {
		h := handlers[name]
		if name == "" || strings.ContainsAny(name, " \t\n") {
			return nil, fmt.Errorf("handler name %q: want a name without spaces", name)
		}
		routes = append(routes, sink.Route{Name: "handler:" + name,
			Sink: sink.Func(func(ctx context.Context, e genwatch.Event, _ []byte) error {
				return h.HandleEvent(ctx, e)
			})})
	}
	return routes, nil
}

// consumerName names this process in the routes' consumer groups.
func consumerName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "worker"
	}
	return fmt.Sprintf("%s-%d-%08x", host, os.Getpid(), rand.Uint32())
}

func newHTTPClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(concurrency, 16)
	t.MaxIdleConns = 4 * t.MaxIdleConnsPerHost
	return &http.Client{Transport: t}
}

// migrateLegacyKeys moves the generation state and events that workers
// before sharding kept under the queue's old key prefix to where the store
// keeps them now, so that an upgrade forgets no generation in flight and
// re-emits no event. A failure is logged: the fleet still works, and
// another worker or the next start tries again.
func (w *Worker) migrateLegacyKeys(ctx context.Context) {
	moved, err := fleet.NewStore(w.rdb, w.cfg).MigrateLegacy(ctx, w.cfg.Queue)
	switch {
	case err != nil:
		w.log.Warn("could not move the keys of an earlier version; its generations in flight start their polls over", zap.Error(err))
	case moved > 0:
		w.log.Info("moved the keys of an earlier version to where this one keeps them", zap.Int("keys", moved))
	}
}
