// Command plainasynq tracks one generation with nothing but an asynq client
// and a Redis client, following genwatch's public contract: it enqueues a
// generation:poll task and waits for the generation's completion event on
// the genwatch:events stream. It imports nothing from genwatch.
//
//	go run ./examples/plainasynq --redis-url redis://127.0.0.1:6379/0 --provider hooked --id vid_abc123
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// request is the contract's tracking payload.
type request struct {
	Provider     string    `json:"provider"`
	GenerationID string    `json:"generation_id"`
	EnqueuedAt   time.Time `json:"enqueued_at"`
}

// event holds the contract's event fields this program prints.
type event struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Provider     string `json:"provider"`
	GenerationID string `json:"generation_id"`
	URL          string `json:"url"`
	Error        *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plainasynq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379/0", "Redis the genwatch workers use")
	queue := fs.String("queue", "genwatch", "genwatch's tracking queue")
	stream := fs.String("stream", "genwatch:events", "genwatch's event stream")
	provider := fs.String("provider", "", "hoox, hooked or token360")
	id := fs.String("id", "", "the provider's generation ID")
	if err := fs.Parse(args); err != nil || *provider == "" || *id == "" {
		fmt.Fprintln(stderr, "usage: plainasynq --provider NAME --id GENERATION_ID [--redis-url URL]")
		return 2
	}
	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	// Remember where the stream ends, so only newer events are read.
	last := "$"
	if msgs, err := rdb.XRevRangeN(ctx, *stream, "+", "-", 1).Result(); err == nil && len(msgs) > 0 {
		last = msgs[0].ID
	}

	payload, err := json.Marshal(request{Provider: *provider, GenerationID: *id, EnqueuedAt: time.Now().UTC()})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	client := asynq.NewClientFromRedisClient(rdb)
	_, err = client.EnqueueContext(ctx, asynq.NewTask("generation:poll", payload),
		asynq.TaskID(*provider+":"+*id), asynq.Queue(*queue),
		asynq.MaxRetry(25), asynq.Retention(24*time.Hour))
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		fmt.Fprintln(stdout, "already tracked")
	case err != nil:
		fmt.Fprintln(stderr, "enqueue:", err)
		return 1
	default:
		fmt.Fprintln(stdout, "tracking", *provider+":"+*id)
	}

	for {
		res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{*stream, last}, Block: 5 * time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			fmt.Fprintln(stderr, "read events:", err)
			return 1
		}
		for _, m := range res[0].Messages {
			last = m.ID
			raw, _ := m.Values["event"].(string)
			var e event
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				fmt.Fprintln(stderr, "bad event:", err)
				return 1
			}
			if e.Provider != *provider || e.GenerationID != *id {
				continue
			}
			fmt.Fprintf(stdout, "%s %s %s\n", e.ID, e.Status, e.URL)
			if e.Error != nil {
				fmt.Fprintf(stdout, "error %s: %s\n", e.Error.Code, e.Error.Message)
			}
			return 0
		}
	}
}
