// Package config is a worker's configuration (worker.Config is Config):
// defaults, then a strict YAML file, then environment variables (the
// environment wins), then validation that reports every problem at once.
// A Go program that embeds a worker builds one with Default or Load and
// sets what it needs, accounts included:
//
//	cfg := config.Default()
//	cfg.Redis.URL = "redis://redis.internal:6379/0"
//	hoox := cfg.Providers["hoox"]
//	hoox.Accounts = map[string]config.Account{"default": {APIKey: secret.Value(os.Getenv("HOOX_KEY"))}}
//	cfg.Providers["hoox"] = hoox
//	if err := cfg.Validate(); err != nil { ... }
//
// Each YAML block has a type of its own here, so that a Go program can
// set a whole block at once: Policy (poll, globally and per provider),
// Breaker (circuit_breaker), Limit (a provider's or account's rate_limit)
// and StatusSpec (the status endpoint of a declarative provider).
//
// The example file config/genwatch.example.yaml, beside this package,
// documents every option with its default, and a test keeps it loadable
// and in step with Default.
package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"gopkg.in/yaml.v3"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/builtin"
	"github.com/genwatch/genwatch/secret"
)

// Config is a worker's whole configuration.
type Config struct {
	Redis Redis `yaml:"redis"`
	// Queue is the asynq queue tracking requests are read from.
	// Default "genwatch".
	Queue string `yaml:"queue"`
	// Shards is the number N of tracking shards: with N > 1, requests are
	// spread over the queues "<queue>-<k>" and events over the streams
	// "<stream>-<k>", k = FNV-1a-32(task ID) mod N (genwatch.ShardOf). It
	// must be the same for the whole fleet and every client. Default 1.
	Shards int `yaml:"shards"`
	// Concurrency is how many polls one worker process runs at once. Polls
	// wait on the network, so it is far above the core count. Default 100.
	Concurrency int `yaml:"concurrency"`
	// HTTPAddr is where the worker serves /metrics, /healthz, /readyz and the
	// dashboard. Default "127.0.0.1:8080" (loopback only); empty string in
	// the environment or "off" disables the server.
	HTTPAddr string `yaml:"http_addr"`
	// HTTPAuth protects everything but /healthz and /readyz with basic
	// auth when its username is set; do so before serving beyond loopback.
	HTTPAuth HTTPAuth `yaml:"http_auth"`
	// APIAddr is where the worker serves the public HTTP API: tracking,
	// status and cancel for any language, and provider webhooks. It is
	// meant to be exposed, behind TLS. Default "" (off); "off" also
	// disables it.
	APIAddr string `yaml:"api_addr"`
	// APITokens are the bearer tokens the tracking API accepts (in the
	// environment, comma-separated). None: it refuses every call.
	APITokens []secret.Value `yaml:"api_tokens"`
	// HooksToken is the secret path segment of the provider webhook URLs,
	// /v1/hooks/{provider}/{hooks_token}. Default "": the hook endpoint
	// answers 404.
	HooksToken secret.Value `yaml:"hooks_token"`
	// MaxWait is how long a generation is tracked when its request does
	// not say. Default 30 min.
	MaxWait time.Duration `yaml:"max_wait"`
	// Retention is how long a finished tracking task, and the guard against
	// a second event, are kept. Default 24 h.
	Retention time.Duration `yaml:"retention"`
	// RequestTimeout bounds one status call to a provider. Default 10 s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxResponseBytes is the largest provider response read. Default 1 MiB.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// ShutdownTimeout is how long in-flight polls may take to finish on
	// SIGTERM before they are returned to the queue. Default 20 s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// UnknownAccountGrace is how long a tracking request naming a provider
	// or account a worker lacks waits, from when a worker first saw it, for
	// a worker of the fleet that has it, before it ends failed with code
	// rejected. Default 2 min.
	UnknownAccountGrace time.Duration `yaml:"unknown_account_grace"`
	// Poll is the polling policy for every provider (see Policy); a
	// provider's own Poll overrides its fields.
	Poll Policy `yaml:"poll"`
	// CircuitBreaker configures the per-account circuit breakers.
	CircuitBreaker Breaker `yaml:"circuit_breaker"`
	// Providers configures each provider by name: the built-in hoox,
	// hooked and token360, and any other an operator adds under a name of
	// its own with a Type (see Provider).
	Providers map[string]Provider `yaml:"providers"`
	Events    Events              `yaml:"events"`
	Log       Log                 `yaml:"log"`
}

