package schedule

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var progressStart = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// sec is progressStart plus s seconds.
func sec(s float64) time.Time { return progressStart.Add(time.Duration(s * float64(time.Second))) }

// readings samples a generation whose progress at t seconds is
// floor(100·curve(t/total)), as a provider reporting whole percent would,
// at each of the poll times.
func readings(total float64, curve func(float64) float64, polls ...float64) []Sample {
	var out []Sample
	for _, at := range polls {
		out = append(out, Sample{At: sec(at), Percent: int(math.Floor(100 * curve(at/total)))})
	}
	return out
}

func linear(x float64) float64 { return x }

func TestEstimateProgress(t *testing.T) {
	t.Parallel()

	tests := []struct {
		desc    string
		samples []Sample
		wantOK  bool
		// The estimated end, in seconds since enqueued_at, within tol.
		wantEnd, tol float64
		wantWeight   float64
	}{
		{
			desc:    "linear whole-percent readings give the true end",
			samples: readings(120, linear, 11, 23, 37, 52),
			wantOK:  true, wantEnd: 120, tol: 0.03 * 120, wantWeight: manyReadingsWeight,
		},
		{
			desc:    "two linear readings give the true end",
			samples: readings(200, linear, 33, 47),
			wantOK:  true, wantEnd: 200, tol: 0.03 * 200, wantWeight: progressWeight,
		},
		{
			desc:    "readings late in a long run give the true end",
			samples: readings(1800, linear, 900, 1003, 1111, 1250, 1402),
			wantOK:  true, wantEnd: 1800, tol: 0.03 * 1800, wantWeight: manyReadingsWeight,
		},
		{
			desc: "coarse steps of 25 still give a sane end",
			// 1 % a second, each step first seen a second after it is reached.
			samples: []Sample{{At: sec(26), Percent: 25}, {At: sec(51), Percent: 50}, {At: sec(76), Percent: 75}},
			// Never before the last reading, never after the step
			// after it could have ended.
			wantOK: true, wantEnd: 90, tol: 14, wantWeight: manyReadingsWeight,
		},
		{
			desc:    "one reading starts halfway between the poll before and it",
			samples: []Sample{{At: sec(20), After: sec(10), Percent: 20}},
			// Band 20-30 (step 10), placed at 25, started at 15: 5 %/s.
			wantOK: true, wantEnd: 35, tol: 0.01, wantWeight: singleReadingWeight,
		},
		{
			desc:    "one reading without the poll before starts at enqueued_at",
			samples: []Sample{{At: sec(20), Percent: 20}},
			// 25 % in 20 s.
			wantOK: true, wantEnd: 80, tol: 0.01, wantWeight: singleReadingWeight,
		},
		{
			desc:    "one reading whose poll before is not before it starts at enqueued_at",
			samples: []Sample{{At: sec(20), After: sec(20), Percent: 20}},
			wantOK:  true, wantEnd: 80, tol: 0.01, wantWeight: singleReadingWeight,
		},
		{
			desc:    "zeros before the run starts are left out",
			samples: []Sample{{At: sec(5), Percent: 0}, {At: sec(10), Percent: 0}, {At: sec(20), After: sec(10), Percent: 20}},
			wantOK:  true, wantEnd: 35, tol: 0.01, wantWeight: singleReadingWeight,
		},
		{
			desc: "a reset to zero starts a new run",
			samples: []Sample{
				{At: sec(10), Percent: 40}, {At: sec(20), Percent: 0},
				{At: sec(33), Percent: 13}, {At: sec(47), Percent: 27},
			},
			// 1 %/s from 20 s.
			wantOK: true, wantEnd: 120, tol: 0.03 * 120, wantWeight: progressWeight,
		},
		{desc: "no readings", samples: nil},
		{desc: "readings that never moved", samples: []Sample{{At: sec(10)}, {At: sec(20)}, {At: sec(30)}}},
		{desc: "a run that ended in zero", samples: []Sample{{At: sec(10), Percent: 30}, {At: sec(20), Percent: 0}}},
		{desc: "a reading of 100", samples: []Sample{{At: sec(10), Percent: 40}, {At: sec(20), Percent: 100}}},
		{desc: "100 before a lower reading", samples: []Sample{{At: sec(10), Percent: 100}, {At: sec(20), Percent: 40}}},
		{desc: "readings stuck at one value", samples: []Sample{{At: sec(10), Percent: 42}, {At: sec(20), Percent: 42}, {At: sec(30), Percent: 42}}},
		{desc: "readings going backwards", samples: []Sample{{At: sec(10), Percent: 60}, {At: sec(20), Percent: 41}}},
		{desc: "two readings at the same time", samples: []Sample{{At: sec(10), Percent: 41}, {At: sec(10), Percent: 43}}},
		{desc: "one reading at enqueued_at", samples: []Sample{{At: sec(0), Percent: 20}}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, ok := estimateProgress(tt.samples, progressStart)
			require.Equal(t, tt.wantOK, ok, "estimate %+v", got)
			if !tt.wantOK {
				return
			}
			require.InDelta(t, tt.wantEnd, got.end, tt.tol)
			require.Greater(t, got.end, tt.samples[len(tt.samples)-1].At.Sub(progressStart).Seconds(), "the end lies after the last reading")
			require.InDelta(t, tt.wantWeight, got.weight, 1e-12)
			require.Greater(t, got.sigma, 0.0)
			require.LessOrEqual(t, got.sigma, 1.2)
		})
	}
}

