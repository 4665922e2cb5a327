// Package quietlog keeps a failure that repeats from flooding the log:
// while Redis is down, every loop of a worker fails again and again, each
// time with the same line. The first of those lines is written; its
// repeats are counted, not written, for Config.Window; the first repeat
// after that is written with the count ("repeated") and the time they
// span ("repeated_over"), and the window starts over.
//
// Two lines are repeats when they come from loggers of the same name, at
// the same level, with the same message once its digits are left out
// (ports, counts and durations change from one failure to the next); their
// fields are not compared. Only warnings and errors are held back; the
// time of a line is the logger's (zap.WithClock), so that a test can move
// it.
package quietlog

import (
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config configures a Quieter.
type Config struct {
	// Window is how long the repeats of a written line are counted rather
	// than written. If zero, 1 minute.
	Window time.Duration
	// MaxLines bounds how many different lines are remembered; a line
	// beyond it is written as it comes. If zero, 1000.
	MaxLines int
}

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.MaxLines <= 0 {
		c.MaxLines = 1000
	}
	return c
}

// Quieter holds back the repeats of the lines of the loggers it wraps; the
// loggers of one Quieter share what it remembers. It is safe for
// concurrent use.
type Quieter struct {
	cfg   Config
	mu    sync.Mutex
	lines map[string]*line
	held  int
}

// line is what a Quieter remembers of a line.
type line struct {
	// written is when the line was last written.
	written time.Time
	// held counts the repeats held back since.
	held int
}

// New returns a Quieter.
func New(cfg Config) *Quieter {
	return &Quieter{cfg: cfg.withDefaults(), lines: map[string]*line{}}
}

// Logger returns log with its repeated warnings and errors held back.
func (q *Quieter) Logger(log *zap.Logger) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return &core{Core: c, q: q} }))
}

// Reset forgets every line, so that the next of each is written at once,
// and returns how many lines were held back since the last Reset: for a
// summary once the failure behind them has ended.
func (q *Quieter) Reset() (held int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	held = q.held
	q.held = 0
	clear(q.lines)
	return held
}

// admit says whether ent is written and, if so, how many repeats of it
// were held back since it was last written, at written.
func (q *Quieter) admit(ent zapcore.Entry) (write bool, held int, written time.Time) {
	k := key(ent)
	q.mu.Lock()
	defer q.mu.Unlock()
	l, ok := q.lines[k]
	switch {
	case !ok:
		if len(q.lines) >= q.cfg.MaxLines && !q.forget(ent.Time) {
			return true, 0, time.Time{}
		}
		q.lines[k] = &line{written: ent.Time}
		return true, 0, time.Time{}
	case ent.Time.Sub(l.written) < q.cfg.Window:
		l.held++
		q.held++
		return false, 0, time.Time{}
	default:
		held, written = l.held, l.written
		*l = line{written: ent.Time}
		return true, held, written
	}
}

// forget drops the lines whose window has ended with nothing held back;
// false when that leaves no room.
func (q *Quieter) forget(now time.Time) bool {
	for k, l := range q.lines {
		if l.held == 0 && now.Sub(l.written) >= q.cfg.Window {
			delete(q.lines, k)
		}
	}
	return len(q.lines) < q.cfg.MaxLines
}

// key names the line of ent: logger, level and message without digits.
func key(ent zapcore.Entry) string {
	msg := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, ent.Message)
	return ent.LoggerName + "\x00" + ent.Level.String() + "\x00" + msg
}

// core holds back repeats before the wrapped core sees them.
type core struct {
	zapcore.Core
	q *Quieter
}

func (c *core) With(fields []zapcore.Field) zapcore.Core {
	return &core{Core: c.Core.With(fields), q: c.q}
}

func (c *core) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if !c.Enabled(ent.Level) {
		return ce
	}
	if ent.Level < zapcore.WarnLevel {
		return c.Core.Check(ent, ce)
	}
	write, held, written := c.q.admit(ent)
	switch {
	case !write:
		return ce
	case held == 0:
		return c.Core.Check(ent, ce)
	default:
		return c.Core.With([]zapcore.Field{
			zap.Int("repeated", held),
			zap.Duration("repeated_over", ent.Time.Sub(written)),
		}).Check(ent, ce)
	}
}
