package cli_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli"
)

func TestWhereAndNotTrackedNameTheRedisWithoutItsPassword(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc      string
		mode, url string
		want      string
	}{
		{desc: "single, user and password", mode: config.RedisSingle,
			url: "redis://genwatch:hunter2@127.0.0.1:6379/3", want: "redis 127.0.0.1:6379 db 3"},
		{desc: "single, the mode unset", url: "rediss://:hunter2@cache.internal:6380", want: "redis cache.internal:6380 db 0"},
		{desc: "sentinel, password in the query", mode: config.RedisSentinel,
			url:  "redis://:hunter2@s1:26379/2?addr=s2:26379&master_name=mymaster&password=hunter2",
			want: "redis sentinel mymaster via s1:26379,s2:26379 db 2"},
		{desc: "cluster", mode: config.RedisCluster,
			url: "redis://u:hunter2@n1:7001?addr=n2:7002&addr=n3:7003", want: "redis cluster n1:7001,n2:7002,n3:7003"},
		{desc: "unparsable", mode: config.RedisSingle, url: "redis://u:hunter2@[::1", want: "redis (unparsable URL)"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			r := config.Redis{Mode: tt.mode, URL: tt.url}
			require.Equal(t, tt.want, cli.Where(r))

			cfg := config.Default()
			cfg.Redis = r
			got := cli.NotTracked(cfg, "hoox:abc")
			require.Equal(t, "hoox:abc is not tracked on "+tt.want+", queue genwatch (enqueued elsewhere, or ended more than 24h ago?)", got)
			require.NotContains(t, got, "hunter2")
		})
	}
}

func TestNotTrackedNamesTheShardsQueueAndTheRetention(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Queue = "video"
	cfg.Shards = 4
	cfg.Retention = 90 * time.Minute
	taskID := "hooked:vid_abc123"
	queue := genwatch.Shards{N: 4, Queue: "video"}.QueueOf(taskID)
	require.NotEqual(t, "video", queue, "a sharded fleet's queues are named by shard")
	require.Equal(t, "hooked:vid_abc123 is not tracked on redis 127.0.0.1:6379 db 0, queue "+queue+
		" (enqueued elsewhere, or ended more than 1h30m ago?)", cli.NotTracked(cfg, taskID))
}

func TestRedactHidesEveryPassword(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ url, want string }{
		{"redis://genwatch:hunter2@127.0.0.1:6379/3", "redis://genwatch:xxxxx@127.0.0.1:6379/3"},
		{"redis://s1:26379?addr=s2:26379&master_name=m&password=hunter2", "redis://s1:26379?addr=s2%3A26379&master_name=m&password=xxxxx"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://u:hunter2@[::1", "(unparsable URL)"},
	} {
		require.Equal(t, tt.want, cli.Redact(tt.url), tt.url)
	}
}
