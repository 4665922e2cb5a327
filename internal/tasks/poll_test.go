package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/store"
	"github.com/genwatch/genwatch/internal/tasks"
	"github.com/genwatch/genwatch/internal/throttle"
	"github.com/genwatch/genwatch/internal/throttle/guard"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// fakeProvider answers from a script of responses, one per call; the last
// one repeats.
type fakeProvider struct {
	mu      sync.Mutex
	answers []answer
	calls   int
}

type answer struct {
	status *providers.Status
	err    error
}

func (f *fakeProvider) Status(context.Context, string) (*providers.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.answers[min(f.calls, len(f.answers)-1)]
	f.calls++
	return a.status, a.err
}

func (f *fakeProvider) set(answers ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = answers
}

// lateObserver records the polls reported past their deadline.
type lateObserver struct {
	mu   sync.Mutex
	late []time.Duration
}

func (*lateObserver) Polled(string, string, string, bool, time.Duration) {}
func (*lateObserver) Ended(genwatch.Event)                               {}
func (*lateObserver) Estimated(string, time.Duration)                    {}
func (o *lateObserver) PastDeadline(_ string, late time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.late = append(o.late, late)
}

func (o *lateObserver) reported() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Duration(nil), o.late...)
}

type pollBundle struct {
	handler  *tasks.PollHandler
	provider *fakeProvider
	clock    *clockwork.FakeClock
	srv      *redistest.Server
	stream   string
	observer *lateObserver
	policy   schedule.Policy
}

func setupPoll(t *testing.T, policy schedule.Policy) *pollBundle {
	t.Helper()
	srv := redistest.New(t)
	prefix := redistest.Name(t, "gw") + ":"
	b := &pollBundle{
		provider: &fakeProvider{},
		clock:    clockwork.NewFakeClockAt(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)),
		srv:      srv,
		stream:   prefix + "events",
		observer: &lateObserver{},
	}
	if policy.Mode == "" {
		// The lifecycle tests pace by the backoff, whose delays are exact;
		// TestPollAdaptive covers the adaptive pacing.
		policy.Mode = schedule.ModeBackoff
	}
	b.policy = policy
	b.handler = b.withGuard(t, nil)
	return b
}

// withGuard returns a handler whose hoox account has the given guard.
func (b *pollBundle) withGuard(t *testing.T, admit tasks.Guard) *tasks.PollHandler {
	t.Helper()
	return tasks.NewPollHandler(tasks.PollConfig{
		Store: store.New(b.srv.Client, store.Config{Shards: genwatch.Shards{Queue: redistest.Name(t, "gw"), Stream: b.stream}}),
		Targets: tasks.Targets{
			genwatch.ProviderHoox: {"default": {Provider: b.provider, Policy: b.policy, Guard: admit}},
		},
		Observer: b.observer,
		Clock:    b.clock,
		Rand:     func() float64 { return 0.5 },
	})
}

func (b *pollBundle) task(t *testing.T, req genwatch.Request) *asynq.Task {
	t.Helper()
	payload, err := json.Marshal(req)
	require.NoError(t, err)
	return asynq.NewTask(genwatch.TaskTypePoll, payload)
}

