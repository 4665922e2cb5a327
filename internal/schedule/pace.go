package schedule

import (
	"math"
	"time"
)

// Basis names the signal that shaped a pace, for logs and the dashboard.
type Basis string

// The bases of a pace, from the most specific signal to the least.
const (
	// BasisProgress: the generation's own progress readings.
	BasisProgress Basis = "progress"
	// BasisOverdue: progress said it would have ended by now; the
	// estimate is stretched rather than polled at.
	BasisOverdue Basis = "overdue"
	// BasisHint: the submitter's expected_seconds, blended with the prior.
	BasisHint Basis = "hint"
	// BasisLearned: durations of earlier generations of the same
	// provider, account and model.
	BasisLearned Basis = "learned"
	// BasisDefault: the configured default duration, nothing learned yet.
	BasisDefault Basis = "default"
	// BasisBackoff: backoff mode, or an answer that was not a status.
	BasisBackoff Basis = "backoff"
)

// hintSpread is the spread (standard deviation of the logarithm) given to
// the submitter's expected_seconds, and hintWeight its weight beside the
// prior's 1: trusted, not blindly, since the prior keeps polls where
// generations usually end, and a hint whose time has passed loses its
// weight as the generation outlives it.
const (
	hintSpread = 0.35
	hintWeight = 1.5
)

// learnedBasisShare is the share of the prior the learned durations must
// have for the pace to say it is learned.
const learnedBasisShare = 0.5

// endModel is the distribution of a running generation's end, given that
// it had not ended at the current poll. Times are seconds since
// enqueued_at.
type endModel struct {
	now float64
	// base is the unconditional survival of the prior blended with the
	// hint; baseNow is base at now.
	prior   prior
	hint    *logNormal
	baseNow float64
	// The progress estimate: the remaining time from now is lognormal
	// with median progMedian and spread progSigma, weighing progWeight.
	progWeight, progMedian, progSigma float64
	basis                             Basis
}

func newEndModel(in Input, p Policy) endModel {
	m := endModel{now: in.Now.Sub(in.EnqueuedAt).Seconds(), prior: newPrior(in.Prior, p), basis: BasisDefault}
	if m.prior.share >= learnedBasisShare {
		m.basis = BasisLearned
	}
	if in.Expected > 0 {
		h := newLogNormal(in.Expected, hintSpread)
		m.hint = &h
	}
	m.baseNow = m.base(m.now)
	if m.hint != nil && m.hint.survival(m.now) > 0.05 {
		m.basis = BasisHint
	}
	if est, ok := estimateProgress(in.History.Progress, in.EnqueuedAt); ok {
		if remaining := est.end - m.now; remaining > 0 {
			m.progWeight, m.progMedian, m.progSigma = est.weight, remaining, est.sigma
			m.basis = BasisProgress
		} else {
			// Past its estimate (a plateau at 99 %, a stall): expect about
			// as long again as it has been overdue, so that polls thin out
			// rather than hammer, and let the prior speak as much.
			m.progWeight, m.progMedian, m.progSigma = est.weight/2, max(-remaining, 2), 1
			m.basis = BasisOverdue
		}
	}
	return m
}

// base is the prior blended with the hint, unconditional.
func (m endModel) base(t float64) float64 {
	s := m.prior.survival(t)
	if m.hint != nil {
		s = (s + hintWeight*m.hint.survival(t)) / (1 + hintWeight)
	}
	return s
}

// survival is the probability that the generation is still running at t
// (seconds since enqueued_at, t ≥ now), given it was at now.
func (m endModel) survival(t float64) float64 {
	var cond float64
	if m.baseNow > 1e-9 {
		cond = m.base(t) / m.baseNow
	} else {
		// Outlived every prior: expect as long again as it has run.
		cond = logNormal{mu: math.Log(max(m.now, 1)), sigma: 1}.survival(t - m.now)
	}
	if m.progWeight == 0 {
		return cond
	}
	prog := logNormal{mu: math.Log(m.progMedian), sigma: m.progSigma}.survival(t - m.now)
	return (1-m.progWeight)*cond + m.progWeight*prog
}

