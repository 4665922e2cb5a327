package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/redistest"
)

func TestParseTaskRoute(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method, path     string
		route, queue, id string // route "" when asynqmon routes the request itself
	}{
		{"GET", "q/tasks/hooked:runs/2026/abc", "GET tasks", "q", "hooked:runs/2026/abc"},
		{"DELETE", "q/retry_tasks/hooked:a/b", "DELETE retry_tasks", "q", "hooked:a/b"},
		{"POST", "q/retry_tasks/hooked:a/b:run", "POST retry_tasks:run", "q", "hooked:a/b"},
		{"POST", "q/pending_tasks/hooked:a/b:archive", "POST pending_tasks:archive", "q", "hooked:a/b"},
		{"POST", "q/active_tasks/hooked:a/b:cancel", "POST active_tasks:cancel", "q", "hooked:a/b"},
		{"POST", "q/groups/g/aggregating_tasks/hooked:a:b/c:run", "POST groups/aggregating_tasks:run", "q", "hooked:a:b/c"},
		{"DELETE", "q/groups/g/aggregating_tasks/hooked:a/b", "DELETE groups/aggregating_tasks", "q", "hooked:a/b"},
		{"GET", "q/tasks/hooked:a/b:run", "GET tasks", "q", "hooked:a/b:run"},
		// An unknown route parses, and taskOps has no key for it.
		{"POST", "q/retry_tasks/hooked:a/b:c/d", "POST retry_tasks:c/d", "q", "hooked:a/b"},
		{"DELETE", "q/groups/g/retry_tasks/hooked:a/b", "DELETE groups/retry_tasks", "q", "hooked:a/b"},

		// IDs without "/", and routes that name no task.
		{"GET", "q/tasks/hooked:abc", "", "", ""},
		{"POST", "q/retry_tasks/hooked:abc:run", "", "", ""},
		{"POST", "q/retry_tasks/hooked:a/b", "", "", ""},
		{"GET", "q/pending_tasks", "", "", ""},
		{"POST", "q/retry_tasks:batch_run", "", "", ""},
		{"POST", "q/groups/g/aggregating_tasks:run_all", "", "", ""},
		{"GET", "q/groups", "", "", ""},
		{"POST", "q:pause", "", "", ""},
		{"GET", "q", "", "", ""},
		{"GET", "", "", "", ""},
		{"GET", "/tasks/a/b", "", "", ""},
		{"DELETE", "q/groups//aggregating_tasks/a/b", "", "", ""},
	} {
		route, queue, id, ok := parseTaskRoute(c.method, c.path)
		require.Equal(t, c.route != "", ok, "%s %s", c.method, c.path)
		require.Equal(t, []string{c.route, c.queue, c.id}, []string{route, queue, id}, "%s %s", c.method, c.path)
	}
	ops := taskOps(nil, asynqmon.Options{})
	require.Len(t, ops, 1+6+4+4+1, "asynqmon's routes that name one task")
	require.NotContains(t, ops, "POST retry_tasks:c/d")
	require.NotContains(t, ops, "DELETE groups/retry_tasks")
	require.NotContains(t, ops, "DELETE aggregating_tasks")
	require.NotContains(t, ops, "DELETE active_tasks")
}