func (b *pollBundle) events(t *testing.T) []genwatch.Event {
	t.Helper()
	msgs, err := b.srv.Client.XRange(context.Background(), b.stream, "-", "+").Result()
	require.NoError(t, err)
	var out []genwatch.Event
	for _, m := range msgs {
		e, err := genwatch.DecodeEvent([]byte(m.Values[genwatch.StreamField].(string)))
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func running(pct int) answer {
	return answer{status: &providers.Status{State: providers.StateRunning, ProviderStatus: "generating", Progress: &pct}}
}

func requirePollAgain(t *testing.T, err error, delay time.Duration, reason string) {
	t.Helper()
	var again *tasks.PollAgain
	require.ErrorAs(t, err, &again)
	require.Equal(t, delay, again.Delay)
	require.Equal(t, reason, again.Reason)
	require.False(t, tasks.IsFailure(err))
}

func TestPollLifecycleCompleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{Jitter: -1})
	enqueued := b.clock.Now().Add(-time.Second)
	task := b.task(t, genwatch.Request{
		Provider: "hoox", GenerationID: "662f8c1d", EnqueuedAt: &enqueued,
		Metadata: json.RawMessage(`{"order":42}`),
	})

	b.provider.set(answer{status: &providers.Status{State: providers.StatePending, ProviderStatus: "pending"}})
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 2*time.Second, "pending")

	b.clock.Advance(2 * time.Second)
	b.provider.set(running(40))
	err := b.handler.ProcessTask(ctx, task)
	requirePollAgain(t, err, 3*time.Second, "running, 40%")
	require.Equal(t, "running, 40%, next poll in 3s", err.Error())

	b.clock.Advance(3 * time.Second)
	cost := 1.5
	b.provider.set(answer{status: &providers.Status{
		State: providers.StateCompleted, ProviderStatus: "completed", MediaType: "video",
		URL: "https://cdn.example/v.mp4", ThumbnailURL: "https://cdn.example/v.jpg",
		Width: 720, Height: 1280, DurationSeconds: 8, SizeBytes: 1234, Cost: &cost,
		Raw: json.RawMessage(`{"status":"completed"}`),
	}})
	require.NoError(t, b.handler.ProcessTask(ctx, task))

	events := b.events(t)
	require.Len(t, events, 1)
	got := events[0]
	require.Equal(t, genwatch.Event{
		ID:           genwatch.EventID("hoox", "662f8c1d", genwatch.StatusCompleted),
		Type:         "generation.completed",
		Status:       genwatch.StatusCompleted,
		Provider:     "hoox",
		GenerationID: "662f8c1d",
		Account:      "default",
		MediaType:    "video", URL: "https://cdn.example/v.mp4", ThumbnailURL: "https://cdn.example/v.jpg",
		Width: 720, Height: 1280, DurationSeconds: 8, SizeBytes: 1234, Cost: &cost,
		Progress:       new(40),
		Metadata:       json.RawMessage(`{"order":42}`),
		Polls:          3,
		EnqueuedAt:     enqueued,
		DetectedAt:     b.clock.Now(),
		ProviderStatus: "completed",
		Raw:            json.RawMessage(`{"status":"completed"}`),
	}, got)

	// The same task running again (a redelivery) polls, finds the
	// generation ended, and adds no second event.
	b.clock.Advance(time.Minute)
	require.NoError(t, b.handler.ProcessTask(ctx, task))
	require.Len(t, b.events(t), 1)
}

func TestPollFailedKeepsProviderMessage(t *testing.T) {
	t.Parallel()
	b := setupPoll(t, schedule.Policy{})
	b.provider.set(answer{status: &providers.Status{
		State: providers.StateFailed, ProviderStatus: "failed", ErrorCode: "nsfw", ErrorMessage: "prompt rejected",
	}})
	require.NoError(t, b.handler.ProcessTask(context.Background(), b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "x"})))
	events := b.events(t)
	require.Len(t, events, 1)
	require.Equal(t, genwatch.StatusFailed, events[0].Status)
	require.Equal(t, "generation.failed", events[0].Type)
	require.Equal(t, &genwatch.EventError{Code: genwatch.CodeGenerationFailed, Message: "prompt rejected"}, events[0].Error)
	require.Empty(t, events[0].URL)
	require.Equal(t, b.clock.Now(), events[0].EnqueuedAt, "without enqueued_at the first sighting counts")
}

func TestPollNotFoundAfterGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{Jitter: -1, NotFoundGrace: 10 * time.Second})
	task := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "nope"})
	b.provider.set(answer{err: &providers.HTTPError{StatusCode: 404}})

	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 2*time.Second, "not found yet (for 0s)")
	b.clock.Advance(2 * time.Second)
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 3*time.Second, "not found yet (for 2s)")
	b.clock.Advance(3 * time.Second)
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 4500*time.Millisecond, "not found yet (for 5s)")
	b.clock.Advance(4500 * time.Millisecond)
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), schedule.MinDelay, "not found yet (for 9s)")
	b.clock.Advance(time.Second)
	require.NoError(t, b.handler.ProcessTask(ctx, task))

	events := b.events(t)
	require.Len(t, events, 1)
	require.Equal(t, genwatch.StatusFailed, events[0].Status)
	require.Equal(t, genwatch.CodeNotFound, events[0].Error.Code)
	require.Equal(t, 5, events[0].Polls)
}

func TestPollTimedOutAtDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{Jitter: -1, Initial: 4 * time.Second, Multiplier: 1})
	task := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "forever", MaxWaitSeconds: 10})
	b.provider.set(running(10))

	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 4*time.Second, "running, 10%")
	b.clock.Advance(4 * time.Second)
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 4*time.Second, "running, 10%")
	b.clock.Advance(4 * time.Second)
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 2*time.Second, "running, 10%") // lands on the deadline
	b.clock.Advance(2 * time.Second)
	require.NoError(t, b.handler.ProcessTask(ctx, task))

	events := b.events(t)
	require.Len(t, events, 1)
	require.Equal(t, genwatch.StatusTimedOut, events[0].Status)
	require.Equal(t, genwatch.CodeTimedOut, events[0].Error.Code)
	require.Equal(t, new(10), events[0].Progress)
	require.Equal(t, "generating", events[0].ProviderStatus)
	require.Empty(t, b.observer.reported(), "a last poll on the deadline is on time")
}

func TestPollReportsAGenerationStuckPastItsDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{Jitter: -1, Initial: 4 * time.Second, Multiplier: 1})
	task := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "stuck", MaxWaitSeconds: 10})
	b.provider.set(running(10))

	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 4*time.Second, "running, 10%")
	// Within the grace after the deadline the poll still counts as on time.
	b.clock.Advance(10*time.Second + tasks.PastDeadlineGrace)
	require.NoError(t, b.handler.ProcessTask(ctx, task))
	require.Empty(t, b.observer.reported())

	// A rerun well after the deadline (the worker that ran it died, or the
	// queue was backed up) is reported, with how late it is.
	b.clock.Advance(time.Second)
	require.NoError(t, b.handler.ProcessTask(ctx, task))
	require.Equal(t, []time.Duration{tasks.PastDeadlineGrace + time.Second}, b.observer.reported())
	require.Len(t, b.events(t), 1, "the rerun adds no event")
}

func TestPollProviderUnavailableUntilDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{Jitter: -1})
	task := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "flaky", MaxWaitSeconds: 5})
	b.provider.set(answer{err: &providers.HTTPError{StatusCode: 503, RetryAfter: 3 * time.Second, Message: "maintenance"}})

	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 3*time.Second, "provider unavailable: http 503: maintenance")
	b.clock.Advance(5 * time.Second)
	require.NoError(t, b.handler.ProcessTask(ctx, task))
	events := b.events(t)
	require.Len(t, events, 1)
	require.Equal(t, genwatch.StatusTimedOut, events[0].Status)
	require.Equal(t, &genwatch.EventError{Code: genwatch.CodeProviderUnavailable, Message: "http 503: maintenance"}, events[0].Error)
}

func TestPollRejectsBadTasks(t *testing.T) {
	t.Parallel()
	b := setupPoll(t, schedule.Policy{})
	b.provider.set(running(1))
	tests := []struct {
		desc    string
		payload string
		want    string
	}{
		{desc: "not json", payload: `{"provider":`, want: "decode payload"},
		{desc: "unknown field", payload: `{"provider":"hoox","generation_id":"a","colour":"red"}`, want: "unknown field"},
		{desc: "malformed provider", payload: `{"provider":"Acme Co","generation_id":"a"}`, want: "unknown provider"},
		{desc: "missing id", payload: `{"provider":"hoox"}`, want: "generation_id is required"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := b.handler.ProcessTask(context.Background(), asynq.NewTask(genwatch.TaskTypePoll, []byte(tt.payload)))
			require.ErrorIs(t, err, asynq.SkipRetry, "archived at once")
			require.ErrorContains(t, err, tt.want)
			require.True(t, genwatch.IsInvalidRequest(err))
		})
	}
	require.Zero(t, b.provider.calls, "a bad task never reaches the provider")
	require.Empty(t, b.events(t))
}