// Redis says where the queue and the event stream live.
type Redis struct {
	// Mode is how URL is read: "single" (one server), "sentinel" (a
	// primary followed through failovers by Redis Sentinel) or "cluster"
	// (a Redis Cluster). Default "single".
	Mode string `yaml:"mode"`
	// URL is a redis:// or rediss:// (TLS) URL. In single mode it names
	// the server, with optional ACL user, password and database number.
	// In sentinel mode it is go-redis's failover form: the sentinels, the
	// primary's name and its password,
	// "redis://s1:26379?addr=s2:26379&master_name=mymaster&password=pw".
	// In cluster mode it is go-redis's cluster form, some of the nodes:
	// "redis://n1:7001?addr=n2:7002&addr=n3:7003". Default
	// "redis://127.0.0.1:6379/0".
	URL string `yaml:"url"`
	// TLSCAFile, with rediss://, names a PEM file of the certificate
	// authorities to trust instead of the system's.
	TLSCAFile string `yaml:"tls_ca_file"`
	// WaitReplicas, when positive, is how many replicas must have an
	// ended generation's event before its task is acknowledged (Redis
	// WAIT after the write): a primary that fails over right after the
	// write then loses no event. Fewer within WaitTimeout, and the task
	// runs again, which finds the event and waits again. Set it to the
	// replicas each primary has, at most; default 0, no waiting.
	WaitReplicas int `yaml:"wait_replicas"`
	// WaitTimeout bounds that wait. Default 1 s; zero means the default.
	WaitTimeout time.Duration `yaml:"wait_timeout"`
}

// Redis modes.
const (
	RedisSingle   = "single"
	RedisSentinel = "sentinel"
	RedisCluster  = "cluster"
)

// NewClient returns a client of r for its mode: a *redis.Client for single
// and sentinel (go-redis's failover client, which follows the primary),
// a *redis.ClusterClient for cluster. It connects to nothing yet. Every
// genwatch program builds its Redis client here. Errors never include the
// URL, which may hold a password.
func (r Redis) NewClient() (redis.UniversalClient, error) {
	switch r.mode() {
	case RedisSingle:
		opt, err := r.Options()
		if err != nil {
			return nil, err
		}
		return redis.NewClient(opt), nil
	case RedisSentinel:
		opt, err := r.FailoverOptions()
		if err != nil {
			return nil, err
		}
		return redis.NewFailoverClient(opt), nil
	case RedisCluster:
		opt, err := r.ClusterOptions()
		if err != nil {
			return nil, err
		}
		return redis.NewClusterClient(opt), nil
	default:
		return nil, fmt.Errorf("redis.mode: want single, sentinel or cluster, got %q", r.Mode)
	}
}

func (r Redis) mode() string {
	if r.Mode == "" {
		return RedisSingle
	}
	return r.Mode
}

// Options returns the go-redis options for r in single mode. Errors never
// include the URL, which may hold a password.
func (r Redis) Options() (*redis.Options, error) {
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", urlErr(err))
	}
	if err := r.trustCA(opt.TLSConfig); err != nil {
		return nil, err
	}
	return opt, nil
}

// FailoverOptions returns the go-redis options for r in sentinel mode: the
// sentinels' addresses and the primary's name, which is required.
func (r Redis) FailoverOptions() (*redis.FailoverOptions, error) {
	opt, err := redis.ParseFailoverURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", urlErr(err))
	}
	if opt.MasterName == "" {
		return nil, fmt.Errorf("redis.url: sentinel mode needs master_name=NAME in the query")
	}
	if err := r.trustCA(opt.TLSConfig); err != nil {
		return nil, err
	}
	return opt, nil
}

