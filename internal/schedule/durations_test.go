package schedule

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/config"
)

// priorMedian is the duration, in seconds, that the prior gives even odds.
func priorMedian(pr prior) float64 {
	lo, hi := 0.0, 1e6
	for range 200 {
		mid := (lo + hi) / 2
		if pr.survival(mid) > 0.5 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// estimateAtEnqueue is Estimate's ETA, in seconds, for a generation just
// enqueued, when nothing but the prior and the policy is known.
func estimateAtEnqueue(t *testing.T, d *Durations, p Policy) (float64, Basis) {
	t.Helper()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	eta, basis, ok := Estimate(Input{Now: now, EnqueuedAt: now, Deadline: now.Add(time.Hour), Prior: d, Policy: p})
	require.True(t, ok, "Estimate found no ETA")
	return eta.Sub(now).Seconds(), basis
}

func endings(took time.Duration, n, memory int) *Durations {
	var d Durations
	for range n {
		d.Add(took, memory)
	}
	return &d
}

func TestBucket(t *testing.T) {
	t.Parallel()

	tests := []struct {
		desc string
		took time.Duration
		want int
	}{
		{desc: "zero is the first bucket", took: 0, want: 0},
		{desc: "negative is the first bucket", took: -time.Second, want: 0},
		{desc: "half a second is the first bucket", took: 500 * time.Millisecond, want: 0},
		{desc: "one second starts the first bucket", took: time.Second, want: 0},
		{desc: "just under 1.25 s is still the first bucket", took: 1250*time.Millisecond - time.Nanosecond, want: 0},
		{desc: "1.25 s starts the second bucket", took: 1250 * time.Millisecond, want: 1},
		{desc: "1.5625 s starts the third bucket", took: 1562500 * time.Microsecond, want: 2},
		{desc: "1.953125 s starts the fourth bucket exactly", took: 1953125 * time.Microsecond, want: 3},
		{desc: "just under 1.953125 s is the third bucket", took: 1953125*time.Microsecond - time.Nanosecond, want: 2},
		{desc: "2.44140625 s starts the fifth bucket", took: 2441406250 * time.Nanosecond, want: 4},
		{desc: "ten seconds", took: 10 * time.Second, want: 10},
		{desc: "one minute", took: time.Minute, want: 18},
		{desc: "five hours is the last bucket", took: 5*time.Hour + 10*time.Minute, want: NumBuckets - 1},
		{desc: "a day is the last bucket", took: 24 * time.Hour, want: NumBuckets - 1},
		{desc: "the longest duration is the last bucket", took: math.MaxInt64, want: NumBuckets - 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got := Bucket(tt.took)
			require.Equal(t, tt.want, got)
			if tt.took >= time.Second && got < NumBuckets-1 {
				require.LessOrEqual(t, BucketStart(got), tt.took.Seconds()*(1+1e-12), "bucket starts after the duration")
				require.Greater(t, BucketStart(got+1), tt.took.Seconds(), "next bucket starts at or before the duration")
			}
		})
	}
}

func TestBucketStart(t *testing.T) {
	t.Parallel()

	require.InDelta(t, 1.0, BucketStart(0), 1e-12)
	require.InDelta(t, 1.25, BucketStart(1), 1e-12)
	// About five hours at the last bucket, as the type's comment says.
	require.InDelta(t, 5*time.Hour.Seconds(), BucketStart(NumBuckets-1), 0.05*5*time.Hour.Seconds())
	for i := range NumBuckets {
		// Every bucket's start lands in that bucket, whatever the rounding
		// to whole nanoseconds.
		d := time.Duration(math.Ceil(BucketStart(i) * float64(time.Second)))
		require.Equal(t, i, Bucket(d), "BucketStart(%d) = %s", i, d)
	}
}

func TestDecay(t *testing.T) {
	t.Parallel()

	tests := []struct {
		desc   string
		memory int
		want   float64
	}{
		{desc: "negative memory forgets everything", memory: -3, want: 0},
		{desc: "zero memory forgets everything", memory: 0, want: 0},
		{desc: "a memory of one keeps only the last", memory: 1, want: 0},
		{desc: "a memory of two halves", memory: 2, want: 0.5},
		{desc: "the default memory", memory: config.DefaultPollLearnMemory, want: 0.98},
		{desc: "a long memory", memory: 1000, want: 0.999},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.want, Decay(tt.memory), 1e-12)
		})
	}
}