func TestProgressStep(t *testing.T) {
	t.Parallel()

	tests := []struct {
		desc     string
		percents []int
		want     float64
	}{
		{desc: "quarters", percents: []int{25, 50, 75}, want: 25},
		{desc: "one quarter", percents: []int{50}, want: 25},
		{desc: "tenths", percents: []int{10, 20, 50}, want: 10},
		{desc: "fifths of tenths", percents: []int{5, 15, 35}, want: 5},
		{desc: "whole percent", percents: []int{12, 25, 50}, want: 1},
		{desc: "a single odd reading", percents: []int{37}, want: 1},
		{desc: "quarters, then the closing plateau", percents: []int{25, 50, 75, 99}, want: 25},
		{desc: "the closing plateau alone", percents: []int{99}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			var run []Sample
			for i, p := range tt.percents {
				run = append(run, Sample{At: sec(float64(10 * (i + 1))), Percent: p})
			}
			require.InDelta(t, tt.want, progressStep(run), 0)
		})
	}
}

// TestEstimateProgressSlowStart checks that fitting the latest readings
// follows a curve that starts slow better than one straight line through
// the whole run would.
func TestEstimateProgressSlowStart(t *testing.T) {
	t.Parallel()

	const total = 100.0
	square := func(x float64) float64 { return x * x }
	tests := []struct {
		desc  string
		polls []float64
	}{
		{desc: "every ten seconds to 80 %", polls: []float64{10, 20, 30, 40, 50, 60, 70, 80, 90}},
		{desc: "every seven seconds to 60 %", polls: []float64{14, 21, 28, 35, 42, 49, 56, 63, 70, 77}},
		{desc: "sparse polls", polls: []float64{15, 35, 55, 70, 85}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			samples := readings(total, square, tt.polls...)
			got, ok := estimateProgress(samples, progressStart)
			require.True(t, ok)

			// A least-squares line through every reading above zero.
			var xs, ys []float64
			for _, s := range samples {
				if s.Percent > 0 {
					xs = append(xs, s.At.Sub(progressStart).Seconds())
					ys = append(ys, float64(s.Percent)+0.5)
				}
			}
			slope, intercept := fitLine(xs, ys)
			last := len(xs) - 1
			for _, wholeRun := range []float64{
				(100 - intercept) / slope,       // where the line reaches 100
				xs[last] + (100-ys[last])/slope, // the line's rate from the last reading
			} {
				require.Less(t, math.Abs(got.end-total), math.Abs(wholeRun-total),
					"latest-readings estimate %.1f s is farther from %v s than the whole-run fit %.1f s", got.end, total, wholeRun)
			}
			require.InDelta(t, total, got.end, 0.12*total)
		})
	}
}