// ClusterOptions returns the go-redis options for r in cluster mode: the
// addresses of some of the nodes, from which the client learns the rest.
func (r Redis) ClusterOptions() (*redis.ClusterOptions, error) {
	opt, err := redis.ParseClusterURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", urlErr(err))
	}
	if u, err := url.Parse(r.URL); err == nil && strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "0" {
		return nil, fmt.Errorf("redis.url: a Redis Cluster has database 0 only, got path %q", u.Path)
	}
	if err := r.trustCA(opt.TLSConfig); err != nil {
		return nil, err
	}
	return opt, nil
}

// check parses the URL for the mode, as NewClient does.
func (r Redis) check() error {
	var err error
	switch r.mode() {
	case RedisSingle:
		_, err = r.Options()
	case RedisSentinel:
		_, err = r.FailoverOptions()
	case RedisCluster:
		_, err = r.ClusterOptions()
	}
	return err
}

// urlErr drops the *url.Error wrapper, whose message quotes the URL.
func urlErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// trustCA makes tc trust TLSCAFile; tc is nil unless the URL is rediss://.
func (r Redis) trustCA(tc *tls.Config) error {
	if r.TLSCAFile == "" {
		return nil
	}
	if tc == nil {
		return fmt.Errorf("redis.tls_ca_file: set, but the URL is not rediss://")
	}
	pem, err := os.ReadFile(r.TLSCAFile)
	if err != nil {
		return fmt.Errorf("redis.tls_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("redis.tls_ca_file: no PEM certificate in %s", r.TLSCAFile)
	}
	tc.RootCAs = pool
	return nil
}

// Sharding returns the fleet's tracking shards: its queue, stream and
// shard count.
func (c Config) Sharding() genwatch.Shards {
	return genwatch.Shards{Queue: c.Queue, Stream: c.Events.Stream, N: c.Shards}.WithDefaults()
}

// ClientConfig returns the configuration of a genwatch.Client that
// enqueues for this fleet: its queue, shards and retention, and the
// accounts a request may name (AcceptedAccounts).
func (c Config) ClientConfig() genwatch.ClientConfig {
	return genwatch.ClientConfig{
		Queue:     c.Queue,
		Shards:    c.Shards,
		Retention: c.Retention,
		Accounts:  c.AcceptedAccounts(),
	}
}

// HTTPAuth configures basic auth and the dashboard's mode.
type HTTPAuth struct {
	Username string       `yaml:"username"`
	Password secret.Value `yaml:"password"`
	// ReadOnly hides the dashboard's buttons that change tasks.
	ReadOnly bool `yaml:"read_only"`
}

// Provider types, for Provider.Type.
const (
	// TypeBuiltin (empty) is a provider genwatch has an adapter for; the
	// provider's name says which.
	TypeBuiltin = ""
	// TypeOpenAIVideos is an OpenAI-compatible videos API:
	// GET {base_url}/v1/videos/{id} with "Authorization: Bearer KEY".
	TypeOpenAIVideos = "openai_videos"
	// TypeDeclarative is a provider that Provider.Status describes.
	TypeDeclarative = "declarative"
)

// Provider configures one provider.
type Provider struct {
	// Type is what kind of provider this is: empty for a built-in one,
	// "openai_videos" for an OpenAI-compatible videos API, "declarative"
	// for one that Status describes. The last two take a name of their own
	// (lower-case letters, digits and _) and need BaseURL.
	Type string `yaml:"type"`
	// BaseURL is the scheme, host and port (and optional path prefix) of
	// the provider's API; the documented path is appended. Default, for a
	// built-in provider: its public API.
	BaseURL string `yaml:"base_url"`
	// Status describes the status endpoint of a declarative provider: its
	// path, auth, status words and where each field is in the body.
	Status *StatusSpec `yaml:"status"`
	// Poll overrides fields of the global polling policy for this
	// provider: each non-zero field wins over Config.Poll's.
	Poll Policy `yaml:"poll"`
	// RateLimit caps the status calls of each account of this provider,
	// fleet-wide. Zero means none.
	RateLimit Limit `yaml:"rate_limit"`
	// Accounts maps an account name to its credentials. The "default"
	// account's key also comes from GENWATCH_<PROVIDER>_API_KEY.
	Accounts map[string]Account `yaml:"accounts"`
}

// Account holds one credential set.
type Account struct {
	// APIKey is the key itself.
	APIKey secret.Value `yaml:"api_key"`
	// APIKeyFile names a file holding the key, read at load time; it wins
	// over APIKey.
	APIKeyFile string `yaml:"api_key_file"`
	// RateLimit overrides the provider's rate limit for this account.
	RateLimit Limit `yaml:"rate_limit"`
}

// AccountRateLimit returns the rate limit of an account: its own, else its
// provider's.
func (p Provider) AccountRateLimit(account string) Limit {
	if l := p.Accounts[account].RateLimit; l.PerSecond > 0 {
		return l
	}
	return p.RateLimit
}

// Events configures where completion events go. The Redis stream always
// gets every event.
type Events struct {
	// Stream is the Redis stream key. Default "genwatch:events".
	Stream string `yaml:"stream"`
	// StreamMaxLen trims the stream to about this many entries. Default
	// 1,000,000; negative keeps every entry.
	StreamMaxLen int64 `yaml:"stream_max_len"`
	// TaskQueue, when set, also enqueues each event as a generation:event
	// asynq task on this queue, with the event ID as the task ID.
	TaskQueue string `yaml:"task_queue"`
	// Webhooks are the endpoints that get each event, signed per Standard
	// Webhooks. GENWATCH_WEBHOOK_URL and GENWATCH_WEBHOOK_SECRET set the
	// one named "default". Default none.
	Webhooks []Webhook `yaml:"webhooks"`
	// DeliveryQueue prefixes the asynq queues on which webhook and Go
	// handler deliveries are retried, one per destination:
	// "<delivery_queue>:webhook:<name>", "<delivery_queue>:handler:<name>".
	// Default "genwatch:deliveries".
	DeliveryQueue string `yaml:"delivery_queue"`
}

// Webhook configures one signed HTTP endpoint.
type Webhook struct {
	// Name identifies the endpoint in logs, metrics and `genwatch
	// deliveries`; letters, digits, '-' and '_'. Keep it stable: it names
	// the endpoint's consumer group and delivery queue. Required.
	Name string `yaml:"name"`
	// URL receives a POST per event. Required.
	URL string `yaml:"url"`
	// Secrets sign each delivery; "whsec_" followed by base64, as Standard
	// Webhooks defines it. List the new secret beside the old one while
	// rotating: each delivery carries a signature for each. At least one.
	Secrets []secret.Value `yaml:"secrets"`
	// Events are the event types the endpoint gets (generation.completed,
	// generation.failed, generation.timed_out, generation.canceled).
	// Empty: all.
	Events []string `yaml:"events"`
	// Timeout bounds one delivery. Default 10 s.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultWebhookName is the endpoint GENWATCH_WEBHOOK_URL configures.
const DefaultWebhookName = "default"

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or console. Default json.
	Format string `yaml:"format"`
}

// Defaults.
const (
	DefaultRedisURL            = "redis://127.0.0.1:6379/0"
	DefaultRedisWaitTimeout    = time.Second
	DefaultConcurrency         = 100
	DefaultHTTPAddr            = "127.0.0.1:8080"
	DefaultRequestTimeout      = 10 * time.Second
	DefaultMaxResponseBytes    = 1 << 20
	DefaultShutdownTimeout     = 20 * time.Second
	DefaultUnknownAccountGrace = 2 * time.Minute
	DefaultStreamMaxLen        = 1_000_000
	DefaultDeliveryQueue       = "genwatch:deliveries"
	DefaultWebhookTimeout      = 10 * time.Second
)

// DefaultBaseURLs are the built-in providers' public APIs, by name.
func DefaultBaseURLs() map[string]string {
	out := map[string]string{}
	for _, d := range builtin.Definitions() {
		out[d.Name] = d.DefaultBaseURL
	}
	return out
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	c := Config{
		Redis:               Redis{Mode: RedisSingle, URL: DefaultRedisURL, WaitTimeout: DefaultRedisWaitTimeout},
		Queue:               genwatch.DefaultQueue,
		Shards:              1,
		Concurrency:         DefaultConcurrency,
		HTTPAddr:            DefaultHTTPAddr,
		MaxWait:             genwatch.DefaultMaxWait,
		Retention:           genwatch.DefaultRetention,
		RequestTimeout:      DefaultRequestTimeout,
		MaxResponseBytes:    DefaultMaxResponseBytes,
		ShutdownTimeout:     DefaultShutdownTimeout,
		UnknownAccountGrace: DefaultUnknownAccountGrace,
		Poll:                Policy{}.WithDefaults(),
		CircuitBreaker:      Breaker{}.WithDefaults(),
		Providers:           map[string]Provider{},
		Events: Events{
			Stream:        genwatch.DefaultStream,
			StreamMaxLen:  DefaultStreamMaxLen,
			DeliveryQueue: DefaultDeliveryQueue,
		},
		Log: Log{Level: "info", Format: "json"},
	}
	for name, base := range DefaultBaseURLs() {
		c.Providers[name] = Provider{BaseURL: base, Accounts: map[string]Account{}}
	}
	return c
}

// Overlay returns getenv with the variables in vars standing in for the
// environment's: the one way a command's flags override the file and the
// environment, each flag setting the variable it is named after, so that
// Load reads, checks and reports it as it would the variable.
func Overlay(getenv func(string) (string, bool), vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := vars[name]; ok {
			return v, true
		}
		if getenv == nil {
			return "", false
		}
		return getenv(name)
	}
}

