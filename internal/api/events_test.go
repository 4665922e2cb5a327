package api_test

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/simulator"
)

func TestEventsOverTheAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})

	code, body := b.callWith(t, http.MethodGet, "/v1/events", nil, "")
	require.Equal(t, http.StatusUnauthorized, code, "%s", body)
	code, body = b.call(t, http.MethodGet, "/v1/events?after=yesterday", nil)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, decodeError(t, body).Error.Message, "after: ")
	code, body = b.call(t, http.MethodPost, "/v1/events", nil)
	require.Equal(t, http.StatusMethodNotAllowed, code, "%s", body)

	b.Sim.Create(simulator.Hooked, "vid-e", simulator.Plan{RunFor: time.Second})
	b.Sim.Create(simulator.Hoox, "other", simulator.Plan{RunFor: time.Second})
	for _, r := range []map[string]any{
		{"provider": "hoox", "generation_id": "other"},
		{"provider": "hooked", "generation_id": "vid-e"},
	} {
		code, body = b.call(t, http.MethodPost, "/v1/generations", r)
		require.Equal(t, http.StatusAccepted, code, "%s", body)
	}

	// From the start of the stream, so that the test does not race the
	// subscription; the stream call outlives the API's call timeout.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.base+"/v1/events?after=0&provider=hooked", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var read bytes.Buffer
	r := bufio.NewReader(resp.Body)
	var id, typ, data string
	for data == "" {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		read.WriteString(line)
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "event: "):
			typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
	b.http.Transport.(*validator).check(req, resp, read.Bytes())

	ev, err := genwatch.DecodeEvent([]byte(data))
	require.NoError(t, err)
	require.Equal(t, "vid-e", ev.GenerationID, "the provider filter skips hoox")
	require.Equal(t, ev.Type, typ)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	msgs, err := b.Redis.Client.XRangeN(t.Context(), b.Config.Events.Stream, id, id, 1).Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1, "the message ID is the stream entry ID")
	require.Equal(t, data, msgs[0].Values[genwatch.StreamField])
}
