package worker_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/worker"
)

// TestLoggerWritesNoStackTraces: the errors a worker logs are a network's,
// a provider's or Redis's, and a stack trace under each would bury them.
func TestLoggerWritesNoStackTraces(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "console"} {
		log, err := worker.NewLogger(config.Log{Level: "info", Format: format})
		require.NoError(t, err)
		ce := log.Check(zap.ErrorLevel, "redis is unreachable")
		require.NotNil(t, ce, format)
		require.Empty(t, ce.Stack, format)
	}
}