// Load builds the configuration from the YAML file at path (none when path
// is empty) and the environment, read through getenv (os.LookupEnv in a
// program; a map in a test).
func Load(path string, getenv func(string) (string, bool)) (Config, error) {
	c := Default()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		if err := c.decodeYAML(f); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}
	if err := c.resolve(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// decodeYAML overlays a YAML document on c, rejecting unknown keys.
func (c *Config) decodeYAML(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return err
	}
	return nil
}

// resolve reads key files, fills what the file left at zero and validates.
func (c *Config) resolve() error {
	def := Default()
	var errs []error
	for name, p := range c.Providers {
		if p.BaseURL == "" {
			p.BaseURL = def.Providers[name].BaseURL
		}
		for acct, a := range p.Accounts {
			if a.APIKeyFile != "" {
				b, err := os.ReadFile(a.APIKeyFile)
				if err != nil {
					errs = append(errs, fmt.Errorf("providers.%s.accounts.%s.api_key_file: %w", name, acct, err))
					continue
				}
				a.APIKey = secret.Value(strings.TrimSpace(string(b)))
				p.Accounts[acct] = a
			}
		}
		c.Providers[name] = p
	}
	c.Poll = c.Poll.WithDefaults()
	c.CircuitBreaker = c.CircuitBreaker.WithDefaults()
	if len(c.APITokens) == 0 {
		c.APITokens = nil
	}
	if len(c.Events.Webhooks) == 0 {
		c.Events.Webhooks = nil // "webhooks: []" is the default
	}
	for i := range c.Events.Webhooks {
		if c.Events.Webhooks[i].Timeout == 0 {
			c.Events.Webhooks[i].Timeout = DefaultWebhookTimeout
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.Validate()
}

// Validate reports every problem, each naming its field.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(c.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		add("redis.url", "want redis:// or rediss:// URL")
	} else if err := c.Redis.check(); err != nil {
		errs = append(errs, err)
	}
	switch c.Redis.mode() {
	case RedisSingle, RedisSentinel, RedisCluster:
	default:
		add("redis.mode", "want single, sentinel or cluster, got %q", c.Redis.Mode)
	}
	if c.Redis.WaitReplicas < 0 {
		add("redis.wait_replicas", "must not be negative, got %d", c.Redis.WaitReplicas)
	}
	if c.Redis.WaitTimeout < 0 {
		add("redis.wait_timeout", "must not be negative, got %s", c.Redis.WaitTimeout)
	}
	if c.Queue == "" {
		add("queue", "must not be empty")
	}
	if c.Shards < 1 {
		add("shards", "must be at least 1, got %d", c.Shards)
	}
	if c.Concurrency < 1 {
		add("concurrency", "must be at least 1, got %d", c.Concurrency)
	}
	for field, d := range map[string]time.Duration{
		"max_wait": c.MaxWait, "retention": c.Retention, "request_timeout": c.RequestTimeout,
		"shutdown_timeout": c.ShutdownTimeout, "unknown_account_grace": c.UnknownAccountGrace,
	} {
		if d <= 0 {
			add(field, "must be positive, got %s", d)
		}
	}
	if c.MaxResponseBytes < 1 {
		add("max_response_bytes", "must be positive, got %d", c.MaxResponseBytes)
	}
	for _, name := range sortedKeys(c.Providers) {
		p := c.Providers[name]
		if !p.validateType(name, add, func(err error) { errs = append(errs, err) }) {
			continue
		}
		if u, err := url.Parse(p.BaseURL); p.BaseURL == "" {
			add("providers."+name+".base_url", "is required with type %s", p.Type)
		} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("providers."+name+".base_url", "want http(s)://host[:port], got %q", p.BaseURL)
		}
		errs = append(errs, p.Poll.Validate("providers."+name+".poll")...)
		if p.RateLimit.PerSecond < 0 || p.RateLimit.Burst < 0 {
			add("providers."+name+".rate_limit", "must not be negative")
		}
		for acct, a := range p.Accounts {
			if a.RateLimit.PerSecond < 0 || a.RateLimit.Burst < 0 {
				add("providers."+name+".accounts."+acct+".rate_limit", "must not be negative")
			}
			if acct == "" {
				add("providers."+name+".accounts", "account name must not be empty")
			}
			if a.APIKey == "" {
				add("providers."+name+".accounts."+acct+".api_key", "is empty")
			}
		}
	}
	errs = append(errs, c.Poll.Validate("poll")...)
	if c.HTTPAuth.Username != "" && c.HTTPAuth.Password == "" {
		add("http_auth.password", "is required with http_auth.username")
	}
	for i, tok := range c.APITokens {
		if err := checkToken(tok.Reveal()); err != nil {
			add(fmt.Sprintf("api_tokens[%d]", i), "%v", err)
		}
	}
	if c.HooksToken != "" {
		if err := checkToken(c.HooksToken.Reveal()); err != nil {
			add("hooks_token", "%v", err)
		}
	}
	if c.Events.Stream == "" {
		add("events.stream", "must not be empty")
	}
	if c.Events.DeliveryQueue == "" {
		add("events.delivery_queue", "must not be empty")
	}
	names := map[string]bool{}
	for i, w := range c.Events.Webhooks {
		field := fmt.Sprintf("events.webhooks[%d]", i)
		switch {
		case !validName(w.Name):
			add(field+".name", "want letters, digits, '-' or '_', got %q", w.Name)
		case names[w.Name]:
			add(field+".name", "%q is used twice", w.Name)
		}
		names[w.Name] = true
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(field+".url", "want an http(s) URL")
		}
		if len(w.Secrets) == 0 {
			add(field+".secrets", "at least one secret is required")
		}
		for j, s := range w.Secrets {
			if _, err := standardwebhooks.NewWebhook(s.Reveal()); err != nil || s == "" {
				add(fmt.Sprintf("%s.secrets[%d]", field, j), `want "whsec_" followed by base64`)
			}
		}
		for _, ev := range w.Events {
			if !slices.Contains(EventTypes(), ev) {
				add(field+".events", "unknown event type %q (want some of %v)", ev, EventTypes())
			}
		}
		if w.Timeout < 0 {
			add(field+".timeout", "must not be negative")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		add("log.format", "want json or console, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

// MinTokenLength is the shortest API or hooks token accepted.
const MinTokenLength = 16

// checkToken tells what is wrong with a token, never quoting it. A token
// must be long enough not to be guessed, and made of the characters that
// need no escaping in a header or a URL path.
func checkToken(tok string) error {
	if len(tok) < MinTokenLength {
		return fmt.Errorf("is %d characters long, at least %d required", len(tok), MinTokenLength)
	}
	for _, r := range tok {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return fmt.Errorf("may hold only letters, digits, '-', '.', '_' and '~'")
		}
	}
	return nil
}

// APIEnabled reports whether the public HTTP API is served.
func (c Config) APIEnabled() bool { return c.APIAddr != "" && c.APIAddr != "off" }

// AcceptedAccounts returns the accounts a request may name for each
// provider when it is validated before enqueueing: the configured ones, or
// only "default" for a provider with none configured (a host without API
// keys, such as one that only enqueues, cannot know the workers' accounts,
// but every deployment is expected to have a default one).
func (c Config) AcceptedAccounts() map[string][]string {
	accepted := c.Accounts()
	for name := range accepted {
		if len(accepted[name]) == 0 {
			accepted[name] = []string{genwatch.DefaultAccount}
		}
	}
	return accepted
}

// ProviderNames lists the configured providers, built-in or not, sorted.
func (c Config) ProviderNames() []string { return sortedKeys(c.Providers) }

// validateType checks the provider's name against its type, and a
// declarative provider's Status; it returns false when the rest of the
// provider is not worth checking.
func (p Provider) validateType(name string, add func(field, format string, args ...any), addErr func(error)) bool {
	at := "providers." + name
	_, isBuiltin := builtin.Lookup(name)
	switch p.Type {
	case TypeBuiltin:
		if !isBuiltin {
			add(at, "unknown provider (want one of %v, or a type: %s or %s)", genwatch.Providers(), TypeOpenAIVideos, TypeDeclarative)
			return false
		}
	case TypeOpenAIVideos, TypeDeclarative:
		if isBuiltin {
			add(at+".type", "%s is a built-in provider; give this one a name of its own", name)
			return false
		}
		if !providers.ValidName(name) {
			add(at, "a provider name is 1 to 32 lower-case letters, digits and _, starting with a letter")
			return false
		}
	default:
		add(at+".type", "want %s or %s (or no type, for a built-in provider), got %q", TypeOpenAIVideos, TypeDeclarative, p.Type)
		return false
	}
	switch {
	case p.Type == TypeDeclarative && p.Status == nil:
		add(at+".status", "is required with type %s: describe the status endpoint", TypeDeclarative)
	case p.Type == TypeDeclarative:
		if err := p.Status.Validate(at + ".status"); err != nil {
			addErr(err)
		}
	case p.Status != nil:
		add(at+".status", "applies to type %s only", TypeDeclarative)
	}
	return true
}

// Policy returns the polling policy of a provider: the global one with the
// provider's overrides.
func (c Config) Policy(provider string) Policy {
	return c.Poll.Merge(c.Providers[provider].Poll)
}

// Accounts lists the configured account names of each provider.
func (c Config) Accounts() map[string][]string {
	out := make(map[string][]string, len(c.Providers))
	for name, p := range c.Providers {
		out[name] = sortedKeys(p.Accounts)
	}
	return out
}

// applyEnv overlays GENWATCH_* variables.
func (c *Config) applyEnv(getenv func(string) (string, bool)) error {
	if getenv == nil {
		return nil
	}
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := getenv(name); ok {
			*dst = v
		}
	}
	num := func(name string, dst *int) {
		if v, ok := getenv(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return
			}
			*dst = n
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v, ok := getenv(name); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return
			}
			*dst = d
		}
	}
	str("GENWATCH_REDIS_URL", &c.Redis.URL)
	str("GENWATCH_REDIS_TLS_CA_FILE", &c.Redis.TLSCAFile)
	str("GENWATCH_REDIS_MODE", &c.Redis.Mode)
	num("GENWATCH_REDIS_WAIT_REPLICAS", &c.Redis.WaitReplicas)
	num("GENWATCH_SHARDS", &c.Shards)
	str("GENWATCH_QUEUE", &c.Queue)
	num("GENWATCH_CONCURRENCY", &c.Concurrency)
	str("GENWATCH_HTTP_ADDR", &c.HTTPAddr)
	str("GENWATCH_API_ADDR", &c.APIAddr)
	if v, ok := getenv("GENWATCH_API_TOKENS"); ok {
		c.APITokens = nil
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				c.APITokens = append(c.APITokens, secret.Value(tok))
			}
		}
	}
	if v, ok := getenv("GENWATCH_HOOKS_TOKEN"); ok {
		c.HooksToken = secret.Value(v)
	}
	str("GENWATCH_HTTP_USERNAME", &c.HTTPAuth.Username)
	if v, ok := getenv("GENWATCH_HTTP_PASSWORD"); ok {
		c.HTTPAuth.Password = secret.Value(v)
	}
	dur("GENWATCH_MAX_WAIT", &c.MaxWait)
	dur("GENWATCH_RETENTION", &c.Retention)
	dur("GENWATCH_REQUEST_TIMEOUT", &c.RequestTimeout)
	str("GENWATCH_EVENTS_STREAM", &c.Events.Stream)
	str("GENWATCH_EVENTS_TASK_QUEUE", &c.Events.TaskQueue)
	str("GENWATCH_EVENTS_DELIVERY_QUEUE", &c.Events.DeliveryQueue)
	whURL, hasURL := getenv("GENWATCH_WEBHOOK_URL")
	whSecret, hasSecret := getenv("GENWATCH_WEBHOOK_SECRET")
	if hasURL || hasSecret {
		c.setDefaultWebhook(hasURL, whURL, hasSecret, whSecret)
	}
	str("GENWATCH_LOG_LEVEL", &c.Log.Level)
	str("GENWATCH_LOG_FORMAT", &c.Log.Format)

	names := sortedKeys(c.Providers)
	for _, name := range genwatch.Providers() {
		if _, ok := c.Providers[name]; !ok {
			names = append(names, name)
		}
	}
	for _, name := range names {
		prefix := envPrefix(name)
		p := c.Providers[name]
		str(prefix+"BASE_URL", &p.BaseURL)
		key, hasKey := getenv(APIKeyVar(name))
		file, hasFile := getenv(prefix + "API_KEY_FILE")
		if hasKey || hasFile {
			if p.Accounts == nil {
				p.Accounts = map[string]Account{}
			}
			a := p.Accounts[genwatch.DefaultAccount]
			if hasKey {
				a.APIKey = secret.Value(key)
			}
			if hasFile {
				a.APIKeyFile = file
			}
			p.Accounts[genwatch.DefaultAccount] = a
		}
		c.Providers[name] = p
	}
	return errors.Join(errs...)
}

