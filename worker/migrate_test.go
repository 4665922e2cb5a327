package worker_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/internal/store"
	"github.com/genwatch/genwatch/worker"
)

// TestStartMovesKeysOfAnEarlierVersion upgrades a fleet in the middle of
// a generation: the state an earlier worker kept under the queue's old
// key prefix is moved at start, so the generation's polls go on from
// where they were instead of starting over.
func TestStartMovesKeysOfAnEarlierVersion(t *testing.T) {
	t.Parallel()
	e := setupE2E(t)
	ctx := context.Background()
	e.Sim.Create(genwatch.ProviderHooked, "upgraded-1", simulator.Plan{RunFor: time.Second})
	const earlierPolls = 5
	first := time.Now().Add(-time.Minute).UnixMilli()
	legacy := store.LegacyPrefix(e.Config.Queue) + "gen:" + genwatch.TaskID(genwatch.ProviderHooked, "upgraded-1")
	require.NoError(t, e.Redis.Client.Set(ctx, legacy,
		`{"p":`+strconv.Itoa(earlierPolls)+`,"f":`+strconv.FormatInt(first, 10)+`}`, time.Hour).Err())

	e.track(t, genwatch.Request{Provider: genwatch.ProviderHooked, GenerationID: "upgraded-1"})
	e.start(t, worker.Options{})

	ev := e.waitEvents(t, 1)[0]
	require.Equal(t, genwatch.StatusCompleted, ev.Status)
	require.Greater(t, ev.Polls, earlierPolls, "the polls of the earlier version count")
	require.Zero(t, e.Redis.Client.Exists(ctx, legacy).Val(), "the old key is gone")
}