func TestDurationsAdd(t *testing.T) {
	t.Parallel()

	t.Run("decays every weight then adds one", func(t *testing.T) {
		t.Parallel()
		d := Durations{Weights: []float64{4, 0, 2}}
		d.Add(10*time.Second, 2)
		require.Len(t, d.Weights, NumBuckets, "short weights are padded")
		want := make([]float64, NumBuckets)
		want[0], want[2], want[Bucket(10*time.Second)] = 2, 1, 1
		require.InDeltaSlice(t, want, d.Weights, 1e-12)
	})

	t.Run("a memory of one keeps only the last ending", func(t *testing.T) {
		t.Parallel()
		d := endings(10*time.Second, 5, 1)
		d.Add(time.Minute, 1)
		require.InDelta(t, 1.0, d.Total(), 1e-12)
		require.InDelta(t, 1.0, d.Weights[Bucket(time.Minute)], 1e-12)
	})

	tests := []struct {
		desc   string
		n      int
		memory int
	}{
		{desc: "one ending", n: 1, memory: 50},
		{desc: "as many endings as the memory", n: 50, memory: 50},
		{desc: "twice the memory", n: 100, memory: 50},
		{desc: "far more than the memory", n: 2000, memory: 50},
		{desc: "a short memory", n: 100, memory: 5},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			d := endings(30*time.Second, tt.n, tt.memory)
			// A geometric series: 1 + decay + decay² + ...
			decay := Decay(tt.memory)
			want := (1 - math.Pow(decay, float64(tt.n))) / (1 - decay)
			require.InDelta(t, want, d.Total(), 1e-9)
			require.LessOrEqual(t, d.Total(), float64(tt.memory), "the total never exceeds the memory")
			if tt.n >= 20*tt.memory {
				require.InDelta(t, float64(tt.memory), d.Total(), 0.01*float64(tt.memory), "the total converges to the memory")
			}
			require.InDelta(t, d.Total(), d.Weights[Bucket(30*time.Second)], 1e-9, "every ending went to its bucket")
		})
	}
}

func TestDurationsTotal(t *testing.T) {
	t.Parallel()

	tests := []struct {
		desc string
		d    *Durations
		want float64
	}{
		{desc: "nil", d: nil, want: 0},
		{desc: "empty", d: &Durations{}, want: 0},
		{desc: "sums the weights", d: &Durations{Weights: []float64{1, 2.5, 0, 3}}, want: 6.5},
		{desc: "ignores NaN, infinities and negatives", d: &Durations{Weights: []float64{math.NaN(), 2, math.Inf(1), -4, math.Inf(-1), 1}}, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			require.InDelta(t, tt.want, tt.d.Total(), 1e-12)
		})
	}
}

func TestPriorAdapts(t *testing.T) {
	t.Parallel()

	p := Policy{LearnMemory: 50}.WithDefaults()
	var d Durations
	for range 100 {
		d.Add(30*time.Second, p.LearnMemory)
	}
	eta, basis := estimateAtEnqueue(t, &d, p)
	require.Equal(t, BasisLearned, basis)
	require.InDelta(t, 30, eta, 3, "ETA after 100 endings at 30 s")
	require.InDelta(t, 30, priorMedian(newPrior(&d, p)), 3, "prior median after 100 endings at 30 s")

	for range 100 {
		d.Add(90*time.Second, p.LearnMemory)
	}
	eta, basis = estimateAtEnqueue(t, &d, p)
	require.Equal(t, BasisLearned, basis)
	require.InDelta(t, 90, eta, 9, "ETA after 100 more endings at 90 s")
	require.InDelta(t, 90, priorMedian(newPrior(&d, p)), 9, "prior median after 100 more endings at 90 s")
}

