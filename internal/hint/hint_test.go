package hint_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/hint"
	"github.com/genwatch/genwatch/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// inspector is a fake asynq inspector: one task state per task ID, and the
// tasks run.
type inspector struct {
	mu     sync.Mutex
	states map[string]asynq.TaskState
	// runErr, when set, is what RunTask answers; after it the task is in
	// movedTo.
	runErr  error
	movedTo asynq.TaskState
	ran     []string
	queues  []string
}

func (f *inspector) GetTaskInfo(queue, id string) (*asynq.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queues = append(f.queues, queue)
	st, ok := f.states[id]
	if !ok {
		return nil, asynq.ErrTaskNotFound
	}
	return &asynq.TaskInfo{ID: id, Queue: queue, State: st}, nil
}

func (f *inspector) RunTask(queue, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runErr != nil {
		f.states[id] = f.movedTo
		return f.runErr
	}
	f.ran = append(f.ran, id)
	f.states[id] = asynq.TaskStatePending
	return nil
}

func TestPollNow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		state asynq.TaskState // zero: no such task
		want  hint.Outcome
		ran   bool
	}{
		{"waiting for a retry", asynq.TaskStateRetry, hint.Polled, true},
		{"scheduled", asynq.TaskStateScheduled, hint.Polled, true},
		{"being polled", asynq.TaskStateActive, hint.NotWaiting, false},
		{"already due", asynq.TaskStatePending, hint.NotWaiting, false},
		{"ended", asynq.TaskStateCompleted, hint.NotWaiting, false},
		{"archived", asynq.TaskStateArchived, hint.NotWaiting, false},
		{"not tracked", 0, hint.NotWaiting, false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			insp := &inspector{states: map[string]asynq.TaskState{}}
			if tt.state != 0 {
				insp.states["hoox:a"] = tt.state
			}
			shards := genwatch.Shards{Queue: redistest.Name(t, "q")}
			r := hint.New(hint.Config{Redis: srv.Client, Inspector: insp, Shards: shards})
			got, err := r.PollNow(t.Context(), "hoox:a")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.ran, len(insp.ran) == 1)
			require.Equal(t, shards.QueueOf("hoox:a"), insp.queues[0])

			// Within the debounce, nothing more happens, whatever the state.
			insp.states["hoox:a"] = asynq.TaskStateRetry
			got, err = r.PollNow(t.Context(), "hoox:a")
			require.NoError(t, err)
			require.Equal(t, hint.Debounced, got)
			require.Len(t, insp.queues, 1, "a debounced hint costs one Redis command")
		})
	}
}

func TestDebounceIsPerGenerationAndExpires(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	insp := &inspector{states: map[string]asynq.TaskState{"hoox:a": asynq.TaskStateRetry, "hoox:b": asynq.TaskStateRetry}}
	r := hint.New(hint.Config{Redis: srv.Client, Inspector: insp, Shards: genwatch.Shards{Queue: redistest.Name(t, "q")}, Debounce: 200 * time.Millisecond})
	for _, id := range []string{"hoox:a", "hoox:b"} {
		got, err := r.PollNow(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, hint.Polled, got, id)
	}
	insp.states["hoox:a"] = asynq.TaskStateRetry
	got, _ := r.PollNow(t.Context(), "hoox:a")
	require.Equal(t, hint.Debounced, got)
	require.Eventually(t, func() bool {
		if srv.Mini != nil {
			srv.Mini.FastForward(100 * time.Millisecond)
		}
		got, err := r.PollNow(t.Context(), "hoox:a")
		return err == nil && got == hint.Polled
	}, 10*time.Second, 20*time.Millisecond, "the debounce ends")
	require.Equal(t, []string{"hoox:a", "hoox:b", "hoox:a"}, insp.ran)
}

func TestRunTaskRace(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	failed := errors.New("FailedPrecondition: task is already running")
	insp := &inspector{states: map[string]asynq.TaskState{"hoox:a": asynq.TaskStateRetry, "hoox:b": asynq.TaskStateRetry}, runErr: failed, movedTo: asynq.TaskStateActive}
	r := hint.New(hint.Config{Redis: srv.Client, Inspector: insp, Shards: genwatch.Shards{Queue: redistest.Name(t, "q")}})
	got, err := r.PollNow(t.Context(), "hoox:a")
	require.NoError(t, err, "the task moved on: what the hint asked for happens anyway")
	require.Equal(t, hint.NotWaiting, got)

	insp.movedTo = asynq.TaskStateRetry
	_, err = r.PollNow(t.Context(), "hoox:b")
	require.ErrorIs(t, err, failed, "still waiting, and not run: an error")
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	r := hint.New(hint.Config{Redis: srv.Client, Inspector: &inspector{}, Shards: genwatch.Shards{}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := r.PollNow(ctx, "hoox:a")
	require.ErrorContains(t, err, "hint hoox:a")
}

// recorder records hints like the store does.
type recorder struct {
	mu    sync.Mutex
	hints []string
}

func (r *recorder) Hint(_ context.Context, taskID string, _ time.Time, _ time.Duration) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hints = append(r.hints, taskID)
	return true, nil
}

func TestHintIsRecordedForTheNextPoll(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	insp := &inspector{states: map[string]asynq.TaskState{
		"hoox:waiting": asynq.TaskStateRetry, "hoox:polled": asynq.TaskStateActive, "hoox:ended": asynq.TaskStateCompleted,
	}}
	rec := &recorder{}
	r := hint.New(hint.Config{Redis: srv.Client, Inspector: insp, Recorder: rec, Shards: genwatch.Shards{Queue: redistest.Name(t, "q")}})
	for _, id := range []string{"hoox:waiting", "hoox:polled", "hoox:ended", "hoox:unknown"} {
		_, err := r.PollNow(t.Context(), id)
		require.NoError(t, err)
	}
	_, err := r.PollNow(t.Context(), "hoox:waiting")
	require.NoError(t, err)
	require.Equal(t, []string{"hoox:waiting", "hoox:polled"}, rec.hints,
		"a waiting or running generation keeps the hint, once per debounce; an ended or unknown one writes nothing")
}
