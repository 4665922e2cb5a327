package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/api"
)

// frame builds an SSE message, without its id line, for an event.
func frame(typ, data string) []byte {
	var b bytes.Buffer
	b.Grow(len(typ) + len(data) + 16)
	b.WriteString("event: ")
	b.WriteString(typ)
	b.WriteByte('\n')
	// Event JSON has no raw line breaks; should one come, each line is
	// its own data line, which the client joins back with "\n".
	for line := range strings.Lines(strings.ReplaceAll(data, "\r\n", "\n")) {
		b.WriteString("data: ")
		b.WriteString(strings.TrimRight(line, "\r\n"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// filter selects the events a subscriber gets; an empty list lets all
// through.
type filter struct {
	providers, types, statuses []string
}

func (f filter) match(m *message) bool {
	return m.frame != nil &&
		(len(f.providers) == 0 || slices.Contains(f.providers, m.provider)) &&
		(len(f.types) == 0 || slices.Contains(f.types, m.typ)) &&
		(len(f.statuses) == 0 || slices.Contains(f.statuses, m.status))
}

var statuses = []genwatch.Status{genwatch.StatusCompleted, genwatch.StatusFailed, genwatch.StatusTimedOut, genwatch.StatusCanceled}

// parseFilter reads ?provider=, ?type= and ?status=, each repeatable or
// comma-separated.
func parseFilter(q url.Values) (filter, error) {
	list := func(name string) []string {
		var out []string
		for _, v := range q[name] {
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	f := filter{providers: list("provider"), types: list("type"), statuses: list("status")}
	for _, t := range f.types {
		if !slices.ContainsFunc(statuses, func(s genwatch.Status) bool { return s.EventType() == t }) {
			return filter{}, fmt.Errorf("type: unknown event type %q", t)
		}
	}
	for _, s := range f.statuses {
		if !slices.Contains(statuses, genwatch.Status(s)) {
			return filter{}, fmt.Errorf("status: unknown status %q", s)
		}
	}
	return f, nil
}

// ServeHTTP serves GET /v1/events: the completion events as server-sent
// events, from after the Last-Event-ID header or ?after= (the header wins,
// as a reconnecting EventSource sends it), or live from now.
func (f *Feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		api.WriteError(w, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "use GET")
		return
	}
	flt, err := parseFilter(r.URL.Query())
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, err.Error())
		return
	}
	var cursor Cursor
	after, field := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if after == "" {
		after, field = r.URL.Query().Get("after"), "after"
	}
	if after != "" {
		if cursor, err = ParseCursor(after, len(f.cfg.Streams)); err != nil {
			api.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, field+": "+err.Error())
			return
		}
	}
	select {
	case <-f.stopped:
		api.WriteError(w, http.StatusServiceUnavailable, api.CodeUnavailable, "the event feed is shutting down")
		return
	default:
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &session{feed: f, w: w, rc: http.NewResponseController(w), filter: flt, cursor: cursor}
	// The stream outlives the server's read timeout, which would otherwise
	// end it; each write has a deadline of its own.
	_ = s.rc.SetReadDeadline(time.Time{})
	if err := s.run(r.Context()); err != nil && !errors.Is(err, context.Canceled) {
		f.cfg.Logger.Debug("feed: subscriber left", zap.Error(err))
	}
}

// session is one subscriber's connection.
type session struct {
	feed   *Feed
	w      http.ResponseWriter
	rc     *http.ResponseController
	filter filter
	cursor Cursor
}

var errCutOff = errors.New("feed: subscriber fell behind and was cut off")

func (s *session) run(ctx context.Context) error {
	f := s.feed
	// A comment at once, so that the client sees the stream open.
	if err := s.write([]byte(": connected\n\n")); err != nil {
		return err
	}
	if err := s.flush(); err != nil {
		return err
	}
	if s.cursor != nil {
		if err := s.backfill(ctx, nil); err != nil {
			return err
		}
	}
	sub, pos, err := f.subscribe(ctx)
	if err != nil {
		return err
	}
	defer f.unsubscribe(sub)
	// A subscriber cut off while a write blocks on its full connection
	// stops at once rather than at the write's timeout.
	watched := make(chan struct{})
	defer close(watched)
	go func() {
		select {
		case <-sub.gone:
			_ = s.rc.SetWriteDeadline(time.Now())
		case <-watched:
		}
	}()
	if s.cursor == nil {
		s.cursor = pos
	} else if err := s.backfill(ctx, pos); err != nil {
		return err
	}

	heartbeat := f.cfg.Clock.NewTicker(f.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.gone:
			select {
			case <-f.stopped:
				return ErrStopped
			default:
				return errCutOff
			}
		case <-heartbeat.Chan():
			if err := s.write([]byte(": heartbeat\n\n")); err != nil {
				return err
			}
			if err := s.flush(); err != nil {
				return err
			}
		case m := <-sub.ch:
			if err := s.send(m); err != nil {
				return err
			}
			// Write what has queued up, then flush once.
			for more := true; more; {
				select {
				case m := <-sub.ch:
					if err := s.send(m); err != nil {
						return err
					}
				default:
					more = false
				}
			}
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
}

// send writes m if the filter lets it through and it comes after the
// cursor; either way the cursor moves past it.
func (s *session) send(m *message) error {
	if !s.cursor[m.stream].Less(m.id) {
		return nil // already sent
	}
	s.cursor[m.stream] = m.id
	if !s.filter.match(m) {
		return nil
	}
	if m.whole != nil {
		return s.write(m.whole)
	}
	var b bytes.Buffer
	b.Grow(len(m.frame) + 64)
	b.WriteString("id: ")
	b.WriteString(s.cursor.String())
	b.WriteByte('\n')
	b.Write(m.frame)
	return s.write(b.Bytes())
}

func (s *session) write(b []byte) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.feed.cfg.WriteTimeout))
	_, err := s.w.Write(b)
	return err
}

func (s *session) flush() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.feed.cfg.WriteTimeout))
	return s.rc.Flush()
}

// backfill sends every entry after the cursor, up to upTo in each stream
// (to each stream's end when upTo is nil), with XRANGE in pages.
func (s *session) backfill(ctx context.Context, upTo Cursor) error {
	f := s.feed
	for k, stream := range f.cfg.Streams {
		end := "+"
		if upTo != nil {
			if !s.cursor[k].Less(upTo[k]) {
				continue
			}
			end = upTo[k].String()
		}
		for {
			page, err := f.rdb.XRangeN(ctx, stream, s.cursor[k].next().String(), end, f.cfg.Count).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("feed: backfill %s: %w", stream, err)
			}
			for _, xm := range page {
				m, err := f.decode(k, xm)
				if err != nil {
					return fmt.Errorf("feed: backfill %s: %w", stream, err)
				}
				if err := s.send(m); err != nil {
					return err
				}
			}
			if err := s.flush(); err != nil {
				return err
			}
			if int64(len(page)) < f.cfg.Count {
				break
			}
		}
	}
	return nil
}
