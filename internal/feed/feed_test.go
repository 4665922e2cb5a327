package feed_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/feed"
	"github.com/genwatch/genwatch/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

type testBundle struct {
	rdb    redis.UniversalClient
	stream string
	feed   *feed.Feed
	url    string
}

// setup runs a feed on the test's stream behind a real HTTP server.
func setup(t *testing.T, cfg feed.Config) *testBundle {
	t.Helper()
	srv := redistest.New(t)
	stream := redistest.Name(t, "events")
	if len(cfg.Streams) == 0 {
		cfg.Streams = []string{stream}
	}
	b := serve(t, srv.Client, cfg)
	b.stream = stream
	return b
}

// serve runs a feed on rdb behind a real HTTP server.
func serve(t *testing.T, rdb redis.UniversalClient, cfg feed.Config) *testBundle {
	t.Helper()
	b := &testBundle{rdb: rdb, feed: feed.New(rdb, cfg)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.feed.Run(ctx) }()
	hs := httptest.NewUnstartedServer(b.feed)
	hs.Listener = smallBuffers{hs.Listener}
	hs.Start()
	t.Cleanup(func() { cancel(); <-done; hs.Close() })
	b.url = hs.URL
	return b
}

// smallBuffers keeps the server's socket send buffers small, so that a
// client that stops reading is noticed after a few messages.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func event(provider, id string, status genwatch.Status) genwatch.Event {
	return genwatch.Event{
		ID: genwatch.EventID(provider, id, status), Type: status.EventType(), Status: status,
		Provider: provider, GenerationID: id, Account: "default",
	}
}

// add appends events to the stream as the worker does and returns their
// entry IDs.
func (b *testBundle) add(t *testing.T, stream string, events ...genwatch.Event) []string {
	t.Helper()
	ids := make([]string, len(events))
	for i, ev := range events {
		var err error
		ids[i], err = b.xadd(stream, ev)
		require.NoError(t, err)
	}
	return ids
}

func (b *testBundle) xadd(stream string, ev genwatch.Event) (string, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return "", err
	}
	return b.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: []any{genwatch.StreamField, string(raw)}}).Result()
}

// sse is a message or a comment read from a stream.
type sse struct {
	ID, Event, Data, Comment string
}

// client is one subscriber over HTTP.
type client struct {
	resp *http.Response
	msgs chan sse
}

func (b *testBundle) connect(t *testing.T, query string, header http.Header) *client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/v1/events"+query, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	c := &client{resp: resp, msgs: make(chan sse, 100_000)}
	go c.read()
	return c
}

func (c *client) read() {
	defer close(c.msgs)
	r := bufio.NewReader(c.resp.Body)
	var m sse
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if m != (sse{}) {
				c.msgs <- m
			}
			m = sse{}
		case strings.HasPrefix(line, ":"):
			m.Comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			m.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			m.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			m.Data = line[6:]
		}
	}
}

// next returns the next event message, skipping comments.
func (c *client) next(t *testing.T) sse {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			require.True(t, ok, "the stream ended")
			if m.Comment == "" {
				return m
			}
		case <-timeout:
			t.Fatal("no event within 10s")
		}
	}
}

// events reads n events and returns their generation IDs.
func (c *client) events(t *testing.T, n int) ([]string, string) {
	t.Helper()
	var ids []string
	last := ""
	for range n {
		m := c.next(t)
		ev, err := genwatch.DecodeEvent([]byte(m.Data))
		require.NoError(t, err)
		require.Equal(t, ev.Type, m.Event)
		ids = append(ids, ev.GenerationID)
		last = m.ID
	}
	return ids, last
}

func names(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func TestLiveDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{})
	c1 := b.connect(t, "", nil)
	c2 := b.connect(t, "", nil)
	waitSubscribers(t, b.feed, 2)

	ids := b.add(t, b.stream, event("hoox", "g1", genwatch.StatusCompleted), event("hooked", "g2", genwatch.StatusFailed))
	for _, c := range []*client{c1, c2} {
		m := c.next(t)
		require.Equal(t, ids[0], m.ID, "the message ID is the stream entry ID")
		require.Equal(t, "generation.completed", m.Event)
		ev, err := genwatch.DecodeEvent([]byte(m.Data))
		require.NoError(t, err)
		require.Equal(t, "g1", ev.GenerationID)
		m = c.next(t)
		require.Equal(t, ids[1], m.ID)
		require.Equal(t, "generation.failed", m.Event)
	}
}

