package genwatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
)

// PollMaxRetry is the MaxRetry of a tracking task. Waiting for a running
// generation is not a retry in asynq's count, so this only bounds genuine
// failures (Redis errors inside a poll). It must not be 0: asynq archives a
// task whose retries are exhausted before it asks whether the error was a
// failure at all.
const PollMaxRetry = 25

// PollTimeout bounds one run of the poll handler (one status call and its
// bookkeeping).
const PollTimeout = 2 * time.Minute

// ClientConfig configures a Client. The zero value works.
type ClientConfig struct {
	// Queue is where tracking tasks go. If empty, DefaultQueue.
	Queue string
	// Shards is the fleet's number of tracking shards (GENWATCH_SHARDS):
	// with more than one, each task goes to its shard's queue,
	// ShardName(Queue, ShardOf(task ID, Shards), Shards). If zero, 1.
	Shards int
	// Retention is how long a finished tracking task is kept; within it the
	// same generation cannot be tracked again. If zero, DefaultRetention
	// (24 h). It must match the workers' retention.
	Retention time.Duration
	// Accounts, when set, lists the configured providers and the account
	// names of each, so that a request for a provider or an account the
	// deployment does not have is rejected before it reaches Redis. If
	// nil, the built-in providers are accepted and accounts are not
	// checked.
	Accounts map[string][]string
	// Now tells the time for enqueued_at. If nil, time.Now.
	Now func() time.Time
}

// Client enqueues tracking requests.
type Client struct {
	asynq *asynq.Client
	cfg   ClientConfig
}

// NewClient returns a Client that enqueues through c. The caller keeps
// ownership of c.
func NewClient(c *asynq.Client, cfg ClientConfig) *Client {
	if cfg.Queue == "" {
		cfg.Queue = DefaultQueue
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{asynq: c, cfg: cfg}
}

// TrackResult is the outcome of Track.
type TrackResult struct {
	// TaskID is the generation's task ID, "<provider>:<generation_id>".
	TaskID string
	// AlreadyTracked is true when the generation was being tracked, or had
	// ended within the retention window: nothing new was enqueued.
	AlreadyTracked bool
}

// Track validates req, sets enqueued_at when absent, and enqueues it.
// "Already tracked" is a success with AlreadyTracked set. A request that
// breaks the contract returns an *InvalidRequestError and never reaches
// Redis.
func (c *Client) Track(ctx context.Context, req Request) (TrackResult, error) {
	task, err := c.NewTask(req)
	if err != nil {
		return TrackResult{}, err
	}
	res := TrackResult{TaskID: req.TaskID()}
	_, err = c.asynq.EnqueueContext(ctx, task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		res.AlreadyTracked = true
		return res, nil
	case err != nil:
		return TrackResult{}, fmt.Errorf("track %s: %w", res.TaskID, err)
	}
	return res, nil
}

// NewTask validates req and builds its asynq task with the contract's task
// ID, queue (its shard's) and options, for callers that enqueue themselves.
func (c *Client) NewTask(req Request) (*asynq.Task, error) {
	if err := c.Validate(req); err != nil {
		return nil, err
	}
	if req.EnqueuedAt == nil {
		now := c.cfg.Now().UTC()
		req.EnqueuedAt = &now
	}
	payload, err := req.Encode()
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TaskTypePoll, payload,
		asynq.TaskID(req.TaskID()),
		asynq.Queue(ShardName(c.cfg.Queue, ShardOf(req.TaskID(), c.cfg.Shards), c.cfg.Shards)),
		asynq.MaxRetry(PollMaxRetry),
		asynq.Timeout(PollTimeout),
		asynq.Retention(c.cfg.Retention),
	), nil
}

// Validate checks req against the contract and, when the client knows
// them, the configured providers and accounts.
func (c *Client) Validate(req Request) error {
	if c.cfg.Accounts == nil {
		return req.Validate()
	}
	if err := req.ValidateFor(c.providers()); err != nil {
		return err
	}
	if !slices.Contains(c.cfg.Accounts[req.Provider], req.ResolvedAccount()) {
		return &InvalidRequestError{Errs: []error{
			fmt.Errorf("%w %q for provider %s (configured: %v)", ErrUnknownAccount, req.ResolvedAccount(), req.Provider, c.cfg.Accounts[req.Provider]),
		}}
	}
	return nil
}

// providers lists the configured providers, sorted.
func (c *Client) providers() []string {
	names := make([]string, 0, len(c.cfg.Accounts))
	for name := range c.cfg.Accounts {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
