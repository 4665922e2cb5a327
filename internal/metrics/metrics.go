// Package metrics exposes what a genwatch worker does to Prometheus.
//
// Labels stay bounded: provider and account names come from the
// configuration, outcomes, classes and statuses from fixed lists, and sinks
// from the configured destinations. A generation ID is never a label.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genwatch/genwatch"
)

// Metrics holds genwatch's own collectors. Its methods are safe for
// concurrent use and satisfy tasks.Observer and sink.Observer.
type Metrics struct {
	polls          *prometheus.CounterVec
	pollDuration   *prometheus.HistogramVec
	providerErrors *prometheus.CounterVec
	events         *prometheus.CounterVec
	timeToEvent    *prometheus.HistogramVec
	written        *prometheus.CounterVec
	deliveryErrors *prometheus.CounterVec
	disabled       *prometheus.CounterVec
	pastDeadline   prometheus.Counter
	estimateError  *prometheus.HistogramVec
}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genwatch_polls_total",
			Help: "Provider status calls, by provider, account and outcome (the normalized state, or the error class).",
		}, []string{"provider", "account", "outcome"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "genwatch_poll_duration_seconds",
			Help:    "Latency of provider status calls.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"provider"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genwatch_provider_errors_total",
			Help: "Failed provider status calls, by provider, account and class (not_found, unauthorized, rate_limited, transient).",
		}, []string{"provider", "account", "class"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genwatch_events_total",
			Help: "Completion events emitted, by provider and status.",
		}, []string{"provider", "status"}),
		timeToEvent: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "genwatch_time_to_event_seconds",
			Help:    "Time from enqueue to the completion event, by provider and status.",
			Buckets: []float64{5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}, []string{"provider", "status"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genwatch_events_written_total",
			Help: "Events written, by sink (stream, asynq, webhook:<name>, handler:<name>).",
		}, []string{"sink"}),
		deliveryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genwatch_event_delivery_errors_total",
			Help: "Failed deliveries to a sink (each is retried), by sink.",
		}, []string{"sink"}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genwatch_webhook_endpoints_disabled_total",
			Help: "Webhook endpoints disabled because they answered 410 Gone, by endpoint; alert on any increase.",
		}, []string{"endpoint"}),
		pastDeadline: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "genwatch_polls_past_deadline_total",
			Help: "Polls run more than a minute after their generation's deadline: the generation was stuck (its polls failed, waited in a backlog, or no worker ran).",
		}),
		estimateError: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "genwatch_eta_error_seconds",
			Help:    "How far a generation's end came after the end estimated at its last poll before it (negative: earlier), by provider. A shift means the provider got slower or faster.",
			Buckets: []float64{-300, -120, -60, -30, -15, -8, -4, -2, -1, 0, 1, 2, 4, 8, 15, 30, 60, 120, 300},
		}, []string{"provider"}),
	}
	reg.MustRegister(m.polls, m.pollDuration, m.providerErrors, m.events, m.timeToEvent, m.written, m.deliveryErrors, m.disabled, m.pastDeadline, m.estimateError)
	return m
}

// Estimated records how far an estimated end was off.
func (m *Metrics) Estimated(provider string, off time.Duration) {
	m.estimateError.WithLabelValues(provider).Observe(off.Seconds())
}

// Polled records one status call.
func (m *Metrics) Polled(provider, account, outcome string, failed bool, took time.Duration) {
	m.polls.WithLabelValues(provider, account, outcome).Inc()
	m.pollDuration.WithLabelValues(provider).Observe(took.Seconds())
	if failed {
		m.providerErrors.WithLabelValues(provider, account, outcome).Inc()
	}
}

// Ended records an event appended to the stream.
func (m *Metrics) Ended(e genwatch.Event) {
	m.events.WithLabelValues(e.Provider, string(e.Status)).Inc()
	m.timeToEvent.WithLabelValues(e.Provider, string(e.Status)).Observe(e.DetectedAt.Sub(e.EnqueuedAt).Seconds())
	m.written.WithLabelValues("stream").Inc()
}

// PastDeadline records a poll run well after its generation's deadline.
func (m *Metrics) PastDeadline(string, time.Duration) {
	m.pastDeadline.Inc()
}

// Delivered records one delivery attempt to a sink other than the stream.
func (m *Metrics) Delivered(sink string, err error) {
	if err != nil {
		m.deliveryErrors.WithLabelValues(sink).Inc()
		return
	}
	m.written.WithLabelValues(sink).Inc()
}

// EndpointDisabled records a webhook endpoint disabled by a 410 Gone.
func (m *Metrics) EndpointDisabled(endpoint string) {
	m.disabled.WithLabelValues(endpoint).Inc()
}