// nextGap places the next poll where the polls' density, integrated from
// now, reaches one: the density of optimal checking for an event of hazard
// h at a cost c per check, sqrt(scale·h / 2c), with scale the share of
// endings only a poll can detect (1, or the webhook loss rate). The result
// lies in [minGap, maxGap].
func (m endModel) nextGap(cost, scale, minGap, maxGap float64) float64 {
	t, acc, sPrev := m.now, 0.0, 1.0
	for t-m.now < maxGap {
		step := max(0.25, 0.05*(t-m.now))
		s := m.survival(t + step)
		var h float64
		switch {
		case s <= 0 || sPrev <= 0:
			h = 1e3
		default:
			h = math.Max(math.Log(sPrev/s), 0) / step
		}
		density := math.Sqrt(scale * h / (2 * cost))
		if acc+density*step >= 1 {
			t += (1 - acc) / density
			return min(max(t-m.now, minGap), maxGap)
		}
		acc += density * step
		t += step
		sPrev = s
	}
	return maxGap
}

// median is the time at which the generation has even odds of having
// ended, or false when that lies beyond the horizon.
func (m endModel) median(horizon float64) (float64, bool) {
	lo, hi := m.now, m.now+1
	for m.survival(hi) > 0.5 {
		lo, hi = hi, m.now+2*(hi-m.now)
		if hi-m.now > horizon {
			return 0, false
		}
	}
	for range 30 {
		mid := (lo + hi) / 2
		if m.survival(mid) > 0.5 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, true
}

// etaHorizon bounds how far ahead an ETA is given.
const etaHorizon = 24 * time.Hour

// pace returns the delay before the next poll of a generation that is
// still running, the estimated end, and what they were based on.
func pace(in Input, p Policy) (time.Duration, time.Time, Basis) {
	m := newEndModel(in, p)
	scale, maxGap := 1.0, p.Max
	if p.Webhooks {
		scale, maxGap = p.WebhookLoss, p.WebhookMax
	}
	gap := m.nextGap(p.CallCost.Seconds(), scale, p.MinInterval.Seconds(), maxGap.Seconds())
	risk := lagRisk
	if p.Webhooks {
		// Only lost webhooks wait for a poll.
		risk = min(risk/p.WebhookLoss, 0.5)
	}
	guard := m.lagGuard(p.TargetLag.Seconds(), risk, maxGap.Seconds())
	if !in.History.HintAt.IsZero() {
		// A webhook said it ended, yet the status says running: the
		// provider's status lags its webhook. Look again soon, doubling.
		if since := in.Now.Sub(in.History.HintAt).Seconds(); since >= 0 && since < hintFollowUp.Seconds() {
			guard = min(guard, max(since, p.MinInterval.Seconds()))
		}
	}
	// Jitter, never past the guard, then a whole second.
	gap = min(jitter(p, secondsDuration(gap), in.Rand).Seconds(), guard)
	gap = onWholeSecond(in.Now, gap, guard, p.MinInterval.Seconds())
	var eta time.Time
	if at, ok := m.median(etaHorizon.Seconds()); ok {
		eta = in.EnqueuedAt.Add(time.Duration(at * float64(time.Second)))
	}
	return time.Duration(gap * float64(time.Second)), eta, m.basis
}

// hintFollowUp is how long after a webhook hint a generation that still
// says running is polled again soon.
const hintFollowUp = time.Minute

// lagRisk is the chance, at each poll, that the generation ends early
// enough in the gap to the next one to be detected later than
// Policy.TargetLag.
const lagRisk = 0.03

// onWholeSecond moves a gap so that the poll falls on a whole second, as
// asynq schedules it: to the nearest one, unless that is later than the
// guard allows, then to the one before; never nearer than minGap. Were the
// rounding left to the scheduler, half the gaps the lag guard shortened
// would grow again by up to half a second.
func onWholeSecond(now time.Time, gap, guard, minGap float64) float64 {
	frac := float64(now.Sub(now.Truncate(time.Second))) / float64(time.Second)
	due := frac + gap
	at := math.Round(due)
	if at > frac+guard {
		at = math.Floor(frac + guard)
	}
	if at-frac < minGap {
		at = math.Ceil(frac + minGap)
	}
	return at - frac
}

// lagGuard returns the longest gap that keeps the chance of a lag over
// target below risk: a generation that ends in the first gap - target
// seconds of the gap is detected later than target.
func (m endModel) lagGuard(target, risk, maxGap float64) float64 {
	lo, hi := 0.0, maxGap
	if 1-m.survival(m.now+hi) <= risk {
		return maxGap + target
	}
	for range 20 {
		mid := (lo + hi) / 2
		if 1-m.survival(m.now+mid) > risk {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo + target
}
