package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Endpoints keeps, in one Redis hash, which webhook endpoints are disabled,
// so that every worker of the fleet agrees: an endpoint that answered 410
// Gone stays disabled until an operator enables it again.
type Endpoints struct {
	rdb redis.UniversalClient
	key string
}

// NewEndpoints returns the endpoints' state under key.
func NewEndpoints(rdb redis.UniversalClient, key string) *Endpoints {
	return &Endpoints{rdb: rdb, key: key}
}

// Disabled says since when and why an endpoint is disabled.
type Disabled struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Disable disables an endpoint, and reports whether it was enabled until
// now.
func (e *Endpoints) Disable(ctx context.Context, name, reason string, at time.Time) (bool, error) {
	b, err := json.Marshal(Disabled{At: at.UTC(), Reason: reason})
	if err != nil {
		return false, fmt.Errorf("disable endpoint %s: %w", name, err)
	}
	first, err := e.rdb.HSetNX(ctx, e.key, name, b).Result()
	if err != nil {
		return false, fmt.Errorf("disable endpoint %s: %w", name, err)
	}
	return first, nil
}

// Enable enables an endpoint again, and reports whether it was disabled.
func (e *Endpoints) Enable(ctx context.Context, name string) (bool, error) {
	n, err := e.rdb.HDel(ctx, e.key, name).Result()
	if err != nil {
		return false, fmt.Errorf("enable endpoint %s: %w", name, err)
	}
	return n > 0, nil
}

// Disabled returns why an endpoint is disabled, or nil when it is not.
func (e *Endpoints) Disabled(ctx context.Context, name string) (*Disabled, error) {
	b, err := e.rdb.HGet(ctx, e.key, name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint %s state: %w", name, err)
	}
	var d Disabled
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("endpoint %s state: %w", name, err)
	}
	return &d, nil
}

// List returns every disabled endpoint.
func (e *Endpoints) List(ctx context.Context) (map[string]Disabled, error) {
	all, err := e.rdb.HGetAll(ctx, e.key).Result()
	if err != nil {
		return nil, fmt.Errorf("disabled endpoints: %w", err)
	}
	out := make(map[string]Disabled, len(all))
	for name, raw := range all {
		var d Disabled
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return nil, fmt.Errorf("endpoint %s state: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}