// TestDashboardServesSlashIDs asks the dashboard's API about tasks whose
// IDs have a "/", each beside a twin of the same task, state and queue
// whose ID has none, which asynqmon serves itself: both answer the same,
// with the options' formatters, and leave their task in the same state.
func TestDashboardServesSlashIDs(t *testing.T) {
	t.Parallel()
	rs := redistest.New(t)
	q, qrun := redistest.Name(t, "dash"), redistest.Name(t, "dashrun")
	opts := asynqmon.Options{
		RootPath:         DashboardPath,
		RedisConnOpt:     sharedConn{rs.Client},
		PayloadFormatter: asynqmon.PayloadFormatterFunc(func(typ string, b []byte) string { return "payload of " + typ + ": " + string(b) }),
		ResultFormatter:  asynqmon.ResultFormatterFunc(func(typ string, b []byte) string { return "result of " + typ + ": " + string(b) }),
	}
	in := asynq.NewInspectorFromRedisClient(rs.Client)
	h := slashIDs(opts, in, asynqmon.New(opts))
	readOnly := opts
	readOnly.ReadOnly = true
	hro := slashIDs(readOnly, in, asynqmon.New(readOnly))

	const gone = asynq.TaskState(0)
	cases := []struct {
		state     string // "retry" and "completed" are made by processing, in qrun
		readOnly  bool
		method    string
		path      string // after the queue, %s for the ID
		wantCode  int
		wantState asynq.TaskState
	}{
		{"pending", false, "GET", "tasks/%s", http.StatusOK, asynq.TaskStatePending},
		{"retry", false, "GET", "tasks/%s", http.StatusOK, asynq.TaskStateRetry},
		{"completed", false, "GET", "tasks/%s", http.StatusOK, asynq.TaskStateCompleted},
		{"pending", false, "DELETE", "pending_tasks/%s", http.StatusNoContent, gone},
		{"pending", false, "POST", "pending_tasks/%s:archive", http.StatusNoContent, asynq.TaskStateArchived},
		{"scheduled", false, "DELETE", "scheduled_tasks/%s", http.StatusNoContent, gone},
		{"scheduled", false, "POST", "scheduled_tasks/%s:run", http.StatusNoContent, asynq.TaskStatePending},
		{"scheduled", false, "POST", "scheduled_tasks/%s:archive", http.StatusNoContent, asynq.TaskStateArchived},
		{"retry", false, "DELETE", "retry_tasks/%s", http.StatusNoContent, gone},
		{"retry", false, "POST", "retry_tasks/%s:run", http.StatusNoContent, asynq.TaskStatePending},
		{"retry", false, "POST", "retry_tasks/%s:archive", http.StatusNoContent, asynq.TaskStateArchived},
		{"archived", false, "DELETE", "archived_tasks/%s", http.StatusNoContent, gone},
		{"archived", false, "POST", "archived_tasks/%s:run", http.StatusNoContent, asynq.TaskStatePending},
		{"completed", false, "DELETE", "completed_tasks/%s", http.StatusNoContent, gone},
		{"aggregating", false, "DELETE", "groups/g/aggregating_tasks/%s", http.StatusNoContent, gone},
		{"aggregating", false, "POST", "groups/g/aggregating_tasks/%s:run", http.StatusNoContent, asynq.TaskStatePending},
		{"aggregating", false, "POST", "groups/g/aggregating_tasks/%s:archive", http.StatusNoContent, asynq.TaskStateArchived},
		{"retry", true, "GET", "tasks/%s", http.StatusOK, asynq.TaskStateRetry},
		{"retry", true, "POST", "retry_tasks/%s:run", http.StatusMethodNotAllowed, asynq.TaskStateRetry},
		{"pending", true, "DELETE", "pending_tasks/%s", http.StatusMethodNotAllowed, asynq.TaskStatePending},
	}

	// Each case has two tasks: ids[i][0], with a "/", and its twin.
	client := asynq.NewClientFromRedisClient(rs.Client)
	t.Cleanup(func() { _ = client.Close() })
	ids := make([][2]string, len(cases))
	queueOf := func(state string) string {
		if state == "retry" || state == "completed" {
			return qrun
		}
		return q
	}
	for i, c := range cases {
		ids[i] = [2]string{fmt.Sprintf("hooked:runs/%d/%s", i, c.state), fmt.Sprintf("hooked:runs-%d-%s", i, c.state)}
		for _, id := range ids[i] {
			typ, opt := "ok", []asynq.Option{asynq.TaskID(id), asynq.Queue(queueOf(c.state)), asynq.Retention(time.Hour)}
			switch c.state {
			case "retry":
				typ = "fail"
			case "scheduled":
				opt = append(opt, asynq.ProcessIn(time.Hour))
			case "aggregating":
				opt = append(opt, asynq.Group("g"))
			}
			_, err := client.Enqueue(asynq.NewTask(typ, []byte(`{"n":`+fmt.Sprint(i)+`}`)), opt...)
			require.NoError(t, err)
			if c.state == "archived" {
				require.NoError(t, in.ArchiveTask(q, id))
			}
		}
	}
	processOnce(t, rs, qrun)

	for i, c := range cases {
		name := fmt.Sprintf("%s %s %s", c.method, c.path, c.state)
		if c.readOnly {
			name += " read-only"
		}
		queue := queueOf(c.state)
		serve := h
		if c.readOnly {
			serve = hro
		}
		var got [2]*httptest.ResponseRecorder
		for j, id := range ids[i] {
			got[j] = call(serve, c.method, DashboardPath+"/api/queues/"+queue+"/"+fmt.Sprintf(c.path, id))
			require.Equal(t, c.wantCode, got[j].Code, "%s: %s: %s", name, id, got[j].Body)
			info, err := in.GetTaskInfo(queue, id)
			if c.wantState == gone {
				require.ErrorIs(t, err, asynq.ErrTaskNotFound, "%s: %s", name, id)
				continue
			}
			require.NoError(t, err, "%s: %s", name, id)
			require.Equal(t, c.wantState, info.State, "%s: %s", name, id)
		}
		if c.method != http.MethodGet {
			require.Equal(t, got[1].Body.String(), got[0].Body.String(), name)
			continue
		}
		slash, twin := decodeTask(t, got[0]), decodeTask(t, got[1])
		require.Equal(t, ids[i][0], slash["id"], name)
		require.Equal(t, "application/json", got[0].Header().Get("Content-Type"))
		requireSameTask(t, twin, slash, name)
		switch c.state {
		case "retry":
			require.Equal(t, "waits for its next poll", slash["error_message"], name)
			require.Equal(t, fmt.Sprintf(`payload of fail: {"n":%d}`, i), slash["payload"], name)
		case "completed":
			require.Equal(t, `result of : {"done":true}`, slash["result"], "%s: the result formatter as asynqmon calls it on a task's page", name)
		}
	}

	// Missing queues and tasks: 404, as asynqmon answers a GET; asynqmon
	// answers the actions 500.
	for _, path := range []string{"tasks/hooked:no/such", "tasks/hooked:no-such"} {
		rec := call(h, http.MethodGet, DashboardPath+"/api/queues/"+q+"/"+path)
		require.Equal(t, http.StatusNotFound, rec.Code, path)
		require.Equal(t, "task not found\n", rec.Body.String(), path)
		rec = call(h, http.MethodGet, DashboardPath+"/api/queues/no-such-queue/"+path)
		require.Equal(t, http.StatusNotFound, rec.Code, path)
		require.Equal(t, "queue not found\n", rec.Body.String(), path)
	}
	rec := call(h, http.MethodPost, DashboardPath+"/api/queues/"+q+"/retry_tasks/hooked:no/such:run")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "task not found\n", rec.Body.String())

	// Cancelling publishes the ID to the processing servers.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := rs.Client.Subscribe(ctx, "asynq:cancel")
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx) // subscribed
	require.NoError(t, err)
	rec = call(h, http.MethodPost, DashboardPath+"/api/queues/"+q+"/active_tasks/hooked:runs/active:cancel")
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	for {
		msg, err := sub.ReceiveMessage(ctx)
		require.NoError(t, err, "the cancelation is published")
		if msg.Payload == "hooked:runs/active" {
			break
		}
	}
}

