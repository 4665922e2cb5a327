// Package tasks runs the poll lifecycle of a tracked generation.
//
// A generation is one asynq task, type generation:poll, task ID
// "<provider>:<generation_id>", for its whole life:
//
//  1. A client enqueues the task; asynq runs it at once.
//  2. PollHandler decodes the payload (a payload that cannot be decoded is
//     archived at once with the reason as its last error; one naming a
//     provider or account this worker lacks waits, not as a failure, for
//     another worker of the fleet to take it, and ends failed/rejected
//     after UnknownAccountGrace), asks the provider adapter for the status,
//     and records the answer in the generation's state (package store: one
//     round trip).
//  3. schedule.Decide looks at the state, the answer and the deadline. If
//     the generation is still running, the handler returns a *PollAgain
//     error. IsFailure says it is not a failure and RetryDelay turns it into
//     the retry delay, so asynq moves the very same task to its retry set,
//     atomically, without counting an attempt; its "last error" reads like
//     "running, 40%, next poll in 6s" in the dashboard.
//  4. When the generation has ended, the store appends the event to the
//     stream unless an event for this generation already stands (the first
//     one wins, so a rerun after a crash, or a duplicate task, adds
//     nothing); every other destination reads the stream through a consumer
//     group of its own (package sink); the event is written as the task's
//     result and the handler returns nil, so asynq keeps the completed task
//     for its retention, which makes a late duplicate enqueue a task ID
//     conflict.
//
// Control shows and cancels tracked generations from their tasks (through
// the asynq inspector) and the store.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/store"
	"github.com/genwatch/genwatch/internal/throttle"
)

// Target is one provider account: the adapter that calls it, the polling
// policy for it, and the guard that admits its calls (nil: all admitted).
type Target struct {
	Provider providers.Provider
	Policy   schedule.Policy
	Guard    Guard
}

// Guard admits or defers the status calls of one provider account (the
// worker's is guard.Guard: fleet-wide pauses, a circuit breaker, a rate
// limit). Admit returns a permit, or why and how long to wait; Done
// reports an admitted call's outcome.
type Guard interface {
	Admit(ctx context.Context) (*throttle.Permit, *throttle.Deferred, error)
	Done(ctx context.Context, p *throttle.Permit, class providers.Class, retryAfter time.Duration) error
}

// Targets maps provider name, then account name, to its Target.
type Targets map[string]map[string]Target

// Lookup returns the target for a provider account.
func (t Targets) Lookup(provider, account string) (Target, bool) {
	tg, ok := t[provider][account]
	return tg, ok
}

// Observer is told what the handler does, for metrics. Implementations must
// be cheap and safe for concurrent use.
type Observer interface {
	// Polled reports one status call: its outcome (the normalized state,
	// or the error class when failed) and how long it took.
	Polled(provider, account, outcome string, failed bool, took time.Duration)
	// Ended reports a generation's event, once per emission to the stream.
	Ended(event genwatch.Event)
	// PastDeadline reports a poll that ran more than PastDeadlineGrace
	// after its generation's deadline, late by late: the generation was
	// stuck (its polls failed, waited in a backlog, or no worker ran).
	PastDeadline(provider string, late time.Duration)
	// Estimated reports how far a generation's end came after the end
	// estimated at its last poll before (negative: earlier).
	Estimated(provider string, off time.Duration)
}

// PastDeadlineGrace is how late after a generation's deadline its poll may
// run before it counts as stuck. The last poll is due at the deadline and
// normally runs within about a second of it.
const PastDeadlineGrace = time.Minute

// PollConfig configures a PollHandler.
type PollConfig struct {
	// Store keeps the per-generation state and the events. Required.
	Store *store.Store
	// Targets are the configured provider accounts. Required.
	Targets Targets
	// Observer receives metrics. If nil, nothing is observed.
	Observer Observer
	// Logger logs. If nil, nothing is logged.
	Logger *zap.Logger
	// Clock tells the time. If nil, the real clock is used.
	Clock clockwork.Clock
	// Rand returns uniform numbers in [0, 1) for jitter. If nil,
	// math/rand/v2's Float64 is used.
	Rand func() float64
	// MaxWait applies to requests without max_wait_seconds. If zero,
	// genwatch.DefaultMaxWait (30 min).
	MaxWait time.Duration
	// Retention is how long an ended generation's event is kept as the
	// guard against a second one. If zero, genwatch.DefaultRetention (24 h).
	Retention time.Duration
	// UnknownAccountGrace is how long a request naming a provider or
	// account this worker lacks keeps coming back, from when a worker first
	// saw it, before it ends failed/rejected. If zero,
	// DefaultUnknownAccountGrace (2 min).
	UnknownAccountGrace time.Duration
}

