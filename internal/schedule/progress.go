package schedule

import (
	"math"
	"time"
)

// progressEstimate is what a generation's own progress readings say about
// its end.
type progressEstimate struct {
	// end is the estimated end, in seconds since enqueued_at.
	end float64
	// sigma is the uncertainty of the time remaining at the last reading,
	// as the standard deviation of its logarithm.
	sigma float64
	// weight is how much the estimate is trusted beside the prior, 0 to 1.
	weight float64
}

// Weights of a progress estimate beside the prior.
const (
	// progressWeight applies with two or more readings above zero: a rate
	// measured by the generation itself.
	progressWeight = 0.85
	// singleReadingWeight applies with one reading above zero, whose
	// start can only be guessed.
	singleReadingWeight = 0.5
	// manyReadingsWeight applies with three readings or more.
	manyReadingsWeight = 0.95
)

// estimateProgress extrapolates the progress readings to 100 %.
//
// A reading of p seen at a poll says the progress was then between p and
// p plus the provider's step (the largest of 25, 10, 5 and 1 that divides
// every reading: providers report progress in coarse steps or in whole
// percent), so it is placed at the middle of that band. A coarse step that
// the poll before did not show yet was crossed between the two polls, and
// is placed at its own level, between them; a reading the provider dates
// (its updated-at time) is placed at its own level at that time (see
// progressPoints).
//
// With two readings or more the rate is fitted by least squares over the
// latest four points, which follows curves that start slow or fast, and
// the estimate is trusted more the more readings it rests on; its spread
// widens by how far the latest segment's rate departs from the fitted one
// (log ratio), since a curve that bends shows there first. With one
// reading, the run is taken to have started halfway between the poll
// before (which saw no progress yet) and the reading, or at enqueued_at.
// Readings of 100 and runs that never moved say nothing.
func estimateProgress(samples []Sample, enqueuedAt time.Time) (progressEstimate, bool) {
	sec := func(t time.Time) float64 { return t.Sub(enqueuedAt).Seconds() }
	first := -1
	for i, s := range samples {
		switch {
		case s.Percent <= 0:
			first = -1
		case s.Percent >= 100:
			return progressEstimate{}, false
		case first < 0:
			first = i
		}
	}
	if first < 0 {
		return progressEstimate{}, false
	}
	run := samples[first:]
	step := progressStep(run)
	clock := readClock(samples, sec)

	if len(run) == 1 {
		// One reading: the band's middle at its poll (or its own level
		// when the provider says when it was reached), and a run taken to
		// have started halfway between the poll before (which saw no
		// progress yet) and the reading, or at enqueued_at.
		s := run[0]
		t, y := sec(s.At), bandMiddle(s.Percent, step)
		if at, _, ok := clock.reachedAt(s, sec); ok {
			t, y = at, float64(s.Percent)
		}
		start := 0.0
		if !s.After.IsZero() && sec(s.After) < t {
			start = (sec(s.After) + t) / 2
		}
		if t-start <= 0 {
			return progressEstimate{}, false
		}
		rate := y / (t - start)
		// Never before the poll that saw it still running.
		end := max(t+(100-y)/rate, sec(s.At))
		return progressEstimate{end: end, sigma: 0.5, weight: singleReadingWeight}, true
	}

	points := progressPoints(samples, first, step, sec, clock)
	last := points[len(points)-1]
	tLast, yLast := last.t, last.y
	fit := points[max(len(points)-4, 0):]
	var mt, my float64
	for _, p := range fit {
		mt += p.t
		my += p.y
	}
	mt /= float64(len(fit))
	my /= float64(len(fit))
	var sxy, sxx float64
	for _, p := range fit {
		dt := p.t - mt
		sxy += dt * (p.y - my)
		sxx += dt * dt
	}
	if sxx <= 0 || sxy <= 0 {
		return progressEstimate{}, false
	}
	rate := sxy / sxx
	bend := 0.0
	if prev := points[len(points)-2]; tLast > prev.t && yLast > prev.y {
		last := (yLast - prev.y) / (tLast - prev.t)
		bend = math.Abs(math.Log(last / rate))
	}
	// The end, extrapolated from the last point, and never before the
	// poll that saw it.
	seen := sec(run[len(run)-1].At)
	end := math.Max(tLast+(100-yLast)/rate, seen)
	span := tLast - fit[0].t

	// The uncertainty of the remaining time: each point is uncertain in
	// time (a crossing by half its bracket, a band by half a step at the
	// fitted rate), which makes the rate uncertain over the span fitted;
	// the curve may bend; a longer fit and more readings narrow both.
	var u float64
	for _, p := range fit {
		if p.crossed {
			u += p.halfBracket
		} else {
			u += step / 2 / rate
		}
	}
	u /= float64(len(fit))
	relRate := 2 * u / math.Max(span, 1)
	sigma := 0.08 + relRate + 0.25/float64(len(run)) + bend
	weight := progressWeight
	if len(run) >= 3 {
		weight = manyReadingsWeight
	}
	return progressEstimate{end: end, sigma: min(sigma, 1.2), weight: weight}, true
}