// setDefaultWebhook applies GENWATCH_WEBHOOK_URL and GENWATCH_WEBHOOK_SECRET
// (space-separated secrets while rotating) to the endpoint named "default",
// adding it if the file has none; an empty URL removes it.
func (c *Config) setDefaultWebhook(hasURL bool, rawURL string, hasSecret bool, secrets string) {
	i := slices.IndexFunc(c.Events.Webhooks, func(w Webhook) bool { return w.Name == DefaultWebhookName })
	if i < 0 {
		if hasURL && rawURL == "" {
			return
		}
		c.Events.Webhooks = append(c.Events.Webhooks, Webhook{Name: DefaultWebhookName})
		i = len(c.Events.Webhooks) - 1
	}
	w := &c.Events.Webhooks[i]
	if hasURL {
		if rawURL == "" {
			c.Events.Webhooks = slices.Delete(c.Events.Webhooks, i, i+1)
			return
		}
		w.URL = rawURL
	}
	if hasSecret {
		w.Secrets = nil
		for _, s := range strings.Fields(secrets) {
			w.Secrets = append(w.Secrets, secret.Value(s))
		}
	}
}

// EventTypes are the event types a webhook endpoint may filter on.
func EventTypes() []string {
	return []string{
		genwatch.StatusCompleted.EventType(), genwatch.StatusFailed.EventType(),
		genwatch.StatusTimedOut.EventType(), genwatch.StatusCanceled.EventType(),
	}
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func envPrefix(provider string) string { return "GENWATCH_" + strings.ToUpper(provider) + "_" }

// APIKeyVar is the environment variable holding the default account's key
// of a provider: GENWATCH_HOOX_API_KEY for hoox.
func APIKeyVar(provider string) string { return envPrefix(provider) + "API_KEY" }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
