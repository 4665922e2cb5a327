package schedule

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/providers"
)

var (
	paceStart = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	running   = Observation{State: providers.StateRunning}
	// steady paces without jitter.
	steady = Policy{Jitter: -1}
)

// at is paceStart plus s seconds.
func at(s float64) time.Time { return paceStart.Add(time.Duration(s * float64(time.Second))) }

// progressAt is three whole-percent readings of a generation that runs at
// 1 % a second from enqueued_at, ending at 100 s, the last at now seconds.
func progressAt(now float64) History {
	return History{Polls: 4, Progress: readings(100, linear, now-17, now-9, now)}
}

// decideAt runs Decide for a generation enqueued at paceStart, running at
// now seconds, with a deadline an hour out.
func decideAt(now float64, h History, p Policy) Decision {
	return Decide(Input{Now: at(now), EnqueuedAt: paceStart, Deadline: at(3600), History: h, Observed: running, Policy: p, Rand: 0.5})
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func TestFirstPoll(t *testing.T) {
	t.Parallel()

	fast := endings(time.Second, 50, 50)
	slow := endings(10*time.Minute, 50, 50)
	tests := []struct {
		desc     string
		policy   Policy
		prior    *Durations
		deadline time.Time
		// check is run on the first poll's delay.
		check func(t *testing.T, d time.Duration)
	}{
		{
			desc: "the default minute is unlikely to end soon: deferred",
			check: func(t *testing.T, d time.Duration) {
				require.GreaterOrEqual(t, d, 5*time.Second)
				require.Less(t, d, time.Minute)
			},
		},
		{
			desc:  "learned ten minutes: deferred to Max",
			prior: slow,
			check: func(t *testing.T, d time.Duration) { require.Equal(t, config.DefaultPollMax, d) },
		},
		{
			desc:   "a configured ten minutes: deferred to Max",
			policy: Policy{Expected: 10 * time.Minute},
			check:  func(t *testing.T, d time.Duration) { require.Equal(t, config.DefaultPollMax, d) },
		},
		{
			desc:   "a configured second: at once",
			policy: Policy{Expected: time.Second},
			check:  func(t *testing.T, d time.Duration) { require.Zero(t, d) },
		},
		{
			desc:   "a configured half second: at once",
			policy: Policy{Expected: 500 * time.Millisecond},
			check:  func(t *testing.T, d time.Duration) { require.Zero(t, d) },
		},
		{
			desc:  "learned a second: at once",
			prior: fast,
			check: func(t *testing.T, d time.Duration) { require.Zero(t, d) },
		},
		{
			desc:   "backoff mode: at once",
			policy: Policy{Mode: ModeBackoff, Expected: 10 * time.Minute},
			check:  func(t *testing.T, d time.Duration) { require.Zero(t, d) },
		},
		{
			desc:     "never past the deadline",
			policy:   Policy{Expected: 10 * time.Minute},
			deadline: at(7),
			check:    func(t *testing.T, d time.Duration) { require.Equal(t, 7*time.Second, d) },
		},
		{
			desc:     "a deadline already passed: at once",
			policy:   Policy{Expected: 10 * time.Minute},
			deadline: at(-5),
			check:    func(t *testing.T, d time.Duration) { require.Zero(t, d) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			deadline := tt.deadline
			if deadline.IsZero() {
				deadline = at(3600)
			}
			in := Input{Now: paceStart, EnqueuedAt: paceStart, Deadline: deadline, Prior: tt.prior, Policy: tt.policy, Rand: 0.5}
			tt.check(t, FirstPoll(in))
			// What came before does not count: the first poll knows nothing.
			in.History = History{Polls: 9, Progress: []Sample{{At: at(-1), Percent: 90}}, HintAt: paceStart}
			tt.check(t, FirstPoll(in))
		})
	}
}

func TestDecideProgressHalfway(t *testing.T) {
	t.Parallel()

	tests := []struct {
		desc   string
		policy Policy
		prior  *Durations
	}{
		{desc: "default prior", policy: steady},
		{desc: "learned prior far from the progress", policy: steady, prior: endings(5*time.Minute, 50, 50)},
		{desc: "with jitter", policy: Policy{}},
		{desc: "with webhooks", policy: Policy{Jitter: -1, Webhooks: true}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			// Half-way: 50 % at 50 s of a 100 s generation.
			d := Decide(Input{Now: at(50), EnqueuedAt: paceStart, Deadline: at(3600), History: progressAt(50), Observed: running, Policy: tt.policy, Prior: tt.prior, Rand: 0.9})
			require.False(t, d.Done)
			require.Equal(t, BasisProgress, d.Basis)
			require.InDelta(t, 100, d.ETA.Sub(paceStart).Seconds(), 8, "ETA %s", d.ETA.Sub(paceStart))
			require.True(t, at(50).Add(d.Delay).Before(d.ETA), "next poll at %s, after the ETA %s", d.Delay, d.ETA.Sub(at(50)))
			require.Greater(t, d.Delay, config.DefaultPollMinInterval, "half-way is not the time to poll at the minimum")
		})
	}
}