func waitSubscribers(t *testing.T, f *feed.Feed, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return f.Stats().Subscribers == n }, 10*time.Second, 5*time.Millisecond)
}

func TestResumeAcrossAReconnectDuringABurst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc   string
		resume func(b *testBundle, t *testing.T, last string) *client
	}{
		{"Last-Event-ID", func(b *testBundle, t *testing.T, last string) *client {
			// A reconnecting EventSource keeps its URL: the header wins.
			return b.connect(t, "?after=0-0", http.Header{"Last-Event-ID": {last}})
		}},
		{"after", func(b *testBundle, t *testing.T, last string) *client {
			return b.connect(t, "?after="+last, nil)
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, feed.Config{})
			c := b.connect(t, "", nil)
			waitSubscribers(t, b.feed, 1)

			const total = 600
			burst := make(chan error, 1)
			go func() {
				for i := range total {
					if _, err := b.xadd(b.stream, event("hoox", fmt.Sprintf("g%d", i), genwatch.StatusCompleted)); err != nil {
						burst <- err
						return
					}
				}
				burst <- nil
			}()
			got, last := c.events(t, 100)
			require.NoError(t, c.resp.Body.Close()) // disconnect mid-burst

			c = tc.resume(b, t, last)
			rest, _ := c.events(t, total-100)
			require.NoError(t, <-burst)
			require.Equal(t, names("g", 0, total), append(got, rest...), "every event once, in order")

			// Nothing more: the next message is a new event.
			b.add(t, b.stream, event("hoox", "after", genwatch.StatusCompleted))
			more, _ := c.events(t, 1)
			require.Equal(t, []string{"after"}, more)
		})
	}
}

func TestResumeFromTheStart(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{Count: 7}) // several pages
	b.add(t, b.stream, func() []genwatch.Event {
		var evs []genwatch.Event
		for _, n := range names("old", 0, 30) {
			evs = append(evs, event("hoox", n, genwatch.StatusCompleted))
		}
		return evs
	}()...)
	c := b.connect(t, "?after=0", nil)
	got, _ := c.events(t, 30)
	require.Equal(t, names("old", 0, 30), got)
	waitSubscribers(t, b.feed, 1)
	b.add(t, b.stream, event("hoox", "new", genwatch.StatusCompleted))
	got, _ = c.events(t, 1)
	require.Equal(t, []string{"new"}, got)
}

func TestFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{})
	hooked := b.connect(t, "?provider=hooked", nil)
	failed := b.connect(t, "?provider=hoox,token360&status=failed", nil)
	completedType := b.connect(t, "?type=generation.completed", nil)
	waitSubscribers(t, b.feed, 3)

	b.add(t, b.stream,
		event("hoox", "a", genwatch.StatusCompleted),
		event("hooked", "b", genwatch.StatusCompleted),
		event("token360", "c", genwatch.StatusFailed),
		event("hooked", "d", genwatch.StatusTimedOut),
		event("hoox", "e", genwatch.StatusFailed),
	)
	got, _ := hooked.events(t, 2)
	require.Equal(t, []string{"b", "d"}, got)
	got, _ = failed.events(t, 2)
	require.Equal(t, []string{"c", "e"}, got)
	got, last := completedType.events(t, 2)
	require.Equal(t, []string{"a", "b"}, got)

	// Resuming a filtered stream skips what the filter skipped.
	c := b.connect(t, "?type=generation.completed&after="+last, nil)
	b.add(t, b.stream, event("hoox", "f", genwatch.StatusCompleted))
	got, _ = c.events(t, 1)
	require.Equal(t, []string{"f"}, got)
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{})
	for _, tc := range []struct{ desc, query, header, want string }{
		{"bad after", "?after=yesterday", "", "after: "},
		{"bad Last-Event-ID", "", "12-x", "Last-Event-ID: "},
		{"two streams' cursor for one", "?after=1-0,2-0", "", "want 1 comma-separated"},
		{"unknown type", "?type=generation.done", "", `type: unknown event type "generation.done"`},
		{"unknown status", "?status=ok", "", `status: unknown status "ok"`},
	} {
		req, err := http.NewRequest(http.MethodGet, b.url+"/v1/events"+tc.query, nil)
		require.NoError(t, err)
		if tc.header != "" {
			req.Header.Set("Last-Event-ID", tc.header)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err, tc.desc)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, tc.desc)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"), tc.desc)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "an error answer like every API one: %s", tc.desc)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.NoError(t, json.Unmarshal(body, &e), tc.desc)
		require.Equal(t, "invalid_request", e.Error.Code, tc.desc)
		require.Contains(t, e.Error.Message, tc.want, tc.desc)
	}
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClock()
	b := setup(t, feed.Config{Clock: clock, Heartbeat: 15 * time.Second})
	c := b.connect(t, "", nil)
	require.Equal(t, "connected", (<-c.msgs).Comment)
	require.NoError(t, clock.BlockUntilContext(t.Context(), 1))
	clock.Advance(15 * time.Second)
	require.Equal(t, sse{Comment: "heartbeat"}, <-c.msgs)
	clock.Advance(15 * time.Second)
	require.Equal(t, sse{Comment: "heartbeat"}, <-c.msgs)
}

