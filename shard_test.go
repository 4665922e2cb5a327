package genwatch_test

import (
	"fmt"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
)

func TestShardOf(t *testing.T) {
	t.Parallel()
	// FNV-1a-32("a") = 0xe40c292c and FNV-1a-32("foobar") = 0xbf9cf968,
	// the published test vectors.
	tests := []struct {
		desc   string
		taskID string
		n      int
		want   int
	}{
		{desc: "one shard", taskID: "a", n: 1, want: 0},
		{desc: "zero means one", taskID: "a", n: 0, want: 0},
		{desc: "negative means one", taskID: "foobar", n: -3, want: 0},
		{desc: "a mod 3", taskID: "a", n: 3, want: 0xe40c292c % 3},
		{desc: "a mod 16", taskID: "a", n: 16, want: 0xe40c292c % 16},
		{desc: "foobar mod 3", taskID: "foobar", n: 3, want: 0xbf9cf968 % 3},
		{desc: "foobar mod 7", taskID: "foobar", n: 7, want: 0xbf9cf968 % 7},
		{desc: "empty", taskID: "", n: 5, want: 0x811c9dc5 % 5},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			require.Equal(t, tt.want, genwatch.ShardOf(tt.taskID, tt.n))
		})
	}
}

func TestShardOfSpreadsTaskIDs(t *testing.T) {
	t.Parallel()
	const n, ids = 4, 4000
	counts := make([]int, n)
	for i := range ids {
		counts[genwatch.ShardOf(genwatch.TaskID("hooked", fmt.Sprintf("vid_%d", i)), n)]++
	}
	for k, c := range counts {
		require.InDelta(t, ids/n, c, ids/n/5, "shard %d holds %d of %d", k, c, ids)
	}
}

func TestShardsNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc        string
		shards      genwatch.Shards
		taskID      string
		wantQueues  []string
		wantStreams []string
		wantQueue   string
		wantStream  string
		wantPrefix  string
	}{
		{
			desc:        "zero value is today's names",
			taskID:      "hoox:abc",
			wantQueues:  []string{"genwatch"},
			wantStreams: []string{"genwatch:events"},
			wantQueue:   "genwatch",
			wantStream:  "genwatch:events",
			wantPrefix:  "genwatch:{genwatch:events}:genwatch:",
		},
		{
			desc:        "one configured shard keeps the names",
			shards:      genwatch.Shards{Queue: "gw", Stream: "gw:ev", N: 1},
			taskID:      "a",
			wantQueues:  []string{"gw"},
			wantStreams: []string{"gw:ev"},
			wantQueue:   "gw",
			wantStream:  "gw:ev",
			wantPrefix:  "genwatch:{gw:ev}:gw:",
		},
		{
			desc:        "three shards",
			shards:      genwatch.Shards{N: 3},
			taskID:      "foobar", // shard 0xbf9cf968 % 3 = 1
			wantQueues:  []string{"genwatch-0", "genwatch-1", "genwatch-2"},
			wantStreams: []string{"genwatch:events-0", "genwatch:events-1", "genwatch:events-2"},
			wantQueue:   "genwatch-1",
			wantStream:  "genwatch:events-1",
			wantPrefix:  "genwatch:{genwatch:events-1}:genwatch-1:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := tt.shards
			if diff := cmp.Diff(tt.wantQueues, s.Queues()); diff != "" {
				t.Errorf("Queues (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStreams, s.Streams()); diff != "" {
				t.Errorf("Streams (-want +got):\n%s", diff)
			}
			require.Equal(t, tt.wantQueue, s.QueueOf(tt.taskID))
			require.Equal(t, tt.wantStream, s.StreamOf(tt.taskID))
			require.Equal(t, tt.wantPrefix, s.KeyPrefixOf(tt.taskID))
			require.Equal(t, tt.wantPrefix+"done:"+tt.taskID, s.DoneKey(tt.taskID))
		})
	}
}

func TestClientRoutesToShardQueue(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	aq := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	tests := []struct {
		desc      string
		cfg       genwatch.ClientConfig
		req       genwatch.Request
		wantQueue string
	}{
		{desc: "no shards", req: genwatch.Request{Provider: "hoox", GenerationID: "a"}, wantQueue: "genwatch"},
		{desc: "one shard", cfg: genwatch.ClientConfig{Queue: "q", Shards: 1}, req: genwatch.Request{Provider: "hoox", GenerationID: "b"}, wantQueue: "q"},
		{
			desc:      "four shards",
			cfg:       genwatch.ClientConfig{Queue: "q", Shards: 4},
			req:       genwatch.Request{Provider: "hooked", GenerationID: "vid_1"},
			wantQueue: genwatch.ShardName("q", genwatch.ShardOf("hooked:vid_1", 4), 4),
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			res, err := genwatch.NewClient(aq, tt.cfg).Track(t.Context(), tt.req)
			require.NoError(t, err)
			info, err := inspector.GetTaskInfo(tt.wantQueue, res.TaskID)
			require.NoError(t, err, "task not in queue %s", tt.wantQueue)
			require.Equal(t, tt.wantQueue, info.Queue)
		})
	}
}
