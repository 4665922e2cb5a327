package tasks_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/store"
	"github.com/genwatch/genwatch/internal/tasks"
)

// estimates records Observer.Estimated.
type estimates struct {
	mu  sync.Mutex
	off []time.Duration
}

func (e *estimates) Polled(string, string, string, bool, time.Duration) {}
func (e *estimates) Ended(genwatch.Event)                               {}
func (e *estimates) PastDeadline(string, time.Duration)                 {}
func (e *estimates) Estimated(_ string, off time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.off = append(e.off, off)
}

func adaptiveHandler(t *testing.T, b *pollBundle, obs tasks.Observer) (*tasks.PollHandler, *store.Store) {
	t.Helper()
	s := store.New(b.srv.Client, store.Config{Shards: genwatch.Shards{Queue: redistest.Name(t, "gw"), Stream: b.stream}})
	return tasks.NewPollHandler(tasks.PollConfig{
		Store: s,
		Targets: tasks.Targets{
			genwatch.ProviderHoox: {"default": {Provider: b.provider, Policy: schedule.Policy{Mode: schedule.ModeAdaptive, Jitter: -1}}},
		},
		Observer: obs,
		Clock:    b.clock,
		Rand:     func() float64 { return 0.5 },
	}), s
}

func pollAgain(t *testing.T, err error) *tasks.PollAgain {
	t.Helper()
	var again *tasks.PollAgain
	require.True(t, errors.As(err, &again), "want a PollAgain, got %v", err)
	return again
}

func TestPollAdaptive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{})
	obs := &estimates{}
	handler, s := adaptiveHandler(t, b, obs)
	video := func(st providers.State, word string) answer {
		return answer{status: &providers.Status{State: st, ProviderStatus: word, MediaType: "video", Model: "veo-3.1"}}
	}

	// Just enqueued, with nothing learned: the default says a minute, so
	// the first status call waits.
	now := b.clock.Now()
	req := genwatch.Request{Provider: "hoox", GenerationID: "g1", EnqueuedAt: &now}
	again := pollAgain(t, handler.ProcessTask(ctx, b.task(t, req)))
	require.Zero(t, b.provider.calls, "no status call on a first run that the pacing defers")
	require.Greater(t, again.Delay, 5*time.Second)
	require.True(t, strings.HasPrefix(again.Reason, "waiting for the first poll, done in ~"), again.Reason)

	// The first poll: running, with an estimate.
	b.clock.Advance(again.Delay)
	b.provider.set(video(providers.StateRunning, "generating"))
	again = pollAgain(t, handler.ProcessTask(ctx, b.task(t, req)))
	require.Equal(t, 1, b.provider.calls)
	require.Contains(t, again.Reason, "running, done in ~")
	require.False(t, again.Strict)

	// It completes 20 s after enqueue: the duration is learned under its
	// kind, spread between the last poll that saw it running and this one.
	lastRunning := b.clock.Now()
	b.clock.Advance(20*time.Second - lastRunning.Sub(now))
	b.provider.set(video(providers.StateCompleted, "completed"))
	require.NoError(t, handler.ProcessTask(ctx, b.task(t, req)))
	d, err := s.Durations(ctx, "hoox:a0", "hoox", "default", "video/veo-3.1")
	require.NoError(t, err)
	require.NotNil(t, d)
	want := schedule.Spread(schedule.Span{From: lastRunning.Sub(now), To: b.clock.Now().Sub(now)})
	var learned float64
	for _, bw := range want {
		require.InDelta(t, bw.Weight, d.Weights[bw.Bucket], 1e-3)
		learned += d.Weights[bw.Bucket]
	}
	require.InDelta(t, 1, learned, 1e-3, "one ending, all of it within the span")
	require.Len(t, obs.off, 1, "how far the estimate was off is observed")

	// The kind is learned from the first answer on: a generation of
	// another kind is not paced by it.
	_, err = s.Durations(ctx, "hoox:a0", "hoox", "default", "image/flux-pro")
	require.NoError(t, err)
}

func TestPollAdaptiveLearnsAndFollowsHints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{})
	handler, s := adaptiveHandler(t, b, nil)

	// A submitter's hint moves the first poll: 20 s said, well before the
	// default's minute; 3 minutes said, later.
	b.provider.set(answer{status: &providers.Status{State: providers.StateRunning, ProviderStatus: "generating"}})
	now := b.clock.Now()
	first := func(id string, expected int64) time.Duration {
		req := genwatch.Request{Provider: "hoox", GenerationID: id, EnqueuedAt: &now, ExpectedSeconds: expected}
		return pollAgain(t, handler.ProcessTask(ctx, b.task(t, req))).Delay
	}
	none, short, long := first("none", 0), first("short", 20), first("long", 180)
	require.Zero(t, b.provider.calls)
	require.Less(t, short, none)
	require.Less(t, short, 20*time.Second)
	require.Greater(t, long, none)

	// A webhook that came early: the status still says running, so the
	// next poll follows within a few seconds, not the pacing's long gap.
	req := genwatch.Request{Provider: "hoox", GenerationID: "hinted"}
	plain := pollAgain(t, handler.ProcessTask(ctx, b.task(t, req)))
	b.clock.Advance(3 * time.Second)
	ok, err := s.Hint(ctx, req.TaskID(), b.clock.Now(), 3*time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	b.clock.Advance(200 * time.Millisecond)
	hinted := pollAgain(t, handler.ProcessTask(ctx, b.task(t, req)))
	require.LessOrEqual(t, hinted.Delay, 2*time.Second)
	require.Less(t, hinted.Delay, plain.Delay)
}