// PollHandler handles generation:poll tasks.
type PollHandler struct {
	cfg    PollConfig
	log    *zap.Logger
	priors *store.Priors
}

// NewPollHandler returns a handler; see PollConfig for the defaults.
func NewPollHandler(cfg PollConfig) *PollHandler {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = genwatch.DefaultMaxWait
	}
	if cfg.Retention <= 0 {
		cfg.Retention = genwatch.DefaultRetention
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.UnknownAccountGrace <= 0 {
		cfg.UnknownAccountGrace = DefaultUnknownAccountGrace
	}
	return &PollHandler{cfg: cfg, log: cfg.Logger, priors: store.NewPriors(cfg.Store, cfg.Clock.Now)}
}

// Canceled is the decision for a generation whose tracking was canceled.
var Canceled = schedule.Decision{Done: true, Status: genwatch.StatusCanceled, Code: genwatch.CodeCanceled}

// rerunGrace is how long a generation's state outlives its event, so that
// a task that runs again after a crash finds it and decides the same way.
const rerunGrace = 10 * time.Minute

// ProcessTask implements asynq.Handler.
func (h *PollHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	req, err := genwatch.DecodeRequest(t.Payload())
	if err != nil {
		h.log.Error("rejecting tracking task", zap.String("task_id", taskID(ctx)), zap.Error(err))
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	account := req.ResolvedAccount()
	log := h.log.With(
		zap.String("provider", req.Provider),
		zap.String("generation_id", req.GenerationID),
		zap.String("account", account),
	)
	target, ok := h.cfg.Targets.Lookup(req.Provider, account)
	if !ok {
		return h.unknownAccount(ctx, t, req, account, log)
	}

	if again := h.deferFirstPoll(ctx, req, account, target, log); again != nil {
		return again
	}
	ans, again, err := h.ask(ctx, req, account, target)
	if err != nil || again != nil {
		return errOrAgain(err, again)
	}
	now := h.cfg.Clock.Now()
	rec, in, err := h.observe(ctx, req, account, target, ans, now, log)
	if err != nil {
		return err
	}
	decision := Canceled
	if rec.CanceledAt.IsZero() {
		decision = schedule.Decide(in)
	}
	log = log.With(zap.Int("poll", rec.History.Polls))
	if !decision.Done {
		again := &PollAgain{Delay: decision.Delay, Strict: decision.Strict, Reason: waitReason(ans, rec, now, decision.ETA)}
		logWaiting(log, ans, again)
		return again
	}
	event := buildEvent(req, account, rec, ans, decision, in.EnqueuedAt, now)
	return h.emit(ctx, t, req, event, h.learning(req, account, rec, decision, in), log)
}

// errOrAgain returns err, or again when err is nil: the two ways a poll
// step stops the poll early.
func errOrAgain(err error, again *PollAgain) error {
	if err != nil {
		return err
	}
	return again
}

// observe records the answer in the generation's state (one script call)
// and returns that state and what the schedule decides from.
func (h *PollHandler) observe(ctx context.Context, req genwatch.Request, account string, target Target, ans answer, now time.Time, log *zap.Logger) (store.Record, schedule.Input, error) {
	// The state outlives the deadline by the retention, like the task.
	maxWait := h.maxWait(req)
	rec, err := h.cfg.Store.Record(ctx, req.TaskID(), now, ans.called, ans.class, ans.status, h.enqueuedAt(req, now).Add(maxWait).Sub(now)+h.cfg.Retention)
	if err != nil {
		return store.Record{}, schedule.Input{}, fmt.Errorf("poll %s: %w", req.TaskID(), err)
	}
	enqueuedAt := h.enqueuedAt(req, rec.FirstSeen)
	deadline := enqueuedAt.Add(maxWait)
	if late := now.Sub(deadline); late > PastDeadlineGrace {
		h.cfg.Observer.PastDeadline(req.Provider, late)
		log.Warn("polling a generation past its deadline", zap.Duration("late", late), zap.Int("poll", rec.History.Polls))
	}
	obs := schedule.Observation{Class: ans.class, RetryAfter: ans.retryAfter}
	if ans.status != nil {
		obs.State = ans.status.State
	}
	return rec, schedule.Input{
		Now:        now,
		Deadline:   deadline,
		EnqueuedAt: enqueuedAt,
		History:    rec.History,
		Observed:   obs,
		Policy:     target.Policy,
		Expected:   req.Expected(),
		Prior:      h.prior(ctx, req, account, rec.Model, log),
		Rand:       h.cfg.Rand(),
	}, nil
}

// emit appends the event to the stream unless the generation has already
// ended (learning its duration in the same script), and writes the event
// that stands as the task's result. Every ending goes through it.
func (h *PollHandler) emit(ctx context.Context, t *asynq.Task, req genwatch.Request, event genwatch.Event, learn store.Learning, log *zap.Logger) error {
	encoded, err := encodeEvent(event)
	if err != nil {
		return fmt.Errorf("poll %s: %w", req.TaskID(), err)
	}
	stored, appended, err := h.cfg.Store.Emit(ctx, req.TaskID(), encoded, h.cfg.Retention, rerunGrace, learn)
	unconfirmed := errors.Is(err, store.ErrNotReplicated)
	if err != nil && !unconfirmed {
		return fmt.Errorf("poll %s: %w", req.TaskID(), err)
	}
	if !appended {
		// An earlier run already ended this generation: that event stands.
		if event, err = genwatch.DecodeEvent(stored); err != nil {
			return fmt.Errorf("poll %s: stored %w", req.TaskID(), err)
		}
		log.Info("generation had already ended", zap.String("event_id", event.ID), zap.String("status", string(event.Status)))
	} else {
		h.cfg.Observer.Ended(event)
		log.Info("generation ended", zap.String("event_id", event.ID), zap.String("status", string(event.Status)),
			zap.Stringp("error_code", errorCode(event)))
	}
	if rw := t.ResultWriter(); rw != nil {
		if _, err := rw.Write(stored); err != nil {
			// The event stands; only the dashboard's copy is missing.
			log.Warn("could not write the event as the task result", zap.Error(err))
		}
	}
	if unconfirmed {
		// The event is in the stream, but a failover now could lose it:
		// run the task again, which finds it and waits for the replicas
		// again, rather than acknowledge it.
		log.Warn("event written but not yet on enough replicas; confirming it again", zap.Error(err))
		return fmt.Errorf("poll %s: %w", req.TaskID(), err)
	}
	return nil
}

// deferFirstPoll returns a PollAgain for the first run of a tracking task
// when the pacing says the generation is unlikely to end before a later
// first poll (schedule.FirstPoll), so that no status call is spent on a
// job that has only just started. A first run is told by its enqueued_at:
// no later run comes within MinInterval of it. A request without
// enqueued_at, or one that waited in the queue, is polled at once.
func (h *PollHandler) deferFirstPoll(ctx context.Context, req genwatch.Request, account string, target Target, log *zap.Logger) *PollAgain {
	p := target.Policy.WithDefaults()
	if req.EnqueuedAt == nil || p.Mode != schedule.ModeAdaptive {
		return nil
	}
	now := h.cfg.Clock.Now()
	enqueuedAt := req.EnqueuedAt.UTC()
	if since := now.Sub(enqueuedAt); since < 0 || since >= p.MinInterval {
		return nil
	}
	in := schedule.Input{
		Now:        now,
		Deadline:   enqueuedAt.Add(h.maxWait(req)),
		EnqueuedAt: enqueuedAt,
		Policy:     target.Policy,
		Expected:   req.Expected(),
		Prior:      h.prior(ctx, req, account, "", log),
	}
	delay := schedule.FirstPoll(in)
	if delay <= 0 {
		return nil
	}
	reason := "waiting for the first poll"
	if eta, _, ok := schedule.Estimate(in); ok {
		reason += ", done in ~" + Approx(eta.Sub(now))
	}
	again := &PollAgain{Delay: delay, Reason: reason}
	log.Debug(reason, zap.Duration("next_poll_in", delay))
	return again
}

// prior returns the learned durations of a provider, account and kind,
// or nil when nothing is learned or they cannot be read (the pacing then
// uses its default).
func (h *PollHandler) prior(ctx context.Context, req genwatch.Request, account, kind string, log *zap.Logger) *schedule.Durations {
	d, err := h.priors.Get(ctx, req.TaskID(), req.Provider, account, kind)
	if err != nil {
		log.Warn("could not read learned durations; pacing by the default", zap.Error(err))
		return nil
	}
	return d
}

// learning says what to learn from a generation that ended: when it
// ended, for an ending the provider reported (completed or failed):
// between the last poll that saw it running and this one. It also reports
// how far the estimate made at that last poll was off from the middle of
// that span.
func (h *PollHandler) learning(req genwatch.Request, account string, rec store.Record, d schedule.Decision, in schedule.Input) store.Learning {
	if d.Status != genwatch.StatusCompleted && d.Status != genwatch.StatusFailed || d.Code == genwatch.CodeNotFound {
		return store.Learning{}
	}
	span := schedule.Span{To: in.Now.Sub(in.EnqueuedAt)}
	if last := rec.History.LastPollAt; !last.IsZero() && last.Before(in.Now) {
		span.From = last.Sub(in.EnqueuedAt)
		end := last.Add(in.Now.Sub(last) / 2)
		// The estimate as it stood at the last poll.
		before := in
		before.Now = last
		before.History.Progress = nil
		for _, s := range rec.History.Progress {
			if s.At.Before(in.Now) {
				before.History.Progress = append(before.History.Progress, s)
			}
		}
		if eta, _, ok := schedule.Estimate(before); ok {
			h.cfg.Observer.Estimated(req.Provider, end.Sub(eta))
		}
	}
	return store.Learning{
		Provider: req.Provider, Account: account, Kind: rec.Model,
		Span: span, Memory: in.Policy.WithDefaults().LearnMemory,
	}
}

// errCircuitOpen stands for the answer of a provider whose circuit is open:
// no call is made, and the generation waits as if the call had failed.
var errCircuitOpen = errors.New("circuit open: the provider keeps failing")

// answer is what one status call gave, classified once.
type answer struct {
	// status is the provider's status; for an error answer, only its body
	// and message, when it had them.
	status *providers.Status
	// err is the call's failure: an HTTP error, a transport error, an
	// unreadable body, or errCircuitOpen.
	err        error
	class      providers.Class
	retryAfter time.Duration
	// called is false when no call was made (the circuit is open).
	called bool
}

// ask asks the provider for the status, if the account's guard admits the
// call. A call the guard defers for the rate limit comes back as a
// PollAgain; an open circuit as a transient failure that made no call, so
// that the generation's deadline still applies. err is set only when the
// poll itself must fail (the guard could not reach Redis, or the task ran
// out of time).
func (h *PollHandler) ask(ctx context.Context, req genwatch.Request, account string, target Target) (answer, *PollAgain, error) {
	var permit *throttle.Permit
	if target.Guard != nil {
		var (
			deferred *throttle.Deferred
			err      error
		)
		permit, deferred, err = target.Guard.Admit(ctx)
		switch {
		case err != nil:
			return answer{}, nil, fmt.Errorf("poll %s: %w", req.TaskID(), err)
		case deferred != nil && deferred.Breaker:
			return answer{err: errCircuitOpen, class: providers.ClassTransient}, nil, nil
		case deferred != nil:
			return answer{}, &PollAgain{Delay: deferred.Delay, Reason: deferred.Reason}, nil
		}
	}

	started := h.cfg.Clock.Now()
	st, callErr := target.Provider.Status(ctx, req.GenerationID)
	took := h.cfg.Clock.Now().Sub(started)
	ans := answer{status: st, err: callErr, called: true}
	ans.class, ans.retryAfter = providers.Classify(callErr)
	if permit != nil {
		if err := target.Guard.Done(ctx, permit, ans.class, ans.retryAfter); err != nil {
			h.log.Warn("could not share the provider's pause with the fleet", zap.Error(err))
		}
	}
	if callErr != nil && ctx.Err() != nil {
		// Canceled or out of time: the answer means nothing. asynq retries.
		return answer{}, nil, fmt.Errorf("poll %s: %w", req.TaskID(), ctx.Err())
	}
	outcome := ans.class.String()
	if callErr == nil {
		outcome = st.State.String()
	}
	h.cfg.Observer.Polled(req.Provider, account, outcome, callErr != nil, took)
	return ans, nil, nil
}

func (h *PollHandler) maxWait(req genwatch.Request) time.Duration {
	if req.MaxWaitSeconds > 0 {
		return time.Duration(req.MaxWaitSeconds) * time.Second
	}
	return h.cfg.MaxWait
}

// enqueuedAt is the request's enqueued_at, or fallback (the time the
// worker first saw the task) when the client did not set it.
func (h *PollHandler) enqueuedAt(req genwatch.Request, fallback time.Time) time.Time {
	if req.EnqueuedAt != nil && !req.EnqueuedAt.IsZero() {
		return req.EnqueuedAt.UTC()
	}
	return fallback.UTC()
}

func taskID(ctx context.Context) string {
	id, _ := asynq.GetTaskID(ctx)
	return id
}

func errorCode(e genwatch.Event) *string {
	if e.Error == nil {
		return nil
	}
	return &e.Error.Code
}

func logWaiting(log *zap.Logger, ans answer, again *PollAgain) {
	fields := []zap.Field{zap.Duration("next_poll_in", again.Delay)}
	switch ans.class {
	case providers.ClassNone, providers.ClassNotFound:
		// A fresh ID may not be visible yet: a 404 within the grace period
		// is as expected as "running".
		log.Debug(again.Reason, fields...)
	case providers.ClassUnauthorized:
		log.Error("provider refuses the credentials; check the account's API key",
			append(fields, zap.Error(ans.err))...)
	default:
		log.Warn("status call failed", append(fields, zap.String("class", ans.class.String()), zap.Error(ans.err))...)
	}
}

// waitReason says in a few words what a waiting generation waits for:
// "running, 40%, done in ~25s".
func waitReason(ans answer, rec store.Record, now, eta time.Time) string {
	switch ans.class {
	case providers.ClassNone:
		st := ans.status
		reason := st.State.String()
		if p, ok := rec.LastProgress(); ok && st.State == providers.StateRunning {
			reason = fmt.Sprintf("%s, %d%%", st.State, p)
		}
		if !eta.IsZero() {
			if left := eta.Sub(now); left >= time.Second {
				reason += ", done in ~" + Approx(left)
			} else {
				reason += ", done any moment"
			}
		}
		return reason
	case providers.ClassNotFound:
		return fmt.Sprintf("not found yet (for %s)", now.Sub(rec.History.NotFoundSince).Truncate(time.Second))
	case providers.ClassUnauthorized:
		return fmt.Sprintf("unauthorized: %v", ans.err)
	case providers.ClassRateLimited:
		return fmt.Sprintf("rate limited: %v", ans.err)
	default:
		return fmt.Sprintf("provider unavailable: %v", ans.err)
	}
}

type nopObserver struct{}

func (nopObserver) Polled(string, string, string, bool, time.Duration) {}
func (nopObserver) Ended(genwatch.Event)                               {}
func (nopObserver) PastDeadline(string, time.Duration)                 {}
func (nopObserver) Estimated(string, time.Duration)                    {}

// PollAgain is returned by the handler while a generation is still running.
// It is not a failure: IsFailure returns false for it, so asynq does not
// count an attempt, and RetryDelay schedules the next poll after Delay.
type PollAgain struct {
	Delay time.Duration
	// Strict says the poll must not run before Delay (a Retry-After);
	// otherwise it may run up to half a second early, on asynq's
	// whole-second schedule.
	Strict bool
	Reason string
}

// Error reads like "running, 40%, next poll in 6s": asynq keeps it as the
// task's last error, which the dashboard shows.
func (p *PollAgain) Error() string {
	return fmt.Sprintf("%s, next poll in %s", p.Reason, p.Delay.Round(100*time.Millisecond))
}

// IsFailure is asynq.Config.IsFailure: a PollAgain is not a failure.
func IsFailure(err error) bool {
	var again *PollAgain
	return !errors.As(err, &again)
}

// RetryDelay returns an asynq.Config.RetryDelayFunc that schedules a
// PollAgain after its delay, and anything else with asynq's default
// backoff; a task recovered after its worker died runs again at once. now
// is the clock asynq itself uses (time.Now in a program).
//
// asynq stores a retry time in whole Unix seconds, truncated, and moves a
// task when that second has begun; the delay is therefore rounded to the
// nearest whole second, so that a poll runs within half a second of its
// due time either way, or up to the next whole second when it is Strict,
// so that a provider's Retry-After is honoured. With a short
// DelayedTaskCheckInterval the poll then runs within a tick of that
// second.
func RetryDelay(now func() time.Time) asynq.RetryDelayFunc {
	return func(n int, err error, t *asynq.Task) time.Duration {
		var again *PollAgain
		switch {
		case errors.As(err, &again) && again.Strict:
			return roundUpToSecond(now(), again.Delay)
		case errors.As(err, &again):
			return roundToSecond(now(), again.Delay)
		case errors.Is(err, asynq.ErrLeaseExpired):
			// The worker died mid-poll; the generation has waited long
			// enough for its lease to run out. Poll it again at once.
			return roundUpToSecond(now(), 0)
		default:
			return asynq.DefaultRetryDelayFunc(n, err, t)
		}
	}
}

// roundUpToSecond extends d so that now+d falls on a whole second.
func roundUpToSecond(now time.Time, d time.Duration) time.Duration {
	due := now.Add(d)
	if frac := due.Sub(due.Truncate(time.Second)); frac > 0 {
		d += time.Second - frac
	}
	return d
}

// roundToSecond changes d so that now+d falls on the nearest whole second,
// never earlier than now.
func roundToSecond(now time.Time, d time.Duration) time.Duration {
	due := now.Add(d)
	rounded := due.Round(time.Second)
	if rounded.Before(now) {
		rounded = rounded.Add(time.Second)
	}
	return rounded.Sub(now)
}
