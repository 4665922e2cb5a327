package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
)

// taskOp is what one of asynqmon's task routes does with the task: a
// body to answer with as JSON, or nil for 204 No Content.
type taskOp func(queue, id string) (any, error)

// slashIDs serves the routes of the dashboard's API that name one task,
// when the task's ID has a "/", and hands every other request to next,
// the dashboard built from opts.
//
// asynqmon matches a task ID with gorilla/mux's {task_id}, which takes no
// "/", against the decoded path, so a task whose generation ID has one
// ("hooked:runs/2026/abc") could be neither shown nor acted on: no such
// request reached asynqmon's API (a GET was answered the dashboard's
// index page). These routes answer here as asynqmon's own
// handlers do, with the same inspector calls, formatters and read-only
// rule, except that a missing queue or task is 404 for every route.
func slashIDs(opts asynqmon.Options, in *asynq.Inspector, next http.Handler) http.Handler {
	ops := taskOps(in, opts)
	prefix := opts.RootPath + "/api/queues/"
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			next.ServeHTTP(rw, r)
			return
		}
		route, queue, id, ok := parseTaskRoute(r.Method, rest)
		op := ops[route]
		if !ok || op == nil {
			next.ServeHTTP(rw, r)
			return
		}
		if opts.ReadOnly && r.Method != http.MethodGet {
			http.Error(rw, fmt.Sprintf("API Server is running in read-only mode: %s request is not allowed", r.Method), http.StatusMethodNotAllowed)
			return
		}
		body, err := op(queue, id)
		switch {
		case errors.Is(err, asynq.ErrQueueNotFound), errors.Is(err, asynq.ErrTaskNotFound):
			http.Error(rw, strings.TrimPrefix(err.Error(), "asynq: "), http.StatusNotFound)
		case err != nil:
			http.Error(rw, strings.TrimPrefix(err.Error(), "asynq: "), http.StatusInternalServerError)
		case body == nil:
			rw.WriteHeader(http.StatusNoContent)
		default:
			rw.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(rw).Encode(body)
		}
	})
}

// parseTaskRoute reads the path of a request to the dashboard's API after
// "<root>/api/queues/": "<queue>/<collection>/<id>", or
// "<queue>/groups/<group>/<collection>/<id>", and for a POST an action
// after the ID's last ":". Queue and group names have no "/". It returns
// the route, as a key of taskOps ("POST retry_tasks:run"), and the queue
// and task ID; ok is false for any other path and for an ID without a
// "/", which asynqmon routes itself.
func parseTaskRoute(method, path string) (route, queue, id string, ok bool) {
	queue, rest, _ := strings.Cut(path, "/")
	var grouped string
	if after, isGroup := strings.CutPrefix(rest, "groups/"); isGroup {
		var group string
		group, rest, _ = strings.Cut(after, "/")
		if group == "" {
			return "", "", "", false
		}
		grouped = "groups/"
	}
	collection, id, _ := strings.Cut(rest, "/")
	route = method + " " + grouped + collection
	if method == http.MethodPost {
		i := strings.LastIndexByte(id, ':')
		if i < 0 {
			return "", "", "", false
		}
		route += id[i:]
		id = id[:i]
	}
	if queue == "" || !strings.Contains(id, "/") {
		return "", "", "", false
	}
	return route, queue, id, true
}

// taskOps are asynqmon's routes that name one task, by the key
// parseTaskRoute gives them, each doing what asynqmon's handler does.
func taskOps(in *asynq.Inspector, opts asynqmon.Options) map[string]taskOp {
	pf, rf := opts.PayloadFormatter, opts.ResultFormatter
	if pf == nil {
		pf = asynqmon.DefaultPayloadFormatter
	}
	if rf == nil {
		rf = asynqmon.DefaultResultFormatter
	}
	act := func(f func(queue, id string) error) taskOp {
		return func(queue, id string) (any, error) { return nil, f(queue, id) }
	}
	ops := map[string]taskOp{
		"GET tasks": func(queue, id string) (any, error) {
			info, err := in.GetTaskInfo(queue, id)
			if err != nil {
				return nil, err // asynq's own words, as asynqmon answers them
			}
			return newDashboardTask(info, pf, rf), nil
		},
	}
	for _, r := range []struct {
		method, action string
		collections    []string
		op             taskOp
	}{
		{"DELETE", "", []string{"pending", "scheduled", "retry", "archived", "completed", "groups/aggregating"}, act(in.DeleteTask)},
		{"POST", ":run", []string{"scheduled", "retry", "archived", "groups/aggregating"}, act(in.RunTask)},
		{"POST", ":archive", []string{"pending", "scheduled", "retry", "groups/aggregating"}, act(in.ArchiveTask)},
		{"POST", ":cancel", []string{"active"}, act(func(_, id string) error { return in.CancelProcessing(id) })},
	} {
		for _, c := range r.collections {
			ops[r.method+" "+c+"_tasks"+r.action] = r.op
		}
	}
	return ops
}

// dashboardTask is a task as the dashboard's task page reads it: the JSON
// of asynqmon's taskInfo.
type dashboardTask struct {
	ID            string `json:"id"`
	Queue         string `json:"queue"`
	Type          string `json:"type"`
	Payload       string `json:"payload"`
	State         string `json:"state"`
	MaxRetry      int    `json:"max_retry"`
	Retried       int    `json:"retried"`
	LastErr       string `json:"error_message"`
	LastFailedAt  string `json:"last_failed_at"`
	Timeout       int    `json:"timeout_seconds"`
	Deadline      string `json:"deadline"`
	NextProcessAt string `json:"next_process_at"`
	CompletedAt   string `json:"completed_at"`
	Result        string `json:"result"`
	TTL           int64  `json:"ttl_seconds"`
}

// newDashboardTask converts info as asynqmon's toTaskInfo does.
func newDashboardTask(info *asynq.TaskInfo, pf asynqmon.PayloadFormatter, rf asynqmon.ResultFormatter) dashboardTask {
	var ttl time.Duration
	if info.State == asynq.TaskStateCompleted {
		ttl = time.Until(info.CompletedAt.Add(info.Retention))
	}
	return dashboardTask{
		ID:            info.ID,
		Queue:         info.Queue,
		Type:          info.Type,
		Payload:       pf.FormatPayload(info.Type, info.Payload),
		State:         info.State.String(),
		MaxRetry:      info.MaxRetry,
		Retried:       info.Retried,
		LastErr:       info.LastErr,
		LastFailedAt:  rfc3339(info.LastFailedAt),
		Timeout:       int(info.Timeout.Seconds()),
		Deadline:      rfc3339(info.Deadline),
		NextProcessAt: rfc3339(info.NextProcessAt),
		CompletedAt:   rfc3339(info.CompletedAt),
		Result:        rf.FormatResult("", info.Result), // asynqmon's task page passes no type
		TTL:           int64(ttl.Seconds()),
	}
}

// rfc3339 formats t as asynqmon does, "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}
