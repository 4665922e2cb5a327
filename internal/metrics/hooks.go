package metrics

import "github.com/prometheus/client_golang/prometheus"

// Hooks counts provider webhook calls on the public API. Its Hook method
// satisfies api.HookObserver.
type Hooks struct {
	total *prometheus.CounterVec
}

// NewHooks creates genwatch_hooks_total and registers it with reg.
func NewHooks(reg prometheus.Registerer) *Hooks {
	h := &Hooks{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "genwatch_hooks_total",
		Help: "Provider webhook calls, by provider (\"other\" for an unknown name) and outcome: polled, debounced, not_waiting, refused, too_large, no_id, invalid, error.",
	}, []string{"provider", "outcome"})}
	reg.MustRegister(h.total)
	return h
}

// Hook counts one webhook call.
func (h *Hooks) Hook(provider, outcome string) {
	h.total.WithLabelValues(provider, outcome).Inc()
}
