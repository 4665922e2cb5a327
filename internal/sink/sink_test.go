package sink_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/secret"
	"github.com/genwatch/genwatch/internal/sink"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("a webhook signing secret"))

func testEvent(t *testing.T) (genwatch.Event, []byte) {
	t.Helper()
	e := genwatch.Event{
		ID: genwatch.EventID("hoox", "g1", genwatch.StatusCompleted), Type: "generation.completed",
		Status: genwatch.StatusCompleted, Provider: "hoox", GenerationID: "g1", Account: "default",
	}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	return e, b
}

func TestWebhookIsSignedPerStandardWebhooks(t *testing.T) {
	t.Parallel()
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header, body}
	}))
	t.Cleanup(srv.Close)
	now := time.Now()
	wh, err := sink.NewWebhook(sink.WebhookConfig{URL: srv.URL, Secret: secret.Value(testSecret), Now: func() time.Time { return now }})
	require.NoError(t, err)

	event, encoded := testEvent(t)
	require.NoError(t, wh.Deliver(context.Background(), event, encoded))
	d := <-got
	require.Equal(t, event.ID, d.header.Get("webhook-id"), "the id is stable across retries")
	require.Equal(t, "application/json", d.header.Get("Content-Type"))
	require.JSONEq(t, string(encoded), string(d.body))

	verifier, err := standardwebhooks.NewWebhook(testSecret)
	require.NoError(t, err)
	require.NoError(t, verifier.Verify(d.body, d.header), "a receiver verifies it with the shared secret")
	other, err := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret")))
	require.NoError(t, err)
	require.Error(t, other.Verify(d.body, d.header))
}

func TestWebhookFailuresAreErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	wh, err := sink.NewWebhook(sink.WebhookConfig{URL: srv.URL, Secret: secret.Value(testSecret)})
	require.NoError(t, err)
	event, encoded := testEvent(t)
	require.ErrorContains(t, wh.Deliver(context.Background(), event, encoded), "answered 502")

	_, err = sink.NewWebhook(sink.WebhookConfig{URL: srv.URL, Secret: "not-a-secret!"})
	require.Error(t, err, "a malformed secret is refused at start")
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	require.Equal(t, time.Second, sink.RetryDelay(0, 0))
	require.Equal(t, 8*time.Second, sink.RetryDelay(3, 0))
	require.Equal(t, 15*time.Minute, sink.RetryDelay(30, 0))
	require.Equal(t, 15*time.Minute+45*time.Second, sink.RetryDelay(40, 0.5), "jitter adds up to 10%")
}

func TestFanoutEnqueuesEachDeliveryOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.New(t)
	client := asynq.NewClientFromRedisClient(srv.Client)
	queue := redistest.Name(t, "deliveries")
	downstream := redistest.Name(t, "downstream")
	f := sink.NewFanout(client, sink.FanoutConfig{TaskQueue: downstream, DeliveryQueue: queue, Sinks: []string{"webhook", "handler:billing"}})
	require.True(t, f.Enabled())

	event, encoded := testEvent(t)
	require.NoError(t, f.Fanout(ctx, event, encoded))
	require.NoError(t, f.Fanout(ctx, event, encoded), "a second call (a rerun) adds nothing")

	inspector := asynq.NewInspectorFromRedisClient(srv.Client)
	pending, err := inspector.ListPendingTasks(queue)
	require.NoError(t, err)
	require.Len(t, pending, 2)
	ids := []string{pending[0].ID, pending[1].ID}
	require.ElementsMatch(t, []string{"webhook:" + event.ID, "handler:billing:" + event.ID}, ids)
	task, err := inspector.GetTaskInfo(downstream, event.ID)
	require.NoError(t, err)
	require.Equal(t, genwatch.TaskTypeEvent, task.Type)
	require.JSONEq(t, string(encoded), string(task.Payload))

	// The deliver handler hands each task's event to its sink.
	var delivered []string
	h := sink.NewDeliverHandler(map[string]sink.Sink{
		"webhook": sink.Func(func(_ context.Context, e genwatch.Event, _ []byte) error {
			delivered = append(delivered, "webhook "+e.ID)
			return nil
		}),
		"handler:billing": sink.Func(func(context.Context, genwatch.Event, []byte) error { return errors.New("down") }),
	}, nil)
	for _, p := range pending {
		err := h.ProcessTask(ctx, asynq.NewTask(p.Type, p.Payload))
		if p.ID == "webhook:"+event.ID {
			require.NoError(t, err)
		} else {
			require.ErrorContains(t, err, "down")
			require.NotErrorIs(t, err, asynq.SkipRetry, "a failing sink is retried")
		}
	}
	require.Equal(t, []string{"webhook " + event.ID}, delivered)

	err = h.ProcessTask(ctx, asynq.NewTask(sink.TaskTypeDeliver, []byte(`{"sink":"gone","event":{"id":"x","status":"completed"}}`)))
	require.ErrorIs(t, err, asynq.SkipRetry, "a sink this worker does not have is not retried")
	err = h.ProcessTask(ctx, asynq.NewTask(sink.TaskTypeDeliver, []byte(`not json`)))
	require.ErrorIs(t, err, asynq.SkipRetry)
}
