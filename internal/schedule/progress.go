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
// percent), so it is placed at the middle of that band. With two readings
// or more the rate is fitted by least squares over the latest four, which
// follows curves that start slow or fast, and the estimate is trusted more
// the more readings it rests on; its spread widens by how far the latest
// segment's rate departs from the fitted one (log ratio), since a curve
// that bends shows there first. With one reading, the run is taken to have
// started halfway between the poll before (which saw no progress yet) and
// the reading, or at enqueued_at. Readings of 100 and runs that never moved
// say nothing.
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
	y := func(s Sample) float64 { return math.Min(float64(s.Percent)+step/2, 100) }
	last := run[len(run)-1]
	tLast, yLast := sec(last.At), y(last)

	if len(run) == 1 {
		start := 0.0
		if !last.After.IsZero() && last.After.Before(last.At) {
			start = (sec(last.After) + tLast) / 2
		}
		if tLast-start <= 0 {
			return progressEstimate{}, false
		}
		rate := yLast / (tLast - start)
		return progressEstimate{end: tLast + (100-yLast)/rate, sigma: 0.5, weight: singleReadingWeight}, true
	}

	fit := run[max(len(run)-4, 0):]
	var mt, my float64
	for _, s := range fit {
		mt += sec(s.At)
		my += y(s)
	}
	mt /= float64(len(fit))
	my /= float64(len(fit))
	var sxy, sxx float64
	for _, s := range fit {
		dt := sec(s.At) - mt
		sxy += dt * (y(s) - my)
		sxx += dt * dt
	}
	if sxx <= 0 || sxy <= 0 {
		return progressEstimate{}, false
	}
	rate := sxy / sxx
	// The latest segment's rate: a curve that bends (a slow start that
	// speeds up, a fast one that slows) shows there first, and how far it
	// is from the fitted rate says how little a straight line is to be
	// trusted.
	bend := 0.0
	if prev := run[len(run)-2]; tLast > sec(prev.At) && yLast > y(prev) {
		last := (yLast - y(prev)) / (tLast - sec(prev.At))
		bend = math.Abs(math.Log(last / rate))
	}
	remaining := math.Max((100-yLast)/rate, 0)
	span := tLast - sec(fit[0].At)

	// The uncertainty of the remaining time: the band of each reading
	// makes the rate uncertain by about a step over the span fitted, and
	// the curve may bend; a longer fit and more readings narrow both.
	relRate := step / (rate * math.Max(span, 1))
	sigma := 0.08 + relRate + 0.25/float64(len(run)) + bend
	weight := progressWeight
	if len(run) >= 3 {
		weight = manyReadingsWeight
	}
	return progressEstimate{end: tLast + remaining, sigma: min(sigma, 1.2), weight: weight}, true
}

// progressStep is the coarsest step that every reading is a multiple of.
func progressStep(run []Sample) float64 {
	for _, step := range []int{25, 10, 5} {
		all := true
		for _, s := range run {
			all = all && s.Percent%step == 0
		}
		if all {
			return float64(step)
		}
	}
	return 1
}
