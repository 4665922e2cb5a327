// Package runtest runs a long-lived loop (a worker, a stream reader) in the
// background of a test, and stops it at the latest when the test ends.
package runtest

import (
	"context"
	"sync"
	"testing"
)

// Start runs run in a goroutine with a context that stop cancels; stop
// then waits for run to return and fails the test unless it returned nil.
// stop may be called more than once; it is called when the test ends.
func Start(tb testing.TB, run func(ctx context.Context) error) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("runtest: stopped with %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}
