package genwatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitBlock bounds one blocking read of WaitEvent, so that it notices ctx
// being done and looks at the done key again.
const waitBlock = time.Second

// waitCount is how many stream entries one read of WaitEvent returns at
// most.
const waitCount = 100

// WaitEvent returns the completion event of one generation, waiting until
// it has ended or ctx is done. rdb is the fleet's Redis and shards its
// sharding (the zero Shards for an unsharded fleet).
//
// It finds an event appended before the call, as long as it is within the
// retention (the event is kept under Shards.DoneKey), and one appended
// while it waits, with no gap between the two: it notes the last entry of
// the generation's event stream, reads the done key, and then reads the
// stream after that entry. The worker sets the key and appends the entry
// in one script, so an event is either under the key or after the noted
// entry.
//
// WaitEvent does not check that the generation is tracked: for one that is
// not, or that ended longer ago than the retention, it waits until ctx is
// done. On ctx being done it returns an error wrapping ctx.Err().
func WaitEvent(ctx context.Context, rdb redis.UniversalClient, shards Shards, provider, generationID string) (Event, error) {
	taskID := TaskID(provider, generationID)
	stream, done := shards.StreamOf(taskID), shards.DoneKey(taskID)
	fail := func(err error) (Event, error) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return Event{}, fmt.Errorf("wait for %s: %w", taskID, err)
	}

	after, err := lastEntryID(ctx, rdb, stream)
	if err != nil {
		return fail(err)
	}
	for {
		b, err := rdb.Get(ctx, done).Bytes()
		switch {
		case err == nil:
			ev, err := DecodeEvent(b)
			if err != nil {
				return fail(err)
			}
			return ev, nil
		case !errors.Is(err, redis.Nil):
			return fail(err)
		}
		res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, after}, Count: waitCount, Block: waitBlock}).Result()
		switch {
		case ctx.Err() != nil:
			return fail(ctx.Err())
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			return fail(err)
		}
		for _, s := range res {
			for _, m := range s.Messages {
				after = m.ID
				raw, _ := m.Values[StreamField].(string)
				ev, err := DecodeEvent([]byte(raw))
				if err == nil && ev.Provider == provider && ev.GenerationID == generationID {
					return ev, nil
				}
			}
		}
	}
}

// lastEntryID returns the ID of the stream's last entry, "0-0" when it has
// none.
func lastEntryID(ctx context.Context, rdb redis.UniversalClient, stream string) (string, error) {
	last, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("read the last entry of %s: %w", stream, err)
	}
	if len(last) == 0 {
		return "0-0", nil
	}
	return last[0].ID, nil
}
