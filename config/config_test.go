package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/secret"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "genwatch.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func TestExampleFileMatchesDefaults(t *testing.T) {
	t.Parallel()
	got, err := config.Load("genwatch.example.yaml", nil)
	require.NoError(t, err)
	want, err := config.Load("", nil)
	require.NoError(t, err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("example file differs from defaults (-defaults +example):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", nil)
	require.NoError(t, err)
	require.Equal(t, "redis://127.0.0.1:6379/0", c.Redis.URL)
	require.Equal(t, "genwatch", c.Queue)
	require.Equal(t, "genwatch:events", c.Events.Stream)
	require.Equal(t, 30*time.Minute, c.MaxWait)
	require.Equal(t, 24*time.Hour, c.Retention)
	require.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	require.Equal(t, "https://app.hoox.video", c.Providers["hoox"].BaseURL)
	require.Equal(t, "https://api.hooked.ai", c.Providers["hooked"].BaseURL)
	require.Equal(t, "https://api.token360.ai", c.Providers["token360"].BaseURL)
	require.Equal(t, 2*time.Second, c.Poll.Initial)
	require.Equal(t, 2*time.Minute, c.Poll.NotFoundGrace)
}

func TestEnvironmentWinsOverFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
redis:
  url: redis://file:6379/1
concurrency: 5
http_addr: 0.0.0.0:9000
providers:
  hooked:
    base_url: http://file.example
    poll:
      max: 1m
    accounts:
      default:
        api_key: file-key
      team-b:
        api_key: team-b-key
`)
	c, err := config.Load(path, env(map[string]string{
		"GENWATCH_REDIS_URL":       "rediss://user:pw@env:6380/2",
		"GENWATCH_CONCURRENCY":     "7",
		"GENWATCH_HTTP_ADDR":       "127.0.0.1:9100",
		"GENWATCH_HOOKED_API_KEY":  "env-key",
		"GENWATCH_HOOKED_BASE_URL": "http://127.0.0.1:8089",
		"GENWATCH_HOOX_API_KEY":    "hoox-key",
	}))
	require.NoError(t, err)
	require.Equal(t, "rediss://user:pw@env:6380/2", c.Redis.URL)
	require.Equal(t, 7, c.Concurrency)
	require.Equal(t, "127.0.0.1:9100", c.HTTPAddr)
	hooked := c.Providers["hooked"]
	require.Equal(t, "http://127.0.0.1:8089", hooked.BaseURL)
	require.Equal(t, secret.Value("env-key"), hooked.Accounts["default"].APIKey)
	require.Equal(t, secret.Value("team-b-key"), hooked.Accounts["team-b"].APIKey)
	require.Equal(t, time.Minute, hooked.Poll.Max)
	require.Equal(t, secret.Value("hoox-key"), c.Providers["hoox"].Accounts["default"].APIKey)
	require.Equal(t, "https://api.token360.ai", c.Providers["token360"].BaseURL, "unset provider keeps its default")
	require.Equal(t, map[string][]string{"hoox": {"default"}, "hooked": {"default", "team-b"}, "token360": {}}, only(c.Accounts(), "hooked", "hoox", "token360"))
}

func TestAPIConfig(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", nil)
	require.NoError(t, err)
	require.False(t, c.APIEnabled(), "off by default")
	require.Nil(t, c.APITokens)
	require.Empty(t, c.HooksToken)

	path := writeFile(t, "api_addr: 0.0.0.0:9000\napi_tokens: [from-file-0123456789]\nhooks_token: hooks-from-file-0123\n")
	c, err = config.Load(path, nil)
	require.NoError(t, err)
	require.True(t, c.APIEnabled())
	require.Equal(t, []secret.Value{"from-file-0123456789"}, c.APITokens)
	require.Equal(t, secret.Value("hooks-from-file-0123"), c.HooksToken)

	c, err = config.Load(path, env(map[string]string{
		"GENWATCH_API_ADDR":    "off",
		"GENWATCH_API_TOKENS":  " token-a-0123456789 ,, token-b-0123456789",
		"GENWATCH_HOOKS_TOKEN": "",
	}))
	require.NoError(t, err)
	require.False(t, c.APIEnabled())
	require.Equal(t, []secret.Value{"token-a-0123456789", "token-b-0123456789"}, c.APITokens)
	require.Empty(t, c.HooksToken, "the environment wins, even empty")
}

func TestAcceptedAccounts(t *testing.T) {
	t.Parallel()
	c, err := config.Load("", env(map[string]string{"GENWATCH_HOOX_API_KEY": "k"}))
	require.NoError(t, err)
	c.Providers["hoox"].Accounts["team-b"] = config.Account{APIKey: "k2"}
	require.Equal(t, map[string][]string{
		"hoox": {"default", "team-b"}, "hooked": {"default"}, "token360": {"default"},
	}, only(c.AcceptedAccounts(), "hooked", "hoox", "token360"))
}

func TestAPIKeyFile(t *testing.T) {
	t.Parallel()
	keyPath := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyPath, []byte("from-file\n"), 0o600))
	c, err := config.Load("", env(map[string]string{"GENWATCH_TOKEN360_API_KEY_FILE": keyPath}))
	require.NoError(t, err)
	require.Equal(t, secret.Value("from-file"), c.Providers["token360"].Accounts["default"].APIKey)

	_, err = config.Load("", env(map[string]string{"GENWATCH_TOKEN360_API_KEY_FILE": keyPath + ".missing"}))
	require.ErrorContains(t, err, "providers.token360.accounts.default.api_key_file")
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		yaml  string
		env   map[string]string
		wants []string
	}{
		{desc: "unknown key", yaml: "queu: x\n", wants: []string{"field queu not found"}},
		{desc: "bad duration", yaml: "max_wait: soon\n", wants: []string{"line 1: cannot unmarshal !!str `soon` into time.Duration"}},
		{desc: "not yaml", yaml: "[[[\n", wants: []string{"yaml"}},
		{desc: "unknown provider", yaml: "providers:\n  acme: {}\n", wants: []string{"providers.acme: unknown provider"}},
		{
			desc:  "every problem at once",
			yaml:  "queue: \"\"\nconcurrency: 0\nlog:\n  level: loud\n",
			env:   map[string]string{"GENWATCH_REDIS_URL": "http://x"},
			wants: []string{"queue: must not be empty", "concurrency: must be at least 1", "log.level", "redis.url"},
		},
		{desc: "unknown redis mode", env: map[string]string{"GENWATCH_REDIS_MODE": "ring"}, wants: []string{`redis.mode: want single, sentinel or cluster, got "ring"`}},
		{desc: "sentinel without primary name", env: map[string]string{"GENWATCH_REDIS_MODE": "sentinel", "GENWATCH_REDIS_URL": "redis://s1:26379?addr=s2:26379"}, wants: []string{"redis.url: sentinel mode needs master_name"}},
		{desc: "sentinel with a bad address", env: map[string]string{"GENWATCH_REDIS_MODE": "sentinel", "GENWATCH_REDIS_URL": "redis://s1:26379?addr=s2&master_name=m"}, wants: []string{"redis.url: redis: unable to parse addr param: s2"}},
		{desc: "single with sentinel options", env: map[string]string{"GENWATCH_REDIS_URL": "redis://s1:26379?master_name=m"}, wants: []string{"redis.url: redis: unexpected option: master_name"}},
		{desc: "cluster with an unknown option", env: map[string]string{"GENWATCH_REDIS_MODE": "cluster", "GENWATCH_REDIS_URL": "redis://n1:7001?addr=n2:7002&master_name=m"}, wants: []string{"redis.url: redis: unexpected option: master_name"}},
		{desc: "cluster with a database", env: map[string]string{"GENWATCH_REDIS_MODE": "cluster", "GENWATCH_REDIS_URL": "redis://n1:7001/3"}, wants: []string{"redis.url"}},
		{desc: "password never in the error", env: map[string]string{"GENWATCH_REDIS_MODE": "cluster", "GENWATCH_REDIS_URL": "redis://:hunter2@n1:7001?addr=n2"}, wants: []string{"redis.url: redis: unable to parse addr param"}},
		{desc: "zero shards", yaml: "shards: 0\n", wants: []string{"shards: must be at least 1, got 0"}},
		{desc: "bad shards variable", env: map[string]string{"GENWATCH_SHARDS": "three"}, wants: []string{"GENWATCH_SHARDS"}},
		{desc: "bad base url", env: map[string]string{"GENWATCH_HOOX_BASE_URL": "app.hoox.video"}, wants: []string{"providers.hoox.base_url"}},
		{desc: "bad concurrency variable", env: map[string]string{"GENWATCH_CONCURRENCY": "many"}, wants: []string{"GENWATCH_CONCURRENCY"}},
		{desc: "empty key", yaml: "providers:\n  hoox:\n    accounts:\n      default: {}\n", wants: []string{"providers.hoox.accounts.default.api_key: is empty"}},
		{desc: "short api token", env: map[string]string{"GENWATCH_API_TOKENS": "0123456789abcdef0123,short"}, wants: []string{"api_tokens[1]: is 5 characters long, at least 16 required"}},
		{desc: "api token with a space", yaml: "api_tokens: ['0123456789abcdef 0123']\n", wants: []string{"api_tokens[0]: may hold only letters"}},
		{desc: "hooks token with a slash", env: map[string]string{"GENWATCH_HOOKS_TOKEN": "0123456789/abcdef"}, wants: []string{"hooks_token: may hold only letters"}},
		{desc: "webhook without secret", env: map[string]string{"GENWATCH_WEBHOOK_URL": "https://example.com/hook"}, wants: []string{"events.webhooks[0].secrets: at least one"}},
		{
			desc: "bad webhooks",
			yaml: "events:\n  webhooks:\n    - {name: a, url: 'https://a.example', secrets: ['not base64!'], events: [generation.done]}\n    - {name: a, url: ftp://b}\n    - {name: 'b c', url: 'https://c.example', secrets: [" + testWebhookSecret + "]}\n",
			wants: []string{
				`events.webhooks[0].secrets[0]: want "whsec_"`, `events.webhooks[0].events: unknown event type "generation.done"`,
				`events.webhooks[1].name: "a" is used twice`, "events.webhooks[1].url", "events.webhooks[1].secrets: at least one",
				`events.webhooks[2].name: want letters`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.yaml != "" {
				path = writeFile(t, tt.yaml)
			}
			_, err := config.Load(path, env(tt.env))
			require.Error(t, err)
			for _, w := range tt.wants {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const key = "sk-sentinel-0123456789"
	const webhookKey = "whsec_c2stc2VudGluZWwtMDEyMzQ1Njc4OQ=="
	c, err := config.Load("", env(map[string]string{
		"GENWATCH_HOOX_API_KEY": key, "GENWATCH_WEBHOOK_URL": "http://x", "GENWATCH_WEBHOOK_SECRET": webhookKey,
		"GENWATCH_API_TOKENS": key, "GENWATCH_HOOKS_TOKEN": key,
	}))
	require.NoError(t, err)

	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("config", zap.Any("config", c), zap.Stringer("key", c.Providers["hoox"].Accounts["default"].APIKey))
	var out strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&out, "%v", e.ContextMap())
	}
	fmt.Fprintf(&out, "%v %+v %#v %s", c, c, c, c.Providers["hoox"].Accounts["default"].APIKey)
	require.NotContains(t, out.String(), key)
	require.NotContains(t, out.String(), webhookKey)
	require.Contains(t, out.String(), "<secret>")
	require.Equal(t, key, c.Providers["hoox"].Accounts["default"].APIKey.Reveal())
}

func TestRedisModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		env      map[string]string
		wantType string
		check    func(t *testing.T, r config.Redis)
	}{
		{
			desc:     "single by default",
			env:      map[string]string{"GENWATCH_REDIS_URL": "redis://:pw@10.0.0.1:6380/2"},
			wantType: "*redis.Client",
			check: func(t *testing.T, r config.Redis) {
				opt, err := r.Options()
				require.NoError(t, err)
				require.Equal(t, "10.0.0.1:6380", opt.Addr)
				require.Equal(t, 2, opt.DB)
				require.Equal(t, "pw", opt.Password)
			},
		},
		{
			desc: "sentinel",
			env: map[string]string{
				"GENWATCH_REDIS_MODE": "sentinel",
				"GENWATCH_REDIS_URL":  "redis://s1:26379?addr=s2:26379&addr=s3:26380&master_name=mymaster&password=pw",
			},
			wantType: "*redis.Client",
			check: func(t *testing.T, r config.Redis) {
				opt, err := r.FailoverOptions()
				require.NoError(t, err)
				require.Equal(t, "mymaster", opt.MasterName)
				require.Equal(t, []string{"s1:26379", "s2:26379", "s3:26380"}, opt.SentinelAddrs)
				require.Equal(t, "pw", opt.Password)
			},
		},
		{
			desc:     "cluster",
			env:      map[string]string{"GENWATCH_REDIS_MODE": "cluster", "GENWATCH_REDIS_URL": "rediss://n1:7001?addr=n2:7002&addr=n3:7003"},
			wantType: "*redis.ClusterClient",
			check: func(t *testing.T, r config.Redis) {
				opt, err := r.ClusterOptions()
				require.NoError(t, err)
				require.Equal(t, []string{"n1:7001", "n2:7002", "n3:7003"}, opt.Addrs)
				require.NotNil(t, opt.TLSConfig)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load("", env(tt.env))
			require.NoError(t, err)
			tt.check(t, c.Redis)
			rdb, err := c.Redis.NewClient()
			require.NoError(t, err)
			t.Cleanup(func() { _ = rdb.Close() })
			require.Equal(t, tt.wantType, fmt.Sprintf("%T", rdb))
		})
	}
}

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	const other = "whsec_c2Vjb25kLXNlY3JldC1mb3ItdGVzdHM="
	path := writeFile(t, `
events:
  webhooks:
    - name: orders
      url: https://orders.example/hook
      secrets: [`+testWebhookSecret+`, `+other+`]
      events: [generation.completed, generation.failed]
    - name: default
      url: https://old.example/hook
      secrets: [`+other+`]
      timeout: 3s
`)
	tests := []struct {
		desc string
		env  map[string]string
		want []config.Webhook
	}{
		{desc: "file only", want: []config.Webhook{
			{Name: "orders", URL: "https://orders.example/hook", Secrets: []secret.Value{testWebhookSecret, other},
				Events: []string{"generation.completed", "generation.failed"}, Timeout: 10 * time.Second},
			{Name: "default", URL: "https://old.example/hook", Secrets: []secret.Value{other}, Timeout: 3 * time.Second},
		}},
		{desc: "the shorthand sets the default endpoint, secrets space-separated", env: map[string]string{
			"GENWATCH_WEBHOOK_URL": "https://new.example/hook", "GENWATCH_WEBHOOK_SECRET": other + " " + testWebhookSecret,
		}, want: []config.Webhook{
			{Name: "orders", URL: "https://orders.example/hook", Secrets: []secret.Value{testWebhookSecret, other},
				Events: []string{"generation.completed", "generation.failed"}, Timeout: 10 * time.Second},
			{Name: "default", URL: "https://new.example/hook", Secrets: []secret.Value{other, testWebhookSecret}, Timeout: 3 * time.Second},
		}},
		{desc: "an empty URL removes it", env: map[string]string{"GENWATCH_WEBHOOK_URL": ""}, want: []config.Webhook{
			{Name: "orders", URL: "https://orders.example/hook", Secrets: []secret.Value{testWebhookSecret, other},
				Events: []string{"generation.completed", "generation.failed"}, Timeout: 10 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(path, env(tt.env))
			require.NoError(t, err)
			require.Equal(t, tt.want, c.Events.Webhooks)
		})
	}

	c, err := config.Load("", env(map[string]string{"GENWATCH_WEBHOOK_URL": "https://a.example/h", "GENWATCH_WEBHOOK_SECRET": testWebhookSecret}))
	require.NoError(t, err)
	require.Equal(t, []config.Webhook{{Name: "default", URL: "https://a.example/h", Secrets: []secret.Value{testWebhookSecret}, Timeout: 10 * time.Second}},
		c.Events.Webhooks, "the shorthand alone adds the default endpoint")
}

func TestSharding(t *testing.T) {
	t.Parallel()
	c, err := config.Load(writeFile(t, "shards: 2\nqueue: q\nevents:\n  stream: s\n"), env(map[string]string{"GENWATCH_SHARDS": "3"}))
	require.NoError(t, err)
	sh := c.Sharding()
	require.Equal(t, []string{"q-0", "q-1", "q-2"}, sh.Queues())
	require.Equal(t, []string{"s-0", "s-1", "s-2"}, sh.Streams())

	c, err = config.Load("", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"genwatch"}, c.Sharding().Queues())
	require.Equal(t, []string{"genwatch:events"}, c.Sharding().Streams())
}

// only returns the entries of m under keys, so that a test about some
// providers does not change when a built-in provider is added.
func only(m map[string][]string, keys ...string) map[string][]string {
	out := make(map[string][]string, len(keys))
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}
