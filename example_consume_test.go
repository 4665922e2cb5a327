package genwatch_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch"
)

// A service reads every completion event through its own consumer group:
// its processes share them, and the events of one that dies are taken over.
func ExampleConsume() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	err := genwatch.Consume(ctx, rdb, genwatch.ConsumerConfig{
		Shards: genwatch.Shards{N: 1}, // the fleet's GENWATCH_SHARDS
		Group:  "billing",
	}, genwatch.EventHandlerFunc(func(ctx context.Context, e genwatch.Event) error {
		// An error leaves the event pending: it comes back after ClaimIdle.
		// Deduplicate on e.ID: delivery is at least once.
		fmt.Println(e.ID, e.Status, e.URL)
		return nil
	}))
	if err != nil {
		log.Fatal(err)
	}
}

// Waiting for one generation finds its event whether it ended before the
// call (within the retention) or ends during it.
func ExampleWaitEvent() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	e, err := genwatch.WaitEvent(ctx, rdb, genwatch.Shards{}, "hooked", "vid_abc123")
	if err != nil {
		log.Fatal(err)
	}
	if e.Status == genwatch.StatusCompleted {
		fmt.Println(e.URL)
	} else {
		fmt.Println(e.Status, e.Error.Code, e.Error.Message)
	}
}