func TestDecideDenserNearEnd(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		desc   string
		policy Policy
	}{
		{desc: "plain", policy: steady},
		{desc: "webhooks", policy: Policy{Jitter: -1, Webhooks: true}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			gaps := map[float64]time.Duration{}
			prev := time.Duration(math.MaxInt64)
			for _, now := range []float64{30, 50, 65, 80, 90} {
				d := decideAt(now, progressAt(now), tt.policy)
				require.Equal(t, BasisProgress, d.Basis)
				require.LessOrEqual(t, d.Delay, prev, "gap at %v %% is longer than before", now)
				if now > 50 {
					require.Less(t, d.Delay, prev, "gap at %v %% is not shorter than before", now)
				}
				gaps[now], prev = d.Delay, d.Delay
			}
			require.Less(t, gaps[80], gaps[30]*2/3, "gap at 80 %% is not much shorter than at 30 %%")
			require.Less(t, gaps[90], gaps[30]/2, "gap at 90 %% is not much shorter than at 30 %%")
		})
	}
}

func TestDecideOverdue(t *testing.T) {
	t.Parallel()

	// 1 %/s to 99 % at 99 s, then a plateau at 99 %.
	plateau := History{Polls: 6, Progress: []Sample{{At: at(70), Percent: 70}, {At: at(85), Percent: 85}, {At: at(99), Percent: 99}}}
	prev := time.Duration(0)
	for _, over := range []float64{5, 20, 60, 200, 600} {
		d := decideAt(100+over, plateau, steady)
		require.Equal(t, BasisOverdue, d.Basis, "%v s overdue", over)
		require.Greater(t, d.Delay, prev, "gap %s at %v s overdue does not grow", d.Delay, over)
		require.True(t, d.ETA.After(at(100+over)), "ETA %s lies before now", d.ETA.Sub(paceStart))
		prev = d.Delay
	}
	require.Greater(t, prev, 3*config.DefaultPollMinInterval, "long overdue still polls near the minimum")
}

func TestDecideWebhooks(t *testing.T) {
	t.Parallel()

	tests := []struct {
		desc    string
		now     float64
		history History
		prior   *Durations
	}{
		{desc: "nothing known, early", now: 2},
		{desc: "nothing known, at the default median", now: 60},
		{desc: "learned, before the end", now: 20, prior: endings(40*time.Second, 50, 50)},
		{desc: "progress at 30 %", now: 30, history: progressAt(30)},
		{desc: "progress at 80 %", now: 80, history: progressAt(80)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			in := Input{Now: at(tt.now), EnqueuedAt: paceStart, Deadline: at(3600), History: tt.history, Observed: running, Prior: tt.prior, Rand: 0.5}
			in.Policy = steady
			plain := Decide(in)
			in.Policy = Policy{Jitter: -1, Webhooks: true}
			hooked := Decide(in)
			require.Greater(t, hooked.Delay, plain.Delay, "webhooks should thin the polls")
			require.LessOrEqual(t, hooked.Delay, config.DefaultPollWebhookMax)
			require.Equal(t, plain.ETA, hooked.ETA, "webhooks do not change the estimate")

			in.Policy = Policy{Jitter: -1, Webhooks: true, WebhookMax: plain.Delay + time.Second}
			capped := Decide(in)
			require.LessOrEqual(t, capped.Delay, in.Policy.WebhookMax)
		})
	}

	t.Run("WebhookMax, not Max, caps the gap", func(t *testing.T) {
		t.Parallel()
		p := Policy{Webhooks: true, Expected: time.Hour, WebhookMax: 5 * time.Minute, Max: 10 * time.Second}
		for _, rnd := range []float64{0, 0.5, 0.999} {
			d := Decide(Input{Now: at(10), EnqueuedAt: paceStart, Deadline: at(7200), Observed: running, Policy: p, Rand: rnd})
			require.Greater(t, d.Delay, p.Max)
			require.LessOrEqual(t, d.Delay, p.WebhookMax)
		}
	})
}

