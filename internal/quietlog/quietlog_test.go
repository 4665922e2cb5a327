package quietlog_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch/internal/quietlog"
)

// clock is a zapcore.Clock that the test moves.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time                         { return c.now }
func (c *clock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

type bundle struct {
	q     *quietlog.Quieter
	clock *clock
	log   *zap.Logger
	logs  *observer.ObservedLogs
}

func setup(t *testing.T, cfg quietlog.Config) *bundle {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	q := quietlog.New(cfg)
	return &bundle{q: q, clock: c, log: q.Logger(zap.New(core, zap.WithClock(c))), logs: logs}
}

func TestAnOutageIsLoggedOnceAMinute(t *testing.T) {
	t.Parallel()
	b := setup(t, quietlog.Config{})
	redis := b.log.Named("asynq")
	// Ten minutes of a loop failing every 100 ms, with the local port of
	// the failed connection changing each time.
	for i := range 6000 {
		redis.Error(fmt.Sprintf("Failed to forward scheduled tasks: dial tcp 127.0.0.1:%d: connection refused", 40000+i%1000))
		b.clock.now = b.clock.now.Add(100 * time.Millisecond)
	}
	lines := b.logs.All()
	require.Len(t, lines, 10, "the first line, then one a minute")
	require.Empty(t, lines[0].ContextMap(), "the first line as it came")
	for _, l := range lines[1:] {
		require.Equal(t, map[string]any{"repeated": int64(599), "repeated_over": time.Minute}, l.ContextMap())
	}
	require.Equal(t, 6000-10, b.q.Reset(), "every other line was held back")
	redis.Error("Failed to forward scheduled tasks: dial tcp 127.0.0.1:40000: connection refused")
	require.Equal(t, 11, b.logs.Len(), "after a reset the next line is written at once")
}

func TestWhatCountsAsARepeat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc    string
		second  func(log *zap.Logger)
		written int
	}{
		{"same message, other digits and fields", func(l *zap.Logger) { l.Warn("read failed after 42 tries", zap.String("stream", "s2")) }, 1},
		{"another message", func(l *zap.Logger) { l.Warn("ack failed after 3 tries") }, 2},
		{"another level", func(l *zap.Logger) { l.Error("read failed after 3 tries") }, 2},
		{"another logger", func(l *zap.Logger) { l.Named("feed").Warn("read failed after 3 tries") }, 2},
		{"a logger with fields", func(l *zap.Logger) { l.With(zap.String("route", "r")).Warn("read failed after 3 tries") }, 1},
		{"info is never held back", func(l *zap.Logger) { l.Info("read failed after 3 tries") }, 2},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, quietlog.Config{})
			b.log.Warn("read failed after 3 tries", zap.String("stream", "s1"))
			b.clock.now = b.clock.now.Add(time.Second)
			tc.second(b.log)
			require.Equal(t, tc.written, b.logs.Len())
		})
	}
}

func TestInfoLinesAreAllWritten(t *testing.T) {
	t.Parallel()
	b := setup(t, quietlog.Config{})
	for range 5 {
		b.log.Info("tick")
	}
	require.Equal(t, 5, b.logs.Len())
	require.Zero(t, b.q.Reset())
}

func TestLinesBeyondMaxLinesAreWritten(t *testing.T) {
	t.Parallel()
	b := setup(t, quietlog.Config{MaxLines: 2, Window: time.Minute})
	for _, msg := range []string{"a", "b", "c", "c", "a"} {
		b.log.Warn(msg)
	}
	require.Equal(t, []string{"a", "b", "c", "c"}, messages(b.logs), "c is not remembered, a is held back")

	// Once its window has ended, b's room is free again; a keeps its
	// count of repeats held back, to write it with the next a.
	b.clock.now = b.clock.now.Add(time.Minute)
	b.log.Warn("d")
	b.log.Warn("d")
	b.log.Warn("a")
	require.Equal(t, []string{"a", "b", "c", "c", "d", "a"}, messages(b.logs))
	require.Equal(t, map[string]any{"repeated": int64(1), "repeated_over": time.Minute}, b.logs.All()[5].ContextMap())
}

func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, l := range logs.All() {
		out = append(out, l.Message)
	}
	return out
}