func TestSeveralStreams(t *testing.T) {
	t.Parallel()
	base := redistest.Name(t, "events")
	streams := []string{base + "-0", base + "-1"}
	b := setup(t, feed.Config{Streams: streams})
	c := b.connect(t, "", nil)
	waitSubscribers(t, b.feed, 1)
	id0 := b.add(t, streams[0], event("hoox", "a", genwatch.StatusCompleted))
	got, last := c.events(t, 1)
	require.Equal(t, []string{"a"}, got)
	require.Equal(t, id0[0]+",0-0", last, "the ID holds a position in every stream")
	id1 := b.add(t, streams[1], event("hoox", "b", genwatch.StatusCompleted))
	got, last = c.events(t, 1)
	require.Equal(t, []string{"b"}, got)
	require.Equal(t, id0[0]+","+id1[0], last)

	b.add(t, streams[0], event("hoox", "c", genwatch.StatusCompleted))
	b.add(t, streams[1], event("hoox", "d", genwatch.StatusCompleted))
	resumed := b.connect(t, "?after="+last, nil)
	got, _ = resumed.events(t, 2)
	require.ElementsMatch(t, []string{"c", "d"}, got)
}

func TestASlowSubscriberIsCutOff(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{Buffer: 100})
	fast := b.connect(t, "", nil)
	slow := dialSlow(t, b.url)
	waitSubscribers(t, b.feed, 2)

	// Events big enough to fill the socket buffers of a client that
	// reads nothing.
	meta, err := json.Marshal(map[string]string{"pad": strings.Repeat("x", 8<<10)})
	require.NoError(t, err)
	const total = 600
	evs := make([]genwatch.Event, total)
	for i := range evs {
		evs[i] = event("hoox", fmt.Sprintf("g%d", i), genwatch.StatusCompleted)
		evs[i].Metadata = meta
	}
	// Written in steps the fast subscriber keeps up with, so that only
	// the one that reads nothing falls a buffer behind, however slow the
	// machine.
	const step = 50
	var got []string
	for i := 0; i < total; i += step {
		b.add(t, b.stream, evs[i:i+step]...)
		ids, _ := fast.events(t, step)
		got = append(got, ids...)
	}
	require.Equal(t, names("g", 0, total), got, "the fast subscriber gets everything")
	require.Eventually(t, func() bool { return b.feed.Stats().CutOff == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, b.feed.Stats().Subscribers)

	// The slow one's connection ends once it reads what was sent.
	_, err = io.Copy(io.Discard, slow)
	require.NoError(t, err)
}

// dialSlow subscribes with a tiny receive buffer and reads nothing until
// the caller drains the returned reader.
func dialSlow(t *testing.T, base string) io.Reader {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.DialContext(t.Context(), "tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: test\r\n\r\n")
	require.NoError(t, err)
	return conn
}
