package metrics

import (
	"errors"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueInspector is the part of *asynq.Inspector the in-flight gauge reads.
type QueueInspector interface {
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// InFlight is a collector of genwatch_generations_in_flight: the tracked
// generations of each tracking queue (one per shard) that have not ended,
// fleet-wide, read from Redis at scrape time.
type InFlight struct {
	inspector QueueInspector
	queues    []string
	desc      *prometheus.Desc
	errors    prometheus.Counter
}

// NewInFlight returns the collector for queues.
func NewInFlight(inspector QueueInspector, queues []string) *InFlight {
	return &InFlight{
		inspector: inspector,
		queues:    queues,
		desc: prometheus.NewDesc("genwatch_generations_in_flight",
			"Generations being tracked (pending, active, scheduled or waiting for their next poll), fleet-wide.",
			[]string{"queue"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "genwatch_metrics_scrape_errors_total",
			Help: "Failures to read queue state from Redis while collecting metrics.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (c *InFlight) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *InFlight) Collect(ch chan<- prometheus.Metric) {
	for _, queue := range c.queues {
		info, err := c.inspector.GetQueueInfo(queue)
		switch {
		case errors.Is(err, asynq.ErrQueueNotFound):
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 0, queue)
		case err != nil:
			c.errors.Inc()
		default:
			n := info.Pending + info.Active + info.Scheduled + info.Retry
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), queue)
		}
	}
	c.errors.Collect(ch)
}
