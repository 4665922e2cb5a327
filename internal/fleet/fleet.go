// Package fleet opens, from a fleet's configuration, the state its workers
// share in Redis that a command acts on without running a worker: the
// generations' store and their control (status, cancellation), the failed
// deliveries, and the webhook endpoints a 410 Gone disabled.
//
// It names these keys and queues in one place for the worker and the
// commands, and links neither the worker's server, nor its HTTP API, nor
// the dashboard, so that cmd/genwatch and cmd/enqueue stay small.
package fleet

import (
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/sink"
	"github.com/genwatch/genwatch/internal/store"
	"github.com/genwatch/genwatch/internal/tasks"
)

// KeyPrefix is the prefix of a fleet's keys that belong to no shard (the
// providers' pauses, the disabled endpoints), by its base queue.
// Per-generation keys are named by genwatch.Shards.KeyPrefix.
func KeyPrefix(queue string) string { return "genwatch:{" + queue + "}:" }

// NewStore returns the store of the generations tracked under cfg on rdb.
func NewStore(rdb redis.UniversalClient, cfg config.Config) *store.Store {
	return store.New(rdb, store.Config{
		Shards:         cfg.Sharding(),
		StreamMaxLen:   cfg.Events.StreamMaxLen,
		Replicas:       cfg.Redis.WaitReplicas,
		ReplicaTimeout: cfg.Redis.WaitTimeout,
	})
}

// NewControl returns the control of the generations tracked under cfg on
// rdb: their status, with estimates by the configured polling policies,
// and cancellation.
func NewControl(rdb redis.UniversalClient, cfg config.Config) *tasks.Control {
	return tasks.NewControl(tasks.ControlConfig{
		Store:     NewStore(rdb, cfg),
		Inspector: asynq.NewInspectorFromRedisClient(rdb),
		Shards:    cfg.Sharding(),
		Retention: cfg.Retention,
		Policy:    cfg.Policy,
	})
}

// NewEndpoints returns the fleet's record of disabled webhook endpoints.
func NewEndpoints(rdb redis.UniversalClient, cfg config.Config) *sink.Endpoints {
	return sink.NewEndpoints(rdb, KeyPrefix(cfg.Queue)+"webhooks:disabled")
}

// NewDeliveries returns the failed deliveries of the fleet under cfg on rdb.
func NewDeliveries(rdb redis.UniversalClient, cfg config.Config) *sink.Deliveries {
	return sink.NewDeliveries(asynq.NewInspectorFromRedisClient(rdb), cfg.Events.DeliveryQueue)
}