func TestDecideWebhookHint(t *testing.T) {
	t.Parallel()

	hooked := Policy{Jitter: -1, Webhooks: true}
	baseline := decideAt(200, History{Polls: 8}, hooked).Delay
	require.Greater(t, baseline, 12*time.Second, "the test needs a long baseline gap")

	tests := []struct {
		desc  string
		since float64 // seconds since the webhook; NaN for none
		want  time.Duration
	}{
		{desc: "just now: the minimum", since: 0, want: config.DefaultPollMinInterval},
		{desc: "half a second ago: the minimum", since: 0.5, want: config.DefaultPollMinInterval},
		{desc: "three seconds ago: three seconds", since: 3, want: 3 * time.Second},
		{desc: "ten seconds ago: ten seconds", since: 10, want: 10 * time.Second},
		{desc: "longer ago than the gap: the gap", since: 50, want: baseline},
		{desc: "after the follow-up: no effect", since: hintFollowUp.Seconds() + 1, want: baseline},
		{desc: "long ago: no effect", since: 600, want: baseline},
		{desc: "in the future: no effect", since: -5, want: baseline},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			d := decideAt(200, History{Polls: 8, HintAt: at(200 - tt.since)}, hooked)
			require.InDelta(t, seconds(tt.want), seconds(d.Delay), 0.001)
		})
	}

	t.Run("the follow-up doubles", func(t *testing.T) {
		t.Parallel()
		// Each poll after the webhook waits as long as it has been since.
		hint, now := at(200), at(201)
		var gaps []time.Duration
		for range 4 {
			d := Decide(Input{Now: now, EnqueuedAt: paceStart, Deadline: at(3600), History: History{Polls: 8, HintAt: hint}, Observed: running, Policy: hooked, Rand: 0.5})
			gaps = append(gaps, d.Delay)
			now = now.Add(d.Delay)
		}
		require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, gaps)
	})
}

func TestDecideExpectedHint(t *testing.T) {
	t.Parallel()

	learned := endings(30*time.Second, 100, 50)
	estimate := func(now float64, expected time.Duration) Decision {
		return Decide(Input{Now: at(now), EnqueuedAt: paceStart, Deadline: at(3600), History: History{Polls: 2}, Observed: running, Policy: steady, Prior: learned, Expected: expected, Rand: 0.5})
	}
	eta := func(d Decision) float64 { return d.ETA.Sub(paceStart).Seconds() }

	tests := []struct {
		desc     string
		now      float64
		expected time.Duration
		check    func(t *testing.T, hinted, unhinted Decision)
	}{
		{
			desc: "an earlier hint pulls the ETA toward it", now: 5, expected: 15 * time.Second,
			check: func(t *testing.T, hinted, unhinted Decision) {
				require.Equal(t, BasisHint, hinted.Basis)
				require.Equal(t, BasisLearned, unhinted.Basis)
				require.Less(t, eta(hinted), eta(unhinted)-5)
				require.Greater(t, eta(hinted), 15.0, "the hint is not trusted alone")
			},
		},
		{
			desc: "a later hint pushes the ETA toward it", now: 5, expected: 2 * time.Minute,
			check: func(t *testing.T, hinted, unhinted Decision) {
				require.Equal(t, BasisHint, hinted.Basis)
				require.Greater(t, eta(hinted), eta(unhinted)+10)
				require.Less(t, eta(hinted), 120.0, "the hint is not trusted alone")
			},
		},
		{
			desc: "a hint long passed no longer dominates", now: 60, expected: 15 * time.Second,
			check: func(t *testing.T, hinted, unhinted Decision) {
				require.Equal(t, BasisLearned, hinted.Basis)
				require.InDelta(t, eta(unhinted), eta(hinted), 0.05*eta(unhinted), "the ETA follows the prior")
				require.Greater(t, eta(hinted), 60.0)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tt.check(t, estimate(tt.now, tt.expected), estimate(tt.now, 0))
		})
	}
}

