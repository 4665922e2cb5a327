package simulator

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// Callbacks makes the simulator call back when a generation ends, as the
// providers do with the webhook URL a job is submitted with: it POSTs the
// generation's body, shaped like the provider's status response at the end
// (Hoox's asset with asset_id, Hooked's envelope with data.id, Token360's
// video with id), to the provider's URL.
//
// Like real webhooks, some go astray. Each generation draws its fate once,
// from a source seeded by Config.Seed, the provider and the ID, so that the
// same seed gives every generation the same fate whatever the order in
// which generations are made: lost (never sent), premature (sent while the
// generation still runs, its status endpoint not yet saying it ended), late
// (sent Late after the others), or on time (sent Delay after the end). The
// rates are fractions of generations and should not exceed 1 together.
// Delays run on the simulator's clock.
//
// A webhook is sent once, without retries; a failed delivery is counted
// (CallbackCounts.Failed). A generation that never ends sends none.
type Callbacks struct {
	// URLs maps a provider name (Hoox, Hooked, Token360) to the URL its
	// webhooks are POSTed to. A provider without one sends none.
	URLs map[string]string
	// Delay is how long after its end a generation's webhook is sent. Zero
	// sends it at once.
	Delay time.Duration
	// LostRate is the fraction of webhooks that are never sent.
	LostRate float64
	// PrematureRate is the fraction sent Premature before the generation
	// ends, instead of after it.
	PrematureRate float64
	// Premature is how long before its end a premature webhook is sent,
	// clamped to the generation's creation. If zero, 2 seconds.
	Premature time.Duration
	// LateRate is the fraction sent Late after Delay.
	LateRate float64
	// Late is how much later than Delay a late webhook is sent. If zero,
	// 10 seconds.
	Late time.Duration
	// Client sends the webhooks. If nil, a client with a 10-second timeout.
	Client *http.Client
}

// Default delays of Callbacks.
const (
	DefaultPremature = 2 * time.Second
	DefaultLate      = 10 * time.Second
)

// CallbackCounts counts the webhooks of a simulator, by fate.
type CallbackCounts struct {
	// Sent were delivered (answered 2xx), Failed were sent and not (an
	// error or another status).
	Sent, Failed int64
	// Lost were never sent; Premature and Late were sent (or are due) early
	// or late. Scheduled counts every generation that drew a fate.
	Lost, Premature, Late, Scheduled int64
}

// fate is what becomes of one generation's webhook.
type fate int

const (
	onTime fate = iota
	lost
	premature
	late
)

// callbacks is the prepared Callbacks of a simulator.
type callbacks struct {
	Callbacks
	seed   uint64
	clock  clockwork.Clock
	ctx    context.Context
	cancel context.CancelFunc

	sent, failed, lost, premature, late, scheduled atomic.Int64
}

func newCallbacks(cfg Callbacks, seed int64, clock clockwork.Clock) *callbacks {
	if len(cfg.URLs) == 0 {
		return nil
	}
	if cfg.Premature <= 0 {
		cfg.Premature = DefaultPremature
	}
	if cfg.Late <= 0 {
		cfg.Late = DefaultLate
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &callbacks{Callbacks: cfg, seed: uint64(seed), clock: clock, ctx: ctx, cancel: cancel}
}

// draw returns the fate of the webhook of a provider's generation: the same
// for the same seed, provider and ID.
func (c *callbacks) draw(provider, id string) fate {
	h := fnv.New64a()
	h.Write([]byte(provider))
	h.Write([]byte{0})
	h.Write([]byte(id))
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], c.seed)
	h.Write(seed[:])
	u := rand.New(rand.NewPCG(h.Sum64(), 0xca11)).Float64()
	switch {
	case u < c.LostRate:
		return lost
	case u < c.LostRate+c.PrematureRate:
		return premature
	case u < c.LostRate+c.PrematureRate+c.LateRate:
		return late
	default:
		return onTime
	}
}

// schedule arranges the webhook of g, just created at a, if a sends any
// and g ends. It must run before g is published.
func (c *callbacks) schedule(a *api, g *generation) {
	if c == nil || g.endsAt == Forever {
		return
	}
	target, ok := c.URLs[a.name()]
	if !ok || target == "" {
		return
	}
	c.scheduled.Add(1)
	at := saturatingAdd(g.endsAt, c.Delay)
	switch c.draw(a.name(), g.id) {
	case lost:
		c.lost.Add(1)
		return
	case premature:
		c.premature.Add(1)
		at = max(g.endsAt-c.Premature, 0)
	case late:
		c.late.Add(1)
		at = saturatingAdd(at, c.Late)
	}
	if at == Forever {
		return
	}
	wait := g.created.Add(at).Sub(c.clock.Now())
	g.callback = c.clock.AfterFunc(max(wait, 0), func() { c.send(a, g, target) })
}

// send POSTs the body of g at its end to target.
func (c *callbacks) send(a *api, g *generation, target string) {
	body, err := json.Marshal(a.def.Imitation.Render(g.imitated(g.stateAt(g.created.Add(g.endsAt)))))
	if err != nil {
		c.failed.Add(1)
		return
	}
	if err := c.post(target, body); err != nil {
		c.failed.Add(1)
		return
	}
	c.sent.Add(1)
}

func (c *callbacks) post(target string, body []byte) error {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

func (c *callbacks) counts() CallbackCounts {
	if c == nil {
		return CallbackCounts{}
	}
	return CallbackCounts{
		Sent: c.sent.Load(), Failed: c.failed.Load(),
		Lost: c.lost.Load(), Premature: c.premature.Load(), Late: c.late.Load(),
		Scheduled: c.scheduled.Load(),
	}
}

// stop cancels every webhook not sent yet and those being sent.
func (c *callbacks) stop(apis []*api) {
	if c == nil {
		return
	}
	c.cancel()
	for _, a := range apis {
		a.mu.RLock()
		for _, g := range a.gens {
			if g.callback != nil {
				g.callback.Stop()
			}
		}
		a.mu.RUnlock()
	}
}