// progressPoint is one reading placed on the progress curve: at t
// (seconds since enqueued_at) the progress was y.
type progressPoint struct {
	t, y float64
	// crossed says the point is exact in level and known in time to
	// within halfBracket seconds either side of t: a step's crossing
	// between two polls, or a reading the provider dated.
	crossed     bool
	halfBracket float64
}

// progressPoints places the readings of samples[first:] on the curve.
//
// A reading whose provider says when it was reached (see providerClock) is its
// own level at that time, when that pins the time closer than its band
// would: the band of a reading spans step / rate seconds, the provider's
// time, in whole seconds, one; and always for the closing plateau's 99,
// which the band would place at a poll long after it was reached.
// Otherwise, a coarse step (5 or more) that one poll did not show and the
// next did was crossed between the two: the point is the step's level at
// the middle of that bracket, exact in level. Any other reading is the
// middle of its band, at the poll that saw it.
func progressPoints(samples []Sample, first int, step float64, sec func(time.Time) float64, clock providerClock) []progressPoint {
	points := make([]progressPoint, 0, len(samples)-first)
	// A rough rate, from the first reading and the last as seen.
	rough := math.Inf(1)
	if a, b := samples[first], samples[len(samples)-1]; b.At.After(a.At) && b.Percent > a.Percent {
		rough = float64(b.Percent-a.Percent) / b.At.Sub(a.At).Seconds()
	}
	for i := first; i < len(samples); i++ {
		s := samples[i]
		if t, half, ok := clock.reachedAt(s, sec); ok && (s.Percent == plateauPercent || half < step/2/rough) {
			points = append(points, progressPoint{t: t, y: float64(s.Percent), crossed: true, halfBracket: half})
			continue
		}
		prev := 0
		if i > 0 {
			prev = samples[i-1].Percent
		}
		if step >= 5 && s.bracketed() && s.Percent-prev == int(step) {
			half := s.At.Sub(s.After).Seconds() / 2
			points = append(points, progressPoint{t: sec(s.After) + half, y: float64(s.Percent), crossed: true, halfBracket: half})
			continue
		}
		points = append(points, progressPoint{t: sec(s.At), y: bandMiddle(s.Percent, step)})
	}
	return points
}

// providerClock maps the times a provider gives for its readings
// (Sample.Reached, its updated-at) onto the workers' clock.
type providerClock struct {
	// offset is how many seconds the provider's clock runs ahead, and
	// slack how far off that may be, either way.
	offset, slack float64
	// ok is false when the provider gave no times, or none that one
	// offset fits.
	ok bool
}

// stampTolerance is how far, in seconds, the readings' brackets may
// disagree on the provider's clock before its times are set aside: its
// updated-at then tracks something else than the progress, or its clock
// jumps.
const stampTolerance = 1.0

