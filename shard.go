package genwatch

import (
	"hash/fnv"
	"strconv"
)

// ShardOf returns the tracking shard of a task ID among n shards:
// FNV-1a-32 of the task ID, modulo n. It is 0 when n is 1 or less.
//
// This is the routing rule of contract section 7: a client that enqueues
// with a bare asynq client and n > 1 shards sends the task to
// ShardName(queue, ShardOf(taskID, n), n), and its event is appended to
// ShardName(stream, ShardOf(taskID, n), n).
func ShardOf(taskID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(taskID))
	return int(h.Sum32() % uint32(n))
}

// ShardName returns the name of shard k of a queue or stream among n
// shards: base itself when n is 1 or less, else "<base>-<k>".
func ShardName(base string, k, n int) string {
	if n <= 1 {
		return base
	}
	return base + "-" + strconv.Itoa(k)
}

// Shards describes how a fleet spreads its tracking over N queues and N
// event streams, so that each shard's keys can live on a different Redis
// Cluster node. The zero value is one shard on DefaultQueue and
// DefaultStream: every name as without sharding. Every client and worker
// of a fleet must agree on it.
type Shards struct {
	// Queue is the base name of the tracking queues. If empty,
	// DefaultQueue.
	Queue string
	// Stream is the base name of the event streams. If empty,
	// DefaultStream.
	Stream string
	// N is the number of shards. If zero or less, 1.
	N int
}

// WithDefaults returns s with its zero fields set to their defaults.
func (s Shards) WithDefaults() Shards {
	if s.Queue == "" {
		s.Queue = DefaultQueue
	}
	if s.Stream == "" {
		s.Stream = DefaultStream
	}
	if s.N < 1 {
		s.N = 1
	}
	return s
}

// Of returns the shard of a task ID.
func (s Shards) Of(taskID string) int { return ShardOf(taskID, s.WithDefaults().N) }

// QueueName returns the tracking queue of shard k.
func (s Shards) QueueName(k int) string {
	s = s.WithDefaults()
	return ShardName(s.Queue, k, s.N)
}

// StreamName returns the event stream of shard k.
func (s Shards) StreamName(k int) string {
	s = s.WithDefaults()
	return ShardName(s.Stream, k, s.N)
}

// QueueOf returns the tracking queue a task ID is enqueued on.
func (s Shards) QueueOf(taskID string) string { return s.QueueName(s.Of(taskID)) }

// StreamOf returns the event stream a task ID's event is appended to.
func (s Shards) StreamOf(taskID string) string { return s.StreamName(s.Of(taskID)) }

// Queues lists every shard's tracking queue, in shard order.
func (s Shards) Queues() []string { return s.names(s.QueueName) }

// Streams lists every shard's event stream, in shard order. An event
// reader reads all of them.
func (s Shards) Streams() []string { return s.names(s.StreamName) }

func (s Shards) names(name func(int) string) []string {
	n := s.WithDefaults().N
	out := make([]string, n)
	for k := range out {
		out[k] = name(k)
	}
	return out
}

// KeyPrefix returns the prefix of genwatch's own keys of shard k (a
// generation's state, its event, what the shard has learned):
// "genwatch:{<stream of k>}:<queue of k>:". The hash tag is the shard's
// stream name, so in a Redis Cluster every key a genwatch script touches,
// the stream included, is in one slot; the queue keeps two fleets that
// share a stream apart, since a task ID is unique only within its queue.
func (s Shards) KeyPrefix(k int) string {
	return "genwatch:{" + s.StreamName(k) + "}:" + s.QueueName(k) + ":"
}

// KeyPrefixOf returns the key prefix of a task ID's shard.
func (s Shards) KeyPrefixOf(taskID string) string { return s.KeyPrefix(s.Of(taskID)) }

// DoneKey returns the key that holds a generation's completion event,
// by its task ID, once the generation has ended and for the retention:
// "<KeyPrefixOf(taskID)>done:<taskID>". The worker sets it in the same
// script that appends the event to the shard's stream, so a reader that
// notes the stream's last entry, then reads this key, then reads the
// stream after that entry, cannot miss the event (WaitEvent).
func (s Shards) DoneKey(taskID string) string { return s.KeyPrefixOf(taskID) + "done:" + taskID }