// paceCases are running generations in many situations, for the
// properties every pace must have.
func paceCases() []Input {
	plateau := History{Polls: 6, Progress: []Sample{{At: at(70), Percent: 70}, {At: at(99), Percent: 99}}}
	priors := []*Durations{nil, endings(3*time.Second, 50, 50), endings(45*time.Second, 3, 50), endings(20*time.Minute, 50, 50)}
	policies := []Policy{
		steady,
		{},
		{Webhooks: true},
		{Webhooks: true, WebhookLoss: 0.01, WebhookMax: 40 * time.Second},
		{MinInterval: 3 * time.Second, Max: 12 * time.Second},
		{CallCost: time.Minute, TargetLag: time.Second},
		{CallCost: 100 * time.Millisecond, Expected: 5 * time.Second, ExpectedSpread: 0.1},
	}
	var out []Input
	for _, now := range []float64{0, 1, 4, 30, 80, 120, 900} {
		histories := []History{{Polls: 2}, {Polls: 3, HintAt: at(now - 2)}}
		if now >= 20 {
			histories = append(histories, progressAt(now))
		}
		if now > 100 {
			histories = append(histories, plateau)
		}
		for _, h := range histories {
			for _, pr := range priors {
				for _, p := range policies {
					for _, expected := range []time.Duration{0, 10 * time.Second} {
						for _, rnd := range []float64{0, 0.5, 0.999} {
							out = append(out, Input{Now: at(now), EnqueuedAt: paceStart, Deadline: at(7200), History: h, Observed: running, Policy: p, Prior: pr, Expected: expected, Rand: rnd})
						}
					}
				}
			}
		}
	}
	return out
}

func TestDecideDelayBounds(t *testing.T) {
	t.Parallel()

	for _, in := range paceCases() {
		p := in.Policy.WithDefaults()
		maxGap := p.Max
		if p.Webhooks {
			maxGap = p.WebhookMax
		}
		d := Decide(in)
		require.False(t, d.Done)
		require.GreaterOrEqual(t, d.Delay, p.MinInterval, "%+v", in)
		require.LessOrEqual(t, d.Delay, maxGap, "%+v", in)
		require.False(t, d.ETA.IsZero(), "no ETA for %+v", in)
		require.True(t, d.ETA.After(in.Now), "ETA %s before now in %+v", d.ETA, in)
	}
}

// TestLagGuard checks that no gap is longer than TargetLag plus the time
// until the end has a 3 % chance (divided by the webhook loss, with
// webhooks) of having come.
func TestLagGuard(t *testing.T) {
	t.Parallel()

	bound := func(in Input) float64 {
		p := in.Policy.WithDefaults()
		m := newEndModel(in, p)
		risk := lagRisk
		if p.Webhooks {
			risk = min(risk/p.WebhookLoss, 0.5)
		}
		lo, hi := 0.0, 1e6
		for range 100 {
			mid := (lo + hi) / 2
			if 1-m.survival(m.now+mid) > risk {
				hi = mid
			} else {
				lo = mid
			}
		}
		return p.TargetLag.Seconds() + lo
	}
	for _, in := range paceCases() {
		if in.Policy.Jitter >= 0 || !in.History.HintAt.IsZero() {
			continue // jitter may lengthen the gap; a hint only shortens it
		}
		d := Decide(in)
		require.LessOrEqual(t, d.Delay.Seconds(), bound(in)+0.01, "%+v", in)
	}

	t.Run("binds when calls are dear", func(t *testing.T) {
		t.Parallel()
		for _, now := range []float64{65, 80, 90} {
			in := Input{Now: at(now), EnqueuedAt: paceStart, Deadline: at(3600), History: progressAt(now), Observed: running, Rand: 0.5,
				Policy: Policy{Jitter: -1, CallCost: 10 * time.Minute, TargetLag: 2 * time.Second}}
			d := Decide(in)
			// The guard binds, and the poll goes to the whole second
			// before it rather than the nearest.
			require.LessOrEqual(t, d.Delay.Seconds(), bound(in)+0.01, "at %v s", now)
			require.Greater(t, d.Delay.Seconds(), bound(in)-1, "at %v s", now)
			require.Zero(t, in.Now.Add(d.Delay).Nanosecond(), "on a whole second")
		}
	})
}