// readClock reads the provider's clock off its dated readings above 0 %
// (a 0 % reading's date may be the generation's creation, long before it
// was seen). A reading was reached between the poll before, which had not
// seen it (After), and the poll that saw it (At), so its time, less the
// offset between the clocks, lies in that bracket: each reading bounds the
// offset, and the offset is the one nearest zero that all of them allow,
// since clocks are usually in sync: then it is zero. A clock that runs
// ahead is found to within the shortest time a reading waited to be seen,
// one that runs behind to within the shortest time from the poll before to
// a reading; that much is the offset's slack.
//
// The dates are set aside when no one offset fits them, when readings
// that differ share a date (an updated-at that moves with the state but
// not the progress), and when an offset other than zero is bounded on one
// side only.
func readClock(samples []Sample, sec func(time.Time) float64) providerClock {
	lo, hi, dated := math.Inf(-1), math.Inf(1), false
	var last time.Time
	for _, s := range samples {
		if s.Reached.IsZero() || s.Percent <= 0 {
			continue
		}
		if !last.IsZero() && !s.Reached.After(last) {
			return providerClock{}
		}
		last = s.Reached
		t, half := stampTime(s, sec)
		dated = true
		lo = max(lo, t-half-sec(s.At))
		if s.bracketed() {
			hi = min(hi, t+half-sec(s.After))
		}
	}
	switch {
	case !dated || lo > hi+stampTolerance:
		return providerClock{}
	case lo > hi:
		return providerClock{offset: (lo + hi) / 2, slack: (lo - hi) / 2, ok: true}
	case lo <= 0 && 0 <= hi:
		return providerClock{ok: true}
	case math.IsInf(lo, -1) || math.IsInf(hi, 1):
		return providerClock{}
	default:
		return providerClock{offset: min(max(0, lo), hi), slack: hi - lo, ok: true}
	}
}

// stampTime returns the provider's time for s in seconds since
// enqueued_at, with the half-width of its uncertainty: a time in whole
// seconds (Unix seconds, RFC 3339 without a fraction) means the reading
// was reached within that second, so its middle, give or take half a
// second.
func stampTime(s Sample, sec func(time.Time) float64) (t, half float64) {
	t = sec(s.Reached)
	if s.Reached.Nanosecond() == 0 {
		return t + 0.5, 0.5
	}
	return t, 0
}

// reachedAt returns when s was reached on the workers' clock, in seconds
// since enqueued_at, with the half-width of its uncertainty (the date's
// and the offset's), and whether the provider's time for it can be used.
// The time is kept within the polls' bracket of the reading.
func (c providerClock) reachedAt(s Sample, sec func(time.Time) float64) (t, half float64, ok bool) {
	if !c.ok || s.Reached.IsZero() || s.Percent <= 0 {
		return 0, 0, false
	}
	t, half = stampTime(s, sec)
	t -= c.offset
	half += c.slack
	lo, hi := math.Inf(-1), sec(s.At)
	if !s.After.IsZero() {
		lo = sec(s.After)
	}
	if lo > hi {
		return 0, 0, false
	}
	return min(max(t, lo), hi), half, true
}

// progressStep is the coarsest step that every reading is a multiple of.
// A reading of 99 is left out: providers that report in steps still show
// their closing plateau (encoding, upload) as 99.
func progressStep(run []Sample) float64 {
	for _, step := range []int{25, 10, 5} {
		all, seen := true, false
		for _, s := range run {
			if s.Percent == plateauPercent {
				continue
			}
			seen = true
			all = all && s.Percent%step == 0
		}
		if all && seen {
			return float64(step)
		}
	}
	return 1
}

// plateauPercent is the reading of a closing plateau.
const plateauPercent = 99

// bandMiddle is the middle of the band a reading of percent says the
// progress is in: from percent up to the next step, or to 100.
func bandMiddle(percent int, step float64) float64 {
	return (float64(percent) + math.Min(float64(percent)+step, 100)) / 2
}
