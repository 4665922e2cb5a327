package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/demo"
	"github.com/genwatch/genwatch/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// syncBuffer lets the test read what the demo writes from another goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDemoEndsEverySample(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	opts := demo.Options{Out: &out, HTTPAddr: "127.0.0.1:0", ExitWhenDone: true}
	if redistest.Real() {
		opts.RedisURL = redistest.New(t).URL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, demo.Run(ctx, opts), out.String())

	text := out.String()
	for _, s := range demo.Samples() {
		line := "● generation." + string(s.Want) + "  " + s.Request.TaskID() + "  "
		require.Contains(t, text, line)
	}
	require.Equal(t, len(demo.Samples()), strings.Count(text, "● generation."), "one event per sample")
	require.Contains(t, text, "Dashboard: http://127.0.0.1:")
	require.Contains(t, text, fmt.Sprintf("All %d sample generations ended", len(demo.Samples())))
	require.Contains(t, text, `"code": "not_found"`)
	require.NotContains(t, text, "demo-hoox-key", "API keys never printed")
}
