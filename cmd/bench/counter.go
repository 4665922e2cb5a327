package main

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// redisCounter is a go-redis hook that counts round trips: each command
// sent on its own and each pipeline (or transaction) sent as a whole is
// one. It also counts the connections dialed and the scripts run, which
// tell the bench's own traffic from other clients' in the server's
// counters.
type redisCounter struct {
	trips   atomic.Int64
	dials   atomic.Int64
	scripts atomic.Int64
}

// DialHook implements redis.Hook.
func (c *redisCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.dials.Add(1)
		return next(ctx, network, addr)
	}
}

// ProcessHook implements redis.Hook.
func (c *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.trips.Add(1)
		c.countScript(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (c *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 {
			c.trips.Add(1)
		}
		for _, cmd := range cmds {
			c.countScript(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *redisCounter) countScript(cmd redis.Cmder) {
	if isScriptCall(cmd.Name()) {
		c.scripts.Add(1)
	}
}

// isScriptCall reports whether a command runs a Lua script.
func isScriptCall(name string) bool {
	switch name {
	case "evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro":
		return true
	}
	return false
}

// Trips returns the round trips counted so far.
func (c *redisCounter) Trips() int64 { return c.trips.Load() }
