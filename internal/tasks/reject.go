package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/schedule"
	"github.com/genwatch/genwatch/internal/store"
)

// DefaultUnknownAccountGrace is how long a request naming a provider or
// account that a worker lacks waits for one that has it.
const DefaultUnknownAccountGrace = 2 * time.Minute

// unknownAccountRetry is how often such a request comes back meanwhile, so
// that asynq can hand it to another worker of the fleet.
const unknownAccountRetry = 5 * time.Second

// Rejected is the decision for a request that no worker took in time.
var Rejected = schedule.Decision{Done: true, Status: genwatch.StatusFailed, Code: genwatch.CodeRejected}

// unknownAccount handles a request naming a provider or account this worker
// lacks: within the grace period, measured from when a worker first saw the
// request, it comes back (not as a failure) so that a worker that has the
// account can take it; after it, the generation ends failed/rejected
// through the same exactly-once emission as every ending, without calling
// the provider.
func (h *PollHandler) unknownAccount(ctx context.Context, t *asynq.Task, req genwatch.Request, account string, log *zap.Logger) error {
	now := h.cfg.Clock.Now()
	grace := h.cfg.UnknownAccountGrace
	firstSeen, err := h.cfg.Store.Seen(ctx, req.TaskID(), now, grace+rerunGrace)
	if err != nil {
		return fmt.Errorf("poll %s: %w", req.TaskID(), err)
	}
	reason := fmt.Sprintf("no worker has account %q of provider %s", account, req.Provider)
	if left := firstSeen.Add(grace).Sub(now); left > 0 {
		again := &PollAgain{Delay: min(unknownAccountRetry, left), Reason: reason}
		log.Warn("this worker lacks the request's account; leaving it to the fleet",
			zap.Duration("next_poll_in", again.Delay), zap.Duration("rejected_in", left))
		return again
	}
	rec := store.Record{FirstSeen: firstSeen}
	callErr := fmt.Errorf("%s for %s", reason, grace)
	event := buildEvent(req, account, rec, answer{err: callErr}, Rejected, h.enqueuedAt(req, firstSeen), now)
	log.Error("rejecting tracking request: no worker took it", zap.Duration("grace", grace))
	return h.emit(ctx, t, req, event, store.Learning{}, log)
}
