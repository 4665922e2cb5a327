package worker_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/secret"
	"github.com/genwatch/genwatch/worker"
)

// TestSecretsLeakNowhere runs the whole system with sentinel credentials
// and looks for them everywhere a person or another program could see
// them: every log line (at debug level), every Redis key and value, the
// events, the webhook deliveries, the metrics and the dashboard's API.
func TestSecretsLeakNowhere(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	sentinels := map[string]string{}
	for _, p := range genwatch.Providers() {
		key := "SENTINEL-" + strings.ToUpper(p) + "-KEY-7f3a9c"
		sentinels[p] = key
		pc := e.Config.Providers[p]
		pc.Accounts = map[string]config.Account{"default": {APIKey: secret.Value(key)}}
		e.Config.Providers[p] = pc
	}
	// The simulator accepts the hoox and hooked keys; token360 refuses its
	// key, so refusals are logged and end up in an event too.
	e.Sim = simulator.New(simulator.Config{Keys: map[string]string{
		genwatch.ProviderHoox:     sentinels[genwatch.ProviderHoox],
		genwatch.ProviderHooked:   sentinels[genwatch.ProviderHooked],
		genwatch.ProviderToken360: "another-key",
	}})
	hs := httptest.NewServer(e.Sim)
	t.Cleanup(hs.Close)
	for _, p := range genwatch.Providers() {
		pc := e.Config.Providers[p]
		pc.BaseURL = hs.URL
		pc.Poll.UnauthorizedBackoff = time.Second
		e.Config.Providers[p] = pc
	}
	webhookSecretRaw := "SENTINEL-WEBHOOK-SECRET-5d1e"
	webhookSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte(webhookSecretRaw))
	sentinels["webhook"] = webhookSecret
	sentinels["webhook-raw"] = webhookSecretRaw
	e.Config.HTTPAuth.Username = "ops"
	e.Config.HTTPAuth.Password = "SENTINEL-HTTP-PASSWORD-88aa"
	sentinels["http"] = e.Config.HTTPAuth.Password.Reveal()

	var hooks struct {
		sync.Mutex
		seen []string
	}
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hooks.Lock()
		hooks.seen = append(hooks.seen, fmt.Sprint(r.Header), string(body))
		hooks.Unlock()
	}))
	t.Cleanup(webhook.Close)
	e.Config.Events.Webhooks = []config.Webhook{{Name: "default", URL: webhook.URL, Secrets: []secret.Value{secret.Value(webhookSecret)}, Timeout: 5 * time.Second}}
	e.Config.Events.TaskQueue = e.Config.Queue + ":downstream"

	e.Sim.Create(genwatch.ProviderHoox, "s1", simulator.Plan{RunFor: time.Second})
	e.Sim.Create(genwatch.ProviderHooked, "s2", simulator.Plan{RunFor: time.Second, Outcome: simulator.Fail})
	e.Sim.Create(genwatch.ProviderToken360, "s3", simulator.Plan{})
	core, logs := observer.New(zapcore.DebugLevel)
	w := e.start(t, worker.Options{Logger: zap.New(core)})

	e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "s1"})
	e.track(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "s2"})
	e.track(t, genwatch.Request{Provider: genwatch.ProviderToken360, GenerationID: "s3", MaxWaitSeconds: 3})
	e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "unknown-s4"})
	events := e.waitEvents(t, 4)
	require.Eventually(t, func() bool {
		hooks.Lock()
		defer hooks.Unlock()
		return len(hooks.seen) == 8
	}, waitFor, 20*time.Millisecond, "every event reaches the webhook")

	var seen strings.Builder
	look := func(where string, text string) {
		for name, s := range sentinels {
			if strings.Contains(text, s) {
				t.Errorf("the %s secret appears in %s: %.300s", name, where, text)
			}
		}
		seen.WriteString(text)
	}

	for _, ev := range events {
		look("event "+ev.ID, fmt.Sprintf("%+v %s %s", ev, ev.Raw, ev.Metadata))
	}
	for _, entry := range logs.All() {
		look("log line "+entry.Message, fmt.Sprintf("%s %v", entry.Message, entry.ContextMap()))
	}
	require.NotZero(t, logs.FilterMessage("provider refuses the credentials; check the account's API key").Len())
	hooks.Lock()
	for _, h := range hooks.seen {
		look("webhook delivery", h)
	}
	hooks.Unlock()
	dumpRedis(t, e.Redis.Client, look)

	base := "http://" + w.Addr().String()
	for _, path := range []string{
		"/metrics",
		"/monitoring/api/queues",
		"/monitoring/api/queues/" + e.Config.Queue + "/completed_tasks",
		"/monitoring/api/queues/" + e.Config.Queue + "/retry_tasks",
		"/monitoring/api/queues/" + e.Config.Queue + "/archived_tasks",
		"/monitoring/api/queues/" + e.Config.Queue + ":downstream/pending_tasks",
		"/monitoring/api/servers",
		"/monitoring/api/redis_info",
	} {
		code, body := get(t, base+path, "ops", sentinels["http"])
		require.Equal(t, http.StatusOK, code, path)
		look(path, body)
	}
	// The search must have looked at something.
	require.Contains(t, seen.String(), "s1")
	require.Contains(t, seen.String(), "unauthorized")
}

// dumpRedis hands every key of the database and its value to look.
func dumpRedis(t *testing.T, rdb *redis.Client, look func(where, text string)) {
	t.Helper()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	n := 0
	for iter.Next(ctx) {
		key := iter.Val()
		n++
		var value any
		var err error
		switch typ := rdb.Type(ctx, key).Val(); typ {
		case "string":
			value, err = rdb.Get(ctx, key).Result()
		case "hash":
			value, err = rdb.HGetAll(ctx, key).Result()
		case "list":
			value, err = rdb.LRange(ctx, key, 0, -1).Result()
		case "set":
			value, err = rdb.SMembers(ctx, key).Result()
		case "zset":
			value, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "stream":
			value, err = rdb.XRange(ctx, key, "-", "+").Result()
		case "none":
			continue // expired meanwhile
		default:
			t.Fatalf("key %s has unexpected type %s", key, typ)
		}
		if err != nil && err != redis.Nil {
			require.NoError(t, err, key)
		}
		look("redis key "+key, fmt.Sprintf("%s %v", key, value))
	}
	require.NoError(t, iter.Err())
	require.Greater(t, n, 5)
}
