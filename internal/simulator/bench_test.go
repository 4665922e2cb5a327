package simulator_test

import (
	"net/http"
	"testing"

	"github.com/genwatch/genwatch/internal/simulator"
)

// discard is a ResponseWriter that keeps nothing, so that the benchmark
// measures the simulator rather than a recorder.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkServeHTTP(b *testing.B) {
	for _, provider := range providers {
		b.Run(provider, func(b *testing.B) {
			sim := simulator.New(simulator.Config{AutoCreate: true, Keys: map[string]string{provider: testKey}})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine polls its own few IDs, as a worker fleet does.
				reqs := make([]*http.Request, 16)
				for i := range reqs {
					reqs[i] = newRequest(provider, "job-"+string(rune('a'+i)), testKey)
				}
				w := &discard{header: make(http.Header)}
				for i := 0; pb.Next(); i++ {
					sim.ServeHTTP(w, reqs[i%len(reqs)])
				}
			})
		})
	}
}