func TestOnWholeSecond(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc               string
		nowFrac            time.Duration
		gap, guard, minGap float64
		want               float64
	}{
		{desc: "to the nearest second", nowFrac: 200 * time.Millisecond, gap: 4.1, guard: 10, minGap: 1, want: 3.8},
		{desc: "up to the nearest second", nowFrac: 200 * time.Millisecond, gap: 4.5, guard: 10, minGap: 1, want: 4.8},
		{desc: "down when the nearest is past the guard", nowFrac: 200 * time.Millisecond, gap: 4.5, guard: 4.5, minGap: 1, want: 3.8},
		{desc: "on a whole second already", nowFrac: 0, gap: 3, guard: 3, minGap: 1, want: 3},
		{desc: "never nearer than the minimum", nowFrac: 900 * time.Millisecond, gap: 0.5, guard: 0.5, minGap: 1, want: 1.1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			now := paceStart.Add(tt.nowFrac)
			require.InDelta(t, tt.want, onWholeSecond(now, tt.gap, tt.guard, tt.minGap), 1e-9)
		})
	}
}

func TestDecideBasis(t *testing.T) {
	t.Parallel()

	plateau := History{Polls: 6, Progress: []Sample{{At: at(70), Percent: 70}, {At: at(99), Percent: 99}}}
	tests := []struct {
		desc     string
		now      float64
		history  History
		observed Observation
		policy   Policy
		prior    *Durations
		expected time.Duration
		want     Basis
	}{
		{desc: "nothing known", now: 10, want: BasisDefault},
		{desc: "a few endings learned", now: 10, prior: endings(time.Minute, 3, 50), want: BasisDefault},
		{desc: "enough endings learned", now: 10, prior: endings(time.Minute, 10, 50), want: BasisLearned},
		{desc: "a hint ahead", now: 10, expected: time.Minute, prior: endings(time.Minute, 10, 50), want: BasisHint},
		{desc: "a hint long passed", now: 120, expected: 30 * time.Second, want: BasisDefault},
		{desc: "progress beats a hint", now: 50, history: progressAt(50), expected: time.Minute, want: BasisProgress},
		{desc: "progress beats the learned", now: 50, history: progressAt(50), prior: endings(time.Minute, 50, 50), want: BasisProgress},
		{desc: "progress whose end has passed", now: 130, history: plateau, want: BasisOverdue},
		{desc: "backoff mode", now: 50, history: progressAt(50), policy: Policy{Mode: ModeBackoff}, want: BasisBackoff},
		{desc: "an error in adaptive mode", now: 50, history: progressAt(50), observed: Observation{Class: providers.ClassTransient}, want: BasisBackoff},
		{desc: "a 404 within the grace", now: 5, history: History{Polls: 2, NotFoundSince: at(1)}, observed: Observation{Class: providers.ClassNotFound}, want: BasisBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			observed := tt.observed
			if observed == (Observation{}) {
				observed = running
			}
			h := tt.history
			if h.Polls == 0 {
				h.Polls = 2
			}
			in := Input{Now: at(tt.now), EnqueuedAt: paceStart, Deadline: at(3600), History: h, Observed: observed, Policy: tt.policy, Prior: tt.prior, Expected: tt.expected, Rand: 0.5}
			d := Decide(in)
			require.Equal(t, tt.want, d.Basis)
			if tt.want == BasisBackoff {
				require.True(t, d.ETA.IsZero(), "backoff gives no ETA")
				return
			}
			_, basis, ok := Estimate(in)
			require.True(t, ok)
			require.Equal(t, tt.want, basis, "Estimate agrees with Decide")
		})
	}
}
