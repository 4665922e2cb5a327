package genwatch_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/genwatch/genwatch/internal/runtest"
	"github.com/genwatch/genwatch/internal/sink"
)

// handled records the events a handler was given, by generation ID and by
// consumer.
type handled struct {
	mu         sync.Mutex
	count      map[string]int
	byConsumer map[string]int
}

func (h *handled) add(consumer string, ev genwatch.Event) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count == nil {
		h.count, h.byConsumer = map[string]int{}, map[string]int{}
	}
	h.count[ev.GenerationID]++
	h.byConsumer[consumer]++
	return h.count[ev.GenerationID]
}

func (h *handled) of(generationID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count[generationID]
}

func (h *handled) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.count)
}

func (h *handled) by(consumer string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byConsumer[consumer]
}

// consume runs Consume until the returned stop is called (or the test
// ends), and checks that it then returns nil.
func (b *eventBundle) consume(t *testing.T, cfg genwatch.ConsumerConfig, h genwatch.EventHandlerFunc) (stop func()) {
	t.Helper()
	cfg.Shards = b.shards
	if cfg.Start == "" {
		cfg.Start = "0"
	}
	return runtest.Start(t, func(ctx context.Context) error { return genwatch.Consume(ctx, b.rdb, cfg, h) })
}

// pending counts the group's unacknowledged entries over every stream.
func (b *eventBundle) pending(t *testing.T, group string) int64 {
	t.Helper()
	var n int64
	for _, s := range b.shards.Streams() {
		p, err := b.rdb.XPending(context.Background(), s, group).Result()
		if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
			continue // not read yet
		}
		require.NoError(t, err)
		n += p.Count
	}
	return n
}

func TestConsumersOfOneGroupShareTheEvents(t *testing.T) {
	t.Parallel()
	b := setupEvents(t, 1)
	var got handled
	// a takes one event at a time and holds its first until b has handled
	// one: the events are shared, not all read by whoever came first.
	first := make(chan struct{})
	var once sync.Once
	b.consume(t, genwatch.ConsumerConfig{Group: "billing", Consumer: "a", Count: 1},
		func(ctx context.Context, ev genwatch.Event) error {
			got.add("a", ev)
			once.Do(func() {
				select {
				case <-first:
				case <-ctx.Done():
				}
			})
			return nil
		})
	var closeFirst sync.Once
	b.consume(t, genwatch.ConsumerConfig{Group: "billing", Consumer: "b", Count: 1},
		func(_ context.Context, ev genwatch.Event) error {
			got.add("b", ev)
			closeFirst.Do(func() { close(first) })
			return nil
		})
	for i := range 30 {
		b.emit(t, newEvent("hooked", fmt.Sprint("vid_", i), genwatch.StatusCompleted))
	}
	require.Eventually(t, func() bool { return got.distinct() == 30 && b.pending(t, "billing") == 0 }, waitFor, 10*time.Millisecond)
	for i := range 30 {
		require.Equal(t, 1, got.of(fmt.Sprint("vid_", i)), "each event is handled once in the group")
	}
	require.Positive(t, got.by("a"))
	require.Positive(t, got.by("b"))
}

