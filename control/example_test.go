package control_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/control"
)

func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	ctx := context.Background()
	c := control.New(rdb, control.Config{}) // an unsharded fleet, default queue and stream
	taskID := genwatch.TaskID("hooked", "vid_abc123")

	g, err := c.Status(ctx, taskID)
	switch {
	case errors.Is(err, genwatch.ErrNotTracked):
		fmt.Println("not tracked")
		return
	case err != nil:
		log.Fatal(err)
	case g.Ended():
		fmt.Println("ended:", g.Event.Status)
		return
	}
	fmt.Println("waiting:", g.State, g.Polls, "polls")

	ev, canceled, err := c.Cancel(ctx, taskID)
	if err != nil {
		log.Fatal(err)
	}
	if !canceled {
		fmt.Println("had already ended:", ev.Status)
	}
}
