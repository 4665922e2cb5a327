package streamgroup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/runtest"
	"github.com/genwatch/genwatch/internal/streamgroup"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

const waitFor = 30 * time.Second

// seen records what a handler was given, by entry value.
type seen struct {
	mu  sync.Mutex
	got map[string]int
}

func (s *seen) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[string]int{}
	}
	s.got[v]++
}

func (s *seen) count(v string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[v]
}

func (s *seen) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

type bundle struct {
	rdb    redis.UniversalClient
	stream string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	srv := redistest.New(t)
	return &bundle{rdb: srv.Client, stream: redistest.Name(t, "stream")}
}

func (b *bundle) add(t *testing.T, v string) {
	t.Helper()
	require.NoError(t, b.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: b.stream, Values: []string{"v", v}}).Err())
}

// run runs a reader until the returned stop is called (or the test ends).
func (b *bundle) run(t *testing.T, cfg streamgroup.Config, h streamgroup.Handler) (stop func()) {
	t.Helper()
	cfg.Stream = b.stream
	return runtest.Start(t, func(ctx context.Context) error { return streamgroup.Run(ctx, b.rdb, cfg, h) })
}

func (b *bundle) pending(t *testing.T, group string) int64 {
	t.Helper()
	p, err := b.rdb.XPending(context.Background(), b.stream, group).Result()
	require.NoError(t, err)
	return p.Count
}

func TestEveryGroupGetsEveryEntryAndConsumersShareOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, streamgroup.Create(context.Background(), b.rdb, b.stream, "a", ""))
	require.NoError(t, streamgroup.Create(context.Background(), b.rdb, b.stream, "b", ""))
	var a, bb seen
	var perConsumer [2]seen
	for i := range 2 {
		b.run(t, streamgroup.Config{Group: "a", Consumer: fmt.Sprint("a", i)}, func(_ context.Context, m redis.XMessage) error {
			a.add(m.Values["v"].(string))
			perConsumer[i].add(m.Values["v"].(string))
			return nil
		})
	}
	b.run(t, streamgroup.Config{Group: "b", Consumer: "b0"}, func(_ context.Context, m redis.XMessage) error {
		bb.add(m.Values["v"].(string))
		return nil
	})
	for i := range 50 {
		b.add(t, fmt.Sprint(i))
	}
	require.Eventually(t, func() bool { return a.len() == 50 && bb.len() == 50 }, waitFor, 10*time.Millisecond)
	require.Eventually(t, func() bool { return b.pending(t, "a") == 0 && b.pending(t, "b") == 0 }, waitFor, 10*time.Millisecond,
		"every entry is acknowledged")
	for i := range 50 {
		v := fmt.Sprint(i)
		require.Equal(t, 1, a.count(v), "group a handles %s once", v)
		require.Equal(t, 1, perConsumer[0].count(v)+perConsumer[1].count(v))
		require.Equal(t, 1, bb.count(v))
	}
}

func TestAFailedEntryIsHandledAgainAfterClaimIdle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, streamgroup.Create(context.Background(), b.rdb, b.stream, "g", ""))
	var calls seen
	b.run(t, streamgroup.Config{Group: "g", Consumer: "c", ClaimIdle: 100 * time.Millisecond},
		func(_ context.Context, m redis.XMessage) error {
			v := m.Values["v"].(string)
			calls.add(v)
			if v == "flaky" && calls.count(v) < 3 {
				return errors.New("down")
			}
			return nil
		})
	b.add(t, "flaky")
	b.add(t, "fine")
	require.Eventually(t, func() bool { return calls.count("flaky") == 3 && b.pending(t, "g") == 0 }, waitFor, 10*time.Millisecond)
	require.Equal(t, 1, calls.count("fine"))
}

func TestEntriesOfADeadConsumerAreTakenOver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.NoError(t, streamgroup.Create(ctx, b.rdb, b.stream, "g", ""))
	b.add(t, "x")
	b.add(t, "y")
	// A consumer reads both entries and dies before acknowledging them.
	res, err := b.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "dead", Streams: []string{b.stream, ">"}, Count: 10}).Result()
	require.NoError(t, err)
	require.Len(t, res[0].Messages, 2)

	var got seen
	b.run(t, streamgroup.Config{Group: "g", Consumer: "alive", ClaimIdle: 200 * time.Millisecond, ForgetIdle: 300 * time.Millisecond},
		func(_ context.Context, m redis.XMessage) error {
			got.add(m.Values["v"].(string))
			return nil
		})
	require.Eventually(t, func() bool { return got.count("x") == 1 && got.count("y") == 1 && b.pending(t, "g") == 0 }, waitFor, 10*time.Millisecond)

	// Once it has nothing pending and has been idle long enough, the dead
	// consumer's name is removed from the group; the live one stays.
	// (miniredis reports no idle times, so this part needs a real server.)
	if !redistest.Real() {
		return
	}
	require.Eventually(t, func() bool {
		consumers, err := b.rdb.XInfoConsumers(ctx, b.stream, "g").Result()
		return err == nil && len(consumers) == 1 && consumers[0].Name == "alive"
	}, waitFor, 20*time.Millisecond)
}

func TestANewGroupStartsAtTheEndAndARecreatedStreamIsFollowed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, "before")
	var got seen
	ready := make(chan struct{})
	var once sync.Once
	b.run(t, streamgroup.Config{Group: "g", Consumer: "c", Block: 50 * time.Millisecond, ClaimIdle: 100 * time.Millisecond},
		func(_ context.Context, m redis.XMessage) error {
			got.add(m.Values["v"].(string))
			once.Do(func() { close(ready) })
			return nil
		})
	require.Eventually(t, func() bool {
		groups, err := b.rdb.XInfoGroups(context.Background(), b.stream).Result()
		return err == nil && len(groups) == 1
	}, waitFor, 10*time.Millisecond)
	b.add(t, "after")
	<-ready
	require.Zero(t, got.count("before"), "a new group begins after the entries that were there")

	// The stream is deleted (and with it the group): the reader creates the
	// group again and goes on.
	require.NoError(t, b.rdb.Del(context.Background(), b.stream).Err())
	require.Eventually(t, func() bool {
		b.add(t, "again")
		return got.count("again") > 0
	}, waitFor, 100*time.Millisecond)
}

func TestRunNeedsItsNames(t *testing.T) {
	t.Parallel()
	err := streamgroup.Run(context.Background(), nil, streamgroup.Config{}, nil)
	require.ErrorContains(t, err, "Stream is required")
	require.ErrorContains(t, err, "Group is required")
	require.ErrorContains(t, err, "Consumer is required")
}