func TestPriorBlend(t *testing.T) {
	t.Parallel()

	p := Policy{}.WithDefaults() // default median 60 s
	const learned = 10.0         // every ending took 10 s

	tests := []struct {
		desc      string
		n         int
		wantBasis Basis
		// check is run on the prior's median.
		check func(t *testing.T, median float64)
	}{
		{
			desc: "nothing learned is the default", n: 0, wantBasis: BasisDefault,
			check: func(t *testing.T, median float64) { require.InDelta(t, 60, median, 0.01) },
		},
		{
			desc: "one ending barely moves the default", n: 1, wantBasis: BasisDefault,
			check: func(t *testing.T, median float64) {
				require.Less(t, median, 60.0)
				require.Less(t, math.Abs(median-60), math.Abs(median-learned), "closer to the default than to the one ending")
			},
		},
		{
			desc: "a few endings move it part way", n: 3, wantBasis: BasisDefault,
			check: func(t *testing.T, median float64) {
				require.Less(t, median, 50.0)
				require.Greater(t, median, 2*learned)
			},
		},
		{
			desc: "many endings are the learned durations", n: 100, wantBasis: BasisLearned,
			check: func(t *testing.T, median float64) { require.InDelta(t, learned, median, 0.15*learned) },
		},
	}
	var previous float64 = math.Inf(1)
	for _, tt := range tests {
		// Sequential: each case must lie closer to the learned median than
		// the one before.
		t.Run(tt.desc, func(t *testing.T) {
			d := endings(time.Duration(learned*float64(time.Second)), tt.n, p.LearnMemory)
			median := priorMedian(newPrior(d, p))
			tt.check(t, median)
			require.Less(t, median, previous, "more endings move the median toward the learned one")
			previous = median
			eta, basis := estimateAtEnqueue(t, d, p)
			require.Equal(t, tt.wantBasis, basis)
			require.InDelta(t, median, eta, 0.01*median+0.01, "Estimate at enqueue is the prior's median")
		})
	}
}

func TestPriorSurvival(t *testing.T) {
	t.Parallel()

	mixed := endings(20*time.Second, 30, 50)
	for _, took := range []time.Duration{3 * time.Second, 2 * time.Minute, 40 * time.Minute} {
		mixed.Add(took, 50)
	}
	tests := []struct {
		desc   string
		d      *Durations
		policy Policy
	}{
		{desc: "nothing learned", d: nil},
		{desc: "default with a narrow spread", d: nil, policy: Policy{Expected: 5 * time.Second, ExpectedSpread: 0.05}},
		{desc: "one ending", d: endings(time.Minute, 1, 50)},
		{desc: "sub-second endings", d: endings(400*time.Millisecond, 20, 50)},
		{desc: "endings just over a second", d: endings(1100*time.Millisecond, 20, 50)},
		{desc: "endings of a few seconds", d: endings(2*time.Second, 20, 50)},
		{desc: "mixed endings", d: mixed},
		{desc: "endings of hours", d: endings(6*time.Hour, 20, 50)},
		{desc: "garbage beside real weights", d: &Durations{Weights: []float64{math.NaN(), -3, math.Inf(1), 0, 0, 0, 0, 0, 0, 0, 7}}},
		{desc: "more weights than buckets", d: &Durations{Weights: append(make([]float64, NumBuckets), 5, 5)}},
	}
	// Every 0.01 s up to 3 s, then geometric steps to 30 hours.
	var ts []float64
	for x := 0.0; x < 3; x += 0.01 {
		ts = append(ts, x)
	}
	for x := 3.0; x < 30*3600; x *= 1.01 {
		ts = append(ts, x)
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			pr := newPrior(tt.d, tt.policy.WithDefaults())
			require.InDelta(t, 1, pr.survival(0), 1e-12, "nothing has ended at zero")
			require.InDelta(t, 0, pr.survival(1e7), 1e-3, "everything has ended in months")
			prev := 1.0
			for _, x := range ts {
				s := pr.survival(x)
				require.False(t, math.IsNaN(s), "survival(%g) is NaN", x)
				require.GreaterOrEqual(t, s, 0.0, "survival(%g)", x)
				require.LessOrEqual(t, s, 1.0, "survival(%g)", x)
				require.LessOrEqual(t, s, prev+1e-12, "survival rises at %g s: %g after %g", x, s, prev)
				prev = s
			}
		})
	}
}