// processOnce runs an asynq server on queue until every task there has
// been tried once: "ok" tasks complete with a result, "fail" tasks fail
// and wait an hour to be retried.
func processOnce(t *testing.T, rs *redistest.Server, queue string) {
	t.Helper()
	srv := asynq.NewServerFromRedisClient(rs.Client, asynq.Config{
		Queues:         map[string]int{queue: 1},
		Concurrency:    2,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
		LogLevel:       asynq.ErrorLevel,
	})
	require.NoError(t, srv.Start(asynq.HandlerFunc(func(_ context.Context, task *asynq.Task) error {
		if task.Type() == "fail" {
			return errors.New("waits for its next poll")
		}
		_, err := task.ResultWriter().Write([]byte(`{"done":true}`))
		return err
	})))
	defer srv.Shutdown()
	in := asynq.NewInspectorFromRedisClient(rs.Client)
	require.Eventually(t, func() bool {
		qi, err := in.GetQueueInfo(queue)
		return err == nil && qi.Pending == 0 && qi.Active == 0 && qi.Retry+qi.Completed == qi.Size
	}, time.Minute, 20*time.Millisecond, "every task of %s tried once", queue)
}

func call(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func decodeTask(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	return m
}

// requireSameTask checks that two tasks read the same on the dashboard's
// task page but for their IDs, and for their times, which
// may be a few seconds apart.
func requireSameTask(t *testing.T, want, got map[string]any, name string) {
	t.Helper()
	require.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)), name)
	for k, w := range want {
		g := got[k]
		switch k {
		case "id":
		case "last_failed_at", "next_process_at", "completed_at", "deadline":
			require.Equal(t, w == "", g == "", "%s: %s is %q, want like %q", name, k, g, w)
			if w == "" {
				continue
			}
			wt, err := time.Parse(time.RFC3339, w.(string))
			require.NoError(t, err)
			gt, err := time.Parse(time.RFC3339, g.(string))
			require.NoError(t, err, "%s: %s", name, k)
			require.WithinDuration(t, wt, gt, 5*time.Second, "%s: %s", name, k)
		case "ttl_seconds":
			require.InDelta(t, w, g, 5, "%s: %s", name, k)
		default:
			require.Equal(t, w, g, "%s: %s", name, k)
		}
	}
}