func TestPollUnknownAccountWaitsForTheFleetThenEndsRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		desc string
		req  genwatch.Request
		want string
	}{
		{desc: "unknown account", req: genwatch.Request{Provider: "hoox", GenerationID: "a", Account: "other"},
			want: `no worker has account "other" of provider hoox for 2m0s`},
		{desc: "provider without accounts here", req: genwatch.Request{Provider: "hooked", GenerationID: "b", Metadata: json.RawMessage(`{"k":1}`)},
			want: `no worker has account "default" of provider hooked for 2m0s`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupPoll(t, schedule.Policy{})
			b.provider.set(running(1))
			task := b.task(t, tt.req)
			seen := b.clock.Now()

			// Within the grace period it comes back every 5 s, not as a
			// failure, so that asynq can hand it to another worker.
			for range 24 {
				err := b.handler.ProcessTask(ctx, task)
				var again *tasks.PollAgain
				require.ErrorAs(t, err, &again)
				require.Equal(t, 5*time.Second, again.Delay)
				require.False(t, tasks.IsFailure(err))
				require.Contains(t, again.Reason, "no worker has account")
				require.Empty(t, b.events(t))
				b.clock.Advance(5 * time.Second)
			}

			// Then it ends failed/rejected, once, without a provider call.
			require.NoError(t, b.handler.ProcessTask(ctx, task))
			events := b.events(t)
			require.Len(t, events, 1)
			got := events[0]
			require.Equal(t, genwatch.StatusFailed, got.Status)
			require.Equal(t, "generation.failed", got.Type)
			require.Equal(t, &genwatch.EventError{Code: genwatch.CodeRejected, Message: tt.want}, got.Error)
			require.Equal(t, tt.req.ResolvedAccount(), got.Account)
			require.Equal(t, seen, got.EnqueuedAt, "enqueued_at falls back to the first sighting")
			require.Equal(t, b.clock.Now(), got.DetectedAt)
			require.Zero(t, got.Polls)
			require.JSONEq(t, string(orEmpty(tt.req.Metadata)), string(orEmpty(got.Metadata)))

			b.clock.Advance(time.Minute)
			require.NoError(t, b.handler.ProcessTask(ctx, task), "a rerun finds the event")
			require.Len(t, b.events(t), 1)
			require.Zero(t, b.provider.calls, "the provider is never called")
		})
	}
}

func TestPollUnknownAccountGraceCountsFromTheFirstSighting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{})
	task := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "g", Account: "other"})
	require.Error(t, b.handler.ProcessTask(ctx, task))
	b.clock.Advance(2*time.Minute - 2*time.Second)
	err := b.handler.ProcessTask(ctx, task)
	var again *tasks.PollAgain
	require.ErrorAs(t, err, &again)
	require.Equal(t, 2*time.Second, again.Delay, "the last wait ends with the grace period")
	b.clock.Advance(2 * time.Second)
	require.NoError(t, b.handler.ProcessTask(ctx, task))
	require.Len(t, b.events(t), 1)
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage(`{}`)
	}
	return b
}

func TestPollRedisDownIsAFailure(t *testing.T) {
	t.Parallel()
	b := setupPoll(t, schedule.Policy{})
	b.provider.set(running(1))
	require.NoError(t, b.srv.Client.Close())
	err := b.handler.ProcessTask(context.Background(), b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "a"}))
	require.ErrorContains(t, err, "record poll")
	require.True(t, tasks.IsFailure(err), "retried by asynq with backoff, counted")
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 300_000_000, time.UTC)
	delay := tasks.RetryDelay(func() time.Time { return now })
	tests := []struct {
		desc string
		err  error
		want time.Duration
	}{
		{desc: "rounded to the nearest whole second, down", err: &tasks.PollAgain{Delay: 2 * time.Second}, want: 1700 * time.Millisecond},
		{desc: "rounded to the nearest whole second, up", err: &tasks.PollAgain{Delay: 2300 * time.Millisecond}, want: 2700 * time.Millisecond},
		{desc: "strict: rounded up to the next whole second", err: &tasks.PollAgain{Delay: 2 * time.Second, Strict: true}, want: 2700 * time.Millisecond},
		{desc: "already on a whole second", err: &tasks.PollAgain{Delay: 700 * time.Millisecond}, want: 700 * time.Millisecond},
		{desc: "never in the past", err: &tasks.PollAgain{Delay: 100 * time.Millisecond}, want: 700 * time.Millisecond},
		{desc: "wrapped", err: errors.Join(errors.New("x"), &tasks.PollAgain{Delay: 1100 * time.Millisecond}), want: 700 * time.Millisecond},
		{desc: "lease expired after a crash: soon", err: asynq.ErrLeaseExpired, want: 700 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			require.Equal(t, tt.want, delay(0, tt.err, nil))
		})
	}
	got := delay(3, errors.New("boom"), nil)
	require.Greater(t, got, 10*time.Second, "genuine failures use asynq's backoff")
	require.True(t, tasks.IsFailure(errors.New("boom")))
	require.False(t, tasks.IsFailure(&tasks.PollAgain{}))
}