func TestPriorIgnoresGarbageWeights(t *testing.T) {
	t.Parallel()

	p := Policy{}.WithDefaults()
	clean := make([]float64, NumBuckets)
	clean[15] = 20
	tests := []struct {
		desc    string
		weights []float64
		want    []float64 // nil: the prior is the default alone
	}{
		{desc: "NaN beside a real weight", weights: withAt(clean, 3, math.NaN()), want: clean},
		{desc: "+Inf beside a real weight", weights: withAt(clean, 30, math.Inf(1)), want: clean},
		{desc: "-Inf beside a real weight", weights: withAt(clean, 0, math.Inf(-1)), want: clean},
		{desc: "a negative weight beside a real one", weights: withAt(clean, 16, -50), want: clean},
		{desc: "only garbage is nothing learned", weights: []float64{math.NaN(), math.Inf(1), -1}, want: nil},
		{desc: "only zeros is nothing learned", weights: make([]float64, NumBuckets), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got := newPrior(&Durations{Weights: tt.weights}, p)
			want := newPrior(nil, p)
			if tt.want != nil {
				want = newPrior(&Durations{Weights: tt.want}, p)
				require.NotNil(t, got.learned)
			} else {
				require.Nil(t, got.learned)
			}
			require.InDelta(t, want.share, got.share, 1e-12)
			for _, x := range []float64{0, 0.5, 1, 5, 20, 28, 30, 35, 60, 600, 1e5} {
				require.InDelta(t, want.survival(x), got.survival(x), 1e-12, "survival(%g)", x)
			}
		})
	}
}

// withAt returns a copy of w with w[i] set to v.
func withAt(w []float64, i int, v float64) []float64 {
	c := append([]float64(nil), w...)
	c[i] = v
	return c
}

func TestSpread(t *testing.T) {
	t.Parallel()
	s := func(from, to float64) Span {
		return Span{From: time.Duration(from * float64(time.Second)), To: time.Duration(to * float64(time.Second))}
	}
	tests := []struct {
		desc string
		span Span
		// want is the weight per bucket; buckets not named get none.
		want map[int]float64
	}{
		{desc: "known to the second: one bucket", span: s(40, 40), want: map[int]float64{Bucket(40 * time.Second): 1}},
		{desc: "within one bucket", span: s(20, 21), want: map[int]float64{Bucket(20 * time.Second): 1}},
		{
			desc: "across two buckets, by the logarithm of time",
			span: s(BucketStart(10)/1.1, BucketStart(10)*1.1),
			want: map[int]float64{9: 0.5, 10: 0.5},
		},
		{
			desc: "found at the first poll: over the octave before it",
			span: s(0, BucketStart(12)),
			// 2 = 1.25^3.106: three whole buckets and 0.106 of a fourth.
			want: map[int]float64{8: 0.106 / 3.106, 9: 1 / 3.106, 10: 1 / 3.106, 11: 1 / 3.106},
		},
		{
			desc: "a last poll before the octave counts from the octave",
			span: s(1, 2*BucketStart(12)),
			want: map[int]float64{12: 1 / 3.106, 13: 1 / 3.106, 14: 1 / 3.106, 15: 0.106 / 3.106},
		},
		{desc: "under a second: the first bucket", span: s(0, 0.5), want: map[int]float64{0: 1}},
		{desc: "past the last bucket: the last", span: s(1e6, 2e6), want: map[int]float64{NumBuckets - 1: 1}},
		{desc: "a span the wrong way round: its end", span: s(50, 40), want: map[int]float64{Bucket(40 * time.Second): 1}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got := Spread(tt.span)
			var sum float64
			seen := map[int]bool{}
			for _, bw := range got {
				require.False(t, seen[bw.Bucket], "bucket %d twice", bw.Bucket)
				seen[bw.Bucket] = true
				require.Greater(t, bw.Weight, 0.0)
				sum += bw.Weight
				require.InDelta(t, tt.want[bw.Bucket], bw.Weight, 1e-3, "bucket %d", bw.Bucket)
			}
			require.InDelta(t, 1, sum, 1e-9, "one ending in all")
			require.Len(t, got, len(tt.want))
		})
	}

	t.Run("AddSpan adds what Spread spreads", func(t *testing.T) {
		t.Parallel()
		var d Durations
		d.AddSpan(s(0, 30), 50)
		for _, bw := range Spread(s(0, 30)) {
			require.InDelta(t, bw.Weight, d.Weights[bw.Bucket], 1e-12)
		}
		require.InDelta(t, 1, d.Total(), 1e-12)
	})
}