func fitLine(xs, ys []float64) (slope, intercept float64) {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

func TestEstimateProgressTrust(t *testing.T) {
	t.Parallel()

	// 1 %/s from enqueued_at, whole percent, polled every 6 s from 9 s.
	polls := []float64{9, 15, 21, 27, 33, 39}
	tests := []struct {
		desc       string
		n          int
		wantWeight float64
	}{
		{desc: "one reading", n: 1, wantWeight: singleReadingWeight},
		{desc: "two readings", n: 2, wantWeight: progressWeight},
		{desc: "three readings", n: 3, wantWeight: manyReadingsWeight},
		{desc: "four readings", n: 4, wantWeight: manyReadingsWeight},
		{desc: "six readings", n: 6, wantWeight: manyReadingsWeight},
	}
	prevSigma := math.Inf(1)
	for _, tt := range tests {
		// Sequential: sigma must narrow from one case to the next.
		t.Run(tt.desc, func(t *testing.T) {
			got, ok := estimateProgress(readings(100, linear, polls[:tt.n]...), progressStart)
			require.True(t, ok)
			require.InDelta(t, tt.wantWeight, got.weight, 1e-12)
			require.InDelta(t, 100, got.end, 0.1*100)
			if tt.n >= 2 {
				require.Less(t, got.sigma, prevSigma, "more readings narrow sigma")
			}
			prevSigma = got.sigma
		})
	}
}

// TestEstimateProgressBend checks that a curve that bends widens the
// estimate's spread: at the same readings' times, a run that speeds up
// (progress ∝ t^2.5) or slows down (∝ √t) is less certain than a straight
// one, by about how far the latest segment's rate is from the fitted rate.
func TestEstimateProgressBend(t *testing.T) {
	t.Parallel()
	// Whole-percent readings of all three (steps of 1), so that the step
	// band is the same.
	polls := []float64{41, 53, 64, 77}
	straight, ok := estimateProgress(readings(100, linear, polls...), progressStart)
	require.True(t, ok)
	for _, tt := range []struct {
		desc  string
		curve func(float64) float64
	}{
		{desc: "speeding up", curve: func(x float64) float64 { return math.Pow(x, 2.5) }},
		{desc: "slowing down", curve: math.Sqrt},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, ok := estimateProgress(readings(100, tt.curve, polls...), progressStart)
			require.True(t, ok)
			require.Greater(t, got.sigma, straight.sigma+0.05, "a bending curve is less certain")
			require.LessOrEqual(t, got.sigma, 1.2)
		})
	}
}

// TestCoarseStepsCrossedBetweenPolls checks that a coarse step seen
// between two polls is read as crossed between them: progress of 1 % a
// second from 10 s, in steps of 25, each step bracketed by polls 2 s
// either side, ends at 110 s, and the brackets make the estimate surer
// than the same readings without the polls before them.
func TestCoarseStepsCrossedBetweenPolls(t *testing.T) {
	t.Parallel()
	bracketed := []Sample{
		{After: sec(33), At: sec(37), Percent: 25},
		{After: sec(58), At: sec(62), Percent: 50},
		{After: sec(83), At: sec(87), Percent: 75},
	}
	est, ok := estimateProgress(bracketed, progressStart)
	require.True(t, ok)
	require.InDelta(t, 110, est.end, 1, "the crossings at 35, 60 and 85 s")

	unbracketed := make([]Sample, len(bracketed))
	for i, s := range bracketed {
		unbracketed[i] = Sample{At: s.At, Percent: s.Percent}
	}
	banded, ok := estimateProgress(unbracketed, progressStart)
	require.True(t, ok)
	require.Less(t, est.sigma, banded.sigma, "a crossing pins a step's time; a band only bounds it")
}

func TestStampedReadingsNarrowTheEstimate(t *testing.T) {
	t.Parallel()
	// Steps of 25 reached at 35, 60 and 85 s, polled every 20 s.
	polled := []Sample{
		{After: sec(20), At: sec(40), Percent: 25},
		{After: sec(40), At: sec(60), Percent: 50},
		{After: sec(80), At: sec(100), Percent: 75},
	}
	stamped := make([]Sample, len(polled))
	for i, s := range polled {
		stamped[i] = s
		stamped[i].Reached = sec(35 + 25*float64(i))
	}
	byPolls, ok := estimateProgress(polled, progressStart)
	require.True(t, ok)
	byStamps, ok := estimateProgress(stamped, progressStart)
	require.True(t, ok)
	require.InDelta(t, 110.5, byStamps.end, 0.01, "the provider's times put 100 % at 110 s, and a half second for their rounding")
	require.Greater(t, math.Abs(byPolls.end-110), math.Abs(byStamps.end-110), "the polls alone place the steps less well")
	require.Less(t, byStamps.sigma, byPolls.sigma, "a stamp pins a step to its second")

	// One reading: the run starts halfway between the poll before and the
	// time the provider gives.
	one, ok := estimateProgress([]Sample{{After: sec(10), At: sec(30), Percent: 20, Reached: sec(19)}}, progressStart)
	require.True(t, ok)
	require.InDelta(t, 19.5+80*(19.5-14.75)/20, one.end, 0.01)

	// A reading dated right after the poll before would end at once, yet
	// the poll that saw it found it running.
	early, ok := estimateProgress([]Sample{{After: sec(10), At: sec(30), Percent: 25, Reached: sec(10)}}, progressStart)
	require.True(t, ok)
	require.InDelta(t, 30, early.end, 0.01, "never before the poll that saw it")
}

