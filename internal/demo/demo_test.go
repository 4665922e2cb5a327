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

	"github.com/alicebob/miniredis/v2"
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

func TestDemoNamesItsRedisWithoutThePassword(t *testing.T) {
	t.Parallel()
	mr := miniredis.NewMiniRedis()
	mr.RequireUserAuth("genwatch", "hunter2")
	require.NoError(t, mr.Start())
	t.Cleanup(mr.Close)
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{Out: &out, HTTPAddr: "127.0.0.1:0", RedisURL: "redis://genwatch:hunter2@" + mr.Addr() + "/2"})
	}()

	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Dashboard:") }, time.Minute, 10*time.Millisecond, out.String())
	cancel()
	<-done
	text := out.String()
	require.True(t, strings.HasPrefix(text, "Redis: redis "+mr.Addr()+" db 2\n"), text)
	require.NotContains(t, text, "hunter2")
}
