package worker

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/quietlog"
	"github.com/genwatch/genwatch/internal/tty"
)

// NewLogger builds the process logger from the log configuration: JSON for
// production, or a human-readable console format, at the given level.
func NewLogger(c config.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	var zc zap.Config
	switch c.Format {
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	default:
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	}
	// The errors logged are a network's, a provider's or Redis's: where
	// the log call sits says nothing more, and a stack trace on every one
	// buries the message.
	zc.DisableStacktrace = true
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	if !tty.IsTerminal(os.Stderr) {
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		if c.Format != "console" {
			zc.EncoderConfig.EncodeLevel = zapcore.LowercaseLevelEncoder
		}
	}
	return zc.Build()
}

// RedisLogger adapts log to go-redis's process-wide logger, which reports
// connection pool trouble: it returns the interface redis.SetLogger takes,
// and a program sets it once, in main, with
// redis.SetLogger(worker.RedisLogger(log)). A line that repeats is written
// once a minute, with how many times it came.
func RedisLogger(log *zap.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return redisLogger{quietlog.New(quietlog.Config{}).Logger(log.Named("redis")).Sugar()}
}

type redisLogger struct{ log *zap.SugaredLogger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warnf(format, v...)
}
