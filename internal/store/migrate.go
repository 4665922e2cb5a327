package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// LegacyPrefix is where workers before sharding kept a queue's
// generation state and ended events: "genwatch:{<queue>}:gen:<task id>"
// and "genwatch:{<queue>}:done:<task id>". The store now keeps them under
// the shard's prefix (genwatch.Shards.KeyPrefixOf).
func LegacyPrefix(queue string) string { return "genwatch:{" + queue + "}:" }

// MigrateLegacy moves the state and done keys that workers before
// sharding left under LegacyPrefix(queue) to where the store keeps them,
// with the time to live they had left, and returns how many it moved. A
// key the store already has under its new name (a worker of the new
// version wrote it first) is kept and the old one dropped. It is safe to
// run again and from several workers at once: each key moves once, since
// the move is a SET NX and the old key is deleted only after it.
//
// Without it, an upgrade forgets the generations in flight (their polls
// start over: the first poll is deferred again and the poll count
// restarts) and the events of generations that ended within the
// retention, which a rerun of their task would then emit a second time.
//
// The keyspace is scanned once per queue: a finished pass leaves a mark
// (LegacyPrefix(queue) + "migrated"), and later starts look for the mark
// alone, so that a worker's start does not walk a large keyspace again.
func (s *Store) MigrateLegacy(ctx context.Context, queue string) (int, error) {
	old := LegacyPrefix(queue)
	mark := old + "migrated"
	if n, err := s.rdb.Exists(ctx, mark).Result(); err != nil {
		return 0, fmt.Errorf("migrate keys: %w", err)
	} else if n > 0 {
		return 0, nil
	}
	keys, err := s.scan(ctx, old+"*")
	if err != nil {
		return 0, fmt.Errorf("migrate keys: %w", err)
	}
	moved := 0
	for _, key := range keys {
		var to string
		switch rest := strings.TrimPrefix(key, old); {
		case strings.HasPrefix(rest, "gen:"):
			to = s.stateKey(strings.TrimPrefix(rest, "gen:"))
		case strings.HasPrefix(rest, "done:"):
			to = s.doneKey(strings.TrimPrefix(rest, "done:"))
		default:
			continue // not a generation's key
		}
		ok, err := s.move(ctx, key, to)
		if err != nil {
			return moved, fmt.Errorf("migrate %s: %w", key, err)
		}
		if ok {
			moved++
		}
	}
	if err := s.rdb.Set(ctx, mark, "1", 0).Err(); err != nil {
		return moved, fmt.Errorf("migrate keys: %w", err)
	}
	return moved, nil
}

// scan returns the keys matching pattern, on every primary of a cluster.
func (s *Store) scan(ctx context.Context, pattern string) ([]string, error) {
	var (
		mu   sync.Mutex
		keys []string
	)
	each := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, pattern, 500).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return each(ctx, c) })
		return keys, err
	}
	return keys, each(ctx, s.rdb)
}

// move copies a string key to its new name unless that exists, keeping
// its remaining time to live, then deletes the old one. It reports
// whether the new key was written.
func (s *Store) move(ctx context.Context, from, to string) (bool, error) {
	val, err := s.rdb.Get(ctx, from).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil // expired or moved meanwhile
	}
	if err != nil {
		return false, err
	}
	ttl, err := s.rdb.PTTL(ctx, from).Result()
	if err != nil {
		return false, err
	}
	switch ttl {
	case -2: // gone meanwhile
		return false, nil
	case -1: // no expiry
		ttl = 0
	}
	ok, err := s.rdb.SetNX(ctx, to, val, ttl).Result()
	if err != nil {
		return false, err
	}
	if err := s.rdb.Del(ctx, from).Err(); err != nil {
		return ok, err
	}
	return ok, nil
}