func TestReadClock(t *testing.T) {
	t.Parallel()
	// Steps of 25 reached at 13.2, 29.4 and 38.5 s, seen by polls every
	// 10 s.
	reached := []float64{13.2, 29.4, 38.5}
	dated := func(ahead float64, whole bool) []Sample {
		out := make([]Sample, len(reached))
		for i, r := range reached {
			stamp := sec(r + ahead)
			if whole {
				stamp = stamp.Truncate(time.Second)
			}
			at := 20 + 10*float64(i)
			out[i] = Sample{After: sec(at - 10), At: sec(at), Percent: 25 * (i + 1), Reached: stamp}
		}
		return out
	}
	secs := func(at time.Time) float64 { return at.Sub(progressStart).Seconds() }
	tests := []struct {
		desc    string
		samples []Sample
		ok      bool
		// The offset found lies in [lo, hi].
		lo, hi float64
	}{
		{desc: "clocks in sync", samples: dated(0, true), ok: true, lo: 0, hi: 0},
		{desc: "clocks in sync, exact stamps", samples: dated(0, false), ok: true, lo: 0, hi: 0},
		// The shortest wait to be seen is 0.6 s (29.4 s, seen at 30 s).
		{desc: "a clock 5 s ahead, exact stamps", samples: dated(5, false), ok: true, lo: 4.4, hi: 4.4},
		{desc: "a clock 5 s ahead, whole seconds", samples: dated(5, true), ok: true, lo: 3.9, hi: 5},
		// The shortest time after the poll before is 3.2 s (13.2 s, after
		// 10 s).
		{desc: "a clock 30 s behind", samples: dated(-30, false), ok: true, lo: -26.8, hi: -26.8},
		{desc: "no stamps", samples: []Sample{{At: sec(20), Percent: 25}}},
		{
			desc:    "a 0 % reading dated at the creation is left out",
			samples: append([]Sample{{After: sec(3), At: sec(8), Percent: 0, Reached: sec(-2)}}, dated(0, false)...),
			ok:      true, lo: 0, hi: 0,
		},
		{
			desc: "readings that differ but share a date",
			samples: []Sample{
				{After: sec(10), At: sec(20), Percent: 25, Reached: sec(5)},
				{After: sec(20), At: sec(30), Percent: 50, Reached: sec(5)},
			},
		},
		{
			desc:    "a bracket whose poll before is not before its poll bounds nothing",
			samples: append(dated(0, false), Sample{After: sec(50), At: sec(45), Percent: 99, Reached: sec(44)}),
			ok:      true, lo: 0, hi: 0,
		},
		{
			desc:    "a clock ahead, bounded on one side only",
			samples: []Sample{{At: sec(30), Percent: 25, Reached: sec(3600)}},
		},
		{
			desc: "stamps that contradict each other",
			samples: []Sample{
				{After: sec(10), At: sec(20), Percent: 25, Reached: sec(25)},
				{After: sec(20), At: sec(30), Percent: 50, Reached: sec(8)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := readClock(tt.samples, secs)
			require.Equal(t, tt.ok, c.ok)
			if tt.ok {
				require.GreaterOrEqual(t, c.offset, tt.lo-1e-9)
				require.LessOrEqual(t, c.offset, tt.hi+1e-9)
			}
		})
	}
}

func TestProgressPoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		samples []Sample
		step    float64
		want    []progressPoint
	}{
		{
			desc:    "a step seen between two polls is crossed at their middle",
			samples: []Sample{{At: sec(10), Percent: 0}, {After: sec(10), At: sec(20), Percent: 25}},
			step:    25,
			want:    []progressPoint{{t: 15, y: 25, crossed: true, halfBracket: 5}},
		},
		{
			desc:    "a jump of two steps is a band at its poll",
			samples: []Sample{{At: sec(10), Percent: 25}, {After: sec(10), At: sec(30), Percent: 75}},
			step:    25,
			want:    []progressPoint{{t: 10, y: 37.5}, {t: 30, y: 87.5}},
		},
		{
			desc:    "whole-percent readings are bands: many levels pass between polls",
			samples: []Sample{{After: sec(4), At: sec(8), Percent: 1}, {After: sec(8), At: sec(12), Percent: 2}},
			step:    1,
			want:    []progressPoint{{t: 8, y: 1.5}, {t: 12, y: 2.5}},
		},
		{
			desc:    "a reading without the poll before is a band",
			samples: []Sample{{At: sec(20), Percent: 10}},
			step:    10,
			want:    []progressPoint{{t: 20, y: 15}},
		},
		{
			desc: "a coarse step the provider stamped is its level within the stamp's second",
			samples: []Sample{
				{At: sec(10), Percent: 0},
				{After: sec(10), At: sec(20), Percent: 25, Reached: sec(13)},
				{After: sec(20), At: sec(30), Percent: 50, Reached: sec(23)},
			},
			step: 25,
			want: []progressPoint{{t: 13.5, y: 25, crossed: true, halfBracket: 0.5}, {t: 23.5, y: 50, crossed: true, halfBracket: 0.5}},
		},
		{
			desc: "a stamp with a fraction of a second is exact",
			samples: []Sample{
				{After: sec(10), At: sec(20), Percent: 25, Reached: sec(13.25)},
				{After: sec(20), At: sec(30), Percent: 50, Reached: sec(23.75)},
			},
			step: 25,
			want: []progressPoint{{t: 13.25, y: 25, crossed: true}, {t: 23.75, y: 50, crossed: true}},
		},
		{
			desc: "whole-percent readings keep their bands, narrower than a second",
			samples: []Sample{
				{After: sec(4), At: sec(8), Percent: 11, Reached: sec(7)},
				{After: sec(8), At: sec(12), Percent: 21, Reached: sec(11)},
			},
			step: 1,
			want: []progressPoint{{t: 8, y: 11.5}, {t: 12, y: 21.5}},
		},
		{
			desc: "slow whole-percent readings take the stamp, narrower than their bands",
			samples: []Sample{
				{After: sec(40), At: sec(60), Percent: 11, Reached: sec(47)},
				{After: sec(60), At: sec(80), Percent: 12, Reached: sec(71)},
			},
			step: 1,
			want: []progressPoint{{t: 47.5, y: 11, crossed: true, halfBracket: 0.5}, {t: 71.5, y: 12, crossed: true, halfBracket: 0.5}},
		},
		{
			desc:    "the closing plateau's 99 is placed when it was reached, not when seen",
			samples: []Sample{{At: sec(20), Percent: 75}, {After: sec(20), At: sec(40), Percent: 99, Reached: sec(25)}},
			step:    25,
			want:    []progressPoint{{t: 20, y: 87.5}, {t: 25.5, y: 99, crossed: true, halfBracket: 0.5}},
		},
		{
			desc: "stamps no one clock fits are set aside",
			samples: []Sample{
				{At: sec(10), Percent: 0},
				{After: sec(10), At: sec(20), Percent: 25, Reached: sec(25)},
				{After: sec(20), At: sec(30), Percent: 50, Reached: sec(8)},
			},
			step: 25,
			want: []progressPoint{{t: 15, y: 25, crossed: true, halfBracket: 5}, {t: 25, y: 50, crossed: true, halfBracket: 5}},
		},
		{
			desc: "stamps of a clock half a second ahead are read back by it",
			samples: []Sample{
				{After: sec(10), At: sec(20), Percent: 25, Reached: sec(20.5)},
				{After: sec(20), At: sec(30), Percent: 50, Reached: sec(29.5)},
				{After: sec(30), At: sec(40), Percent: 75, Reached: sec(30.5)},
			},
			step: 25,
			want: []progressPoint{{t: 20, y: 25, crossed: true}, {t: 29, y: 50, crossed: true}, {t: 30, y: 75, crossed: true}},
		},
		{
			desc: "stamps of a clock known only loosely lose to the crossings",
			samples: []Sample{
				{After: sec(10), At: sec(20), Percent: 25, Reached: sec(20.5)},
				{After: sec(20), At: sec(30), Percent: 50, Reached: sec(29.5)},
			},
			step: 25,
			want: []progressPoint{{t: 15, y: 25, crossed: true, halfBracket: 5}, {t: 25, y: 50, crossed: true, halfBracket: 5}},
		},
		{
			desc:    "the band of the last step stops at 100",
			samples: []Sample{{At: sec(20), Percent: 75}, {After: sec(20), At: sec(30), Percent: 99}},
			step:    25,
			want:    []progressPoint{{t: 20, y: 87.5}, {t: 30, y: 99.5}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			first := 0
			for first < len(tt.samples) && tt.samples[first].Percent <= 0 {
				first++
			}
			secs := func(at time.Time) float64 { return at.Sub(progressStart).Seconds() }
			got := progressPoints(tt.samples, first, tt.step, secs, readClock(tt.samples, secs))
			require.Len(t, got, len(tt.want))
			for i := range got {
				require.InDelta(t, tt.want[i].t, got[i].t, 1e-9, "point %d", i)
				require.InDelta(t, tt.want[i].y, got[i].y, 1e-9, "point %d", i)
				require.Equal(t, tt.want[i].crossed, got[i].crossed, "point %d", i)
				require.InDelta(t, tt.want[i].halfBracket, got[i].halfBracket, 1e-9, "point %d", i)
			}
		})
	}
}