func TestEventsOfAConsumerThatStoppedAreTakenOver(t *testing.T) {
	t.Parallel()
	b := setupEvents(t, 2)
	// The first consumer reads the events and stops before its handler
	// returns: nothing is acknowledged.
	reading := make(chan struct{}, 1)
	stopDead := b.consume(t, genwatch.ConsumerConfig{Group: "g", Consumer: "dead"},
		func(ctx context.Context, _ genwatch.Event) error {
			select {
			case reading <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		})
	for i := range 6 {
		b.emit(t, newEvent("hoox", fmt.Sprint("gen_", i), genwatch.StatusFailed))
	}
	<-reading
	stopDead()
	require.Positive(t, b.pending(t, "g"))

	var got handled
	b.consume(t, genwatch.ConsumerConfig{Group: "g", Consumer: "alive", ClaimIdle: 200 * time.Millisecond},
		func(_ context.Context, ev genwatch.Event) error {
			got.add("alive", ev)
			return nil
		})
	require.Eventually(t, func() bool { return got.distinct() == 6 && b.pending(t, "g") == 0 }, waitFor, 10*time.Millisecond)
}

func TestConsumeReadsEveryShard(t *testing.T) {
	t.Parallel()
	const n = 3
	b := setupEvents(t, n)
	var got handled
	b.consume(t, genwatch.ConsumerConfig{Group: "g"}, func(_ context.Context, ev genwatch.Event) error {
		got.add("only", ev)
		return nil
	})
	shards := map[int]bool{}
	for i := 0; len(shards) < n || i < 12; i++ {
		id := fmt.Sprint("video_", i)
		shards[b.shards.Of(genwatch.TaskID("token360", id))] = true
		b.emit(t, newEvent("token360", id, genwatch.StatusCompleted))
	}
	want := 0
	for _, s := range b.shards.Streams() {
		l, err := b.rdb.XLen(context.Background(), s).Result()
		require.NoError(t, err)
		require.Positive(t, l, "every shard has events")
		want += int(l)
	}
	require.Eventually(t, func() bool { return got.distinct() == want && b.pending(t, "g") == 0 }, waitFor, 10*time.Millisecond)
}

func TestAFailedHandlerGetsTheEventAgain(t *testing.T) {
	t.Parallel()
	b := setupEvents(t, 1)
	var got handled
	b.consume(t, genwatch.ConsumerConfig{Group: "g", ClaimIdle: 100 * time.Millisecond},
		func(_ context.Context, ev genwatch.Event) error {
			if n := got.add("c", ev); ev.GenerationID == "flaky" && n < 3 {
				return errors.New("billing is down")
			}
			return nil
		})
	b.emit(t, newEvent("hooked", "flaky", genwatch.StatusCompleted))
	b.emit(t, newEvent("hooked", "fine", genwatch.StatusCompleted))
	require.Eventually(t, func() bool { return got.of("flaky") == 3 && b.pending(t, "g") == 0 }, waitFor, 10*time.Millisecond)
	require.Equal(t, 1, got.of("fine"))
}

func TestAnEntryThatIsNotAnEventIsLoggedAndAcknowledged(t *testing.T) {
	t.Parallel()
	b := setupEvents(t, 1)
	core, logs := observer.New(zapcore.ErrorLevel)
	stream := b.shards.StreamName(0)
	b.add(t, stream, "{not json")
	require.NoError(t, b.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []string{"other", "x"}}).Err())
	b.emit(t, newEvent("hooked", "after", genwatch.StatusCompleted))

	var got handled
	b.consume(t, genwatch.ConsumerConfig{Group: "g", Logger: zap.New(core)}, func(_ context.Context, ev genwatch.Event) error {
		got.add("c", ev)
		return nil
	})
	require.Eventually(t, func() bool { return got.of("after") == 1 && b.pending(t, "g") == 0 }, waitFor, 10*time.Millisecond)
	require.Equal(t, 1, got.distinct(), "only the event reaches the handler")
	entries := logs.FilterFieldKey("entry").All()
	require.Len(t, entries, 2, "each entry that is not an event is logged once")
	for _, e := range entries {
		require.Equal(t, stream, e.ContextMap()["stream"])
	}
	l, err := b.rdb.XLen(context.Background(), stream).Result()
	require.NoError(t, err)
	require.EqualValues(t, 3, l, "the entries stay in the stream")
}

func TestConsumeChecksItsConfig(t *testing.T) {
	t.Parallel()
	noop := genwatch.EventHandlerFunc(func(context.Context, genwatch.Event) error { return nil })
	err := genwatch.Consume(context.Background(), nil, genwatch.ConsumerConfig{ClaimIdle: -time.Second}, noop)
	require.ErrorContains(t, err, "Group is required")
	require.ErrorContains(t, err, "ClaimIdle must not be negative")
	err = genwatch.Consume(context.Background(), nil, genwatch.ConsumerConfig{Group: "g"}, nil)
	require.ErrorContains(t, err, "handler is nil")
	err = genwatch.Consume(context.Background(), nil, genwatch.ConsumerConfig{Group: sink.Group("webhook")}, noop)
	require.ErrorContains(t, err, `Group "sink:webhook" is taken`, "a sink's own group would steal its events")
}