func TestPollWaitsWhileTheCircuitIsOpenUntilTheDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{Jitter: -1})
	g := guard.New(guard.Config{
		Key:     "hoox/default",
		Pauses:  throttle.NewPauses(b.srv.Client, redistest.Name(t, "gw")+":", nil, b.clock.Now),
		Breaker: throttle.BreakerConfig{Failures: 2, OpenFor: time.Hour},
		Now:     b.clock.Now,
	})
	b.handler = b.withGuard(t, g)
	task := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "down", MaxWaitSeconds: 60})
	b.provider.set(answer{err: &providers.HTTPError{StatusCode: 502}})

	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 2*time.Second, "provider unavailable: http 502")
	b.clock.Advance(2 * time.Second)
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 3*time.Second, "provider unavailable: http 502")
	require.Equal(t, 2, b.provider.calls)

	// The circuit is open: no more calls, the generation keeps waiting...
	b.clock.Advance(3 * time.Second)
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 3*time.Second, "provider unavailable: circuit open: the provider keeps failing")
	require.Equal(t, 2, b.provider.calls)
	require.Empty(t, b.events(t))

	// ...and ends at its deadline, without a call.
	b.clock.Advance(time.Minute)
	require.NoError(t, b.handler.ProcessTask(ctx, task))
	require.Equal(t, 2, b.provider.calls)
	events := b.events(t)
	require.Len(t, events, 1)
	require.Equal(t, genwatch.StatusTimedOut, events[0].Status)
	require.Equal(t, genwatch.CodeProviderUnavailable, events[0].Error.Code)
	require.Equal(t, 2, events[0].Polls, "skipped polls are not status calls")
}

func TestPollPausedAccountIsNotCalled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{Jitter: -1})
	pauses := throttle.NewPauses(b.srv.Client, redistest.Name(t, "gw")+":", nil, b.clock.Now)
	b.handler = b.withGuard(t, guard.New(guard.Config{Key: "hoox/default", Pauses: pauses, Now: b.clock.Now}))
	task := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "busy"})
	b.provider.set(answer{err: &providers.HTTPError{StatusCode: 429, RetryAfter: 20 * time.Second}})

	requirePollAgain(t, b.handler.ProcessTask(ctx, task), 20*time.Second, "rate limited: http 429")
	require.Equal(t, 1, b.provider.calls)
	other := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "another"})
	b.clock.Advance(5 * time.Second)
	requirePollAgain(t, b.handler.ProcessTask(ctx, other), 15*time.Second, "provider asked to pause (429) for 15s")
	require.Equal(t, 1, b.provider.calls, "the paused account is not called")
	rec, ok, err := store.New(b.srv.Client, store.Config{Shards: genwatch.Shards{Queue: redistest.Name(t, "gw"), Stream: b.stream}}).Load(ctx, "hoox:another")
	require.NoError(t, err)
	require.False(t, ok, "a deferred poll records nothing: %+v", rec)
}

func TestPollNotFoundKeepsTheProvidersAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPoll(t, schedule.Policy{Jitter: -1, NotFoundGrace: time.Second})
	task := b.task(t, genwatch.Request{Provider: "hoox", GenerationID: "gone"})
	body := `{"success":false,"message":"Video not found"}`
	b.provider.set(answer{
		status: &providers.Status{Raw: json.RawMessage(body), ErrorMessage: "Video not found"},
		err:    &providers.HTTPError{StatusCode: 404, Message: "Video not found"},
	})
	requirePollAgain(t, b.handler.ProcessTask(ctx, task), time.Second, "not found yet (for 0s)")
	b.clock.Advance(time.Second)
	require.NoError(t, b.handler.ProcessTask(ctx, task))

	events := b.events(t)
	require.Len(t, events, 1)
	require.Equal(t, genwatch.CodeNotFound, events[0].Error.Code)
	require.Contains(t, events[0].Error.Message, "Video not found")
	require.JSONEq(t, body, string(events[0].Raw), "raw is the provider's last answer, an error too")
}
