package schedule

import (
	"math"
	"time"
)

// Durations is what the fleet has learned of how long generations of one
// provider, account and model take, from enqueued_at to their end: a
// histogram over logarithmic buckets whose weights decay with every new
// ending, so that it follows a provider that gets slower or faster.
//
// Bucket i holds the durations from BucketStart(i) up to BucketStart(i+1):
// one second times 1.25^i, from one second to about five hours. The store
// keeps the weights in Redis and adds an ending inside the script that
// emits its event; this package only reads them.
type Durations struct {
	// Weights has one decayed count per bucket; fewer than NumBuckets
	// entries mean zeros.
	Weights []float64 `json:"w"`
}

// Bucket geometry.
const (
	// NumBuckets is the number of duration buckets.
	NumBuckets = 45
	// bucketRatio is the ratio of one bucket's start to the previous one's.
	bucketRatio = 1.25
	// pseudoEndings is the weight of the configured default distribution
	// beside the learned one: with few endings seen, the default still
	// counts; with many, the learned one wins.
	pseudoEndings = 5.0
)

var logBucketRatio = math.Log(bucketRatio)

// BucketStart returns the shortest duration of bucket i, in seconds.
func BucketStart(i int) float64 { return math.Pow(bucketRatio, float64(i)) }

// Bucket returns the bucket a duration falls in.
func Bucket(d time.Duration) int {
	s := d.Seconds()
	if s < 1 {
		return 0
	}
	// The epsilon keeps a duration exactly at a bucket's start in that
	// bucket: math.Log rounds 1.953125 s (1.25³) to just under 3 ratios.
	return min(int(math.Log(s)/logBucketRatio+1e-9), NumBuckets-1)
}

// Decay returns the factor that every weight is multiplied by before an
// ending is added, for a memory of that many endings.
func Decay(memory int) float64 {
	if memory <= 1 {
		return 0
	}
	return 1 - 1/float64(memory)
}

// Total is the sum of the weights: about how many recent endings were
// seen, at most the memory.
func (d *Durations) Total() float64 {
	if d == nil {
		return 0
	}
	var sum float64
	for _, w := range d.Weights {
		if w > 0 && !math.IsInf(w, 0) {
			sum += w
		}
	}
	return sum
}

// Add records one ending known to the second: the Go twin of the store's
// Lua update, for tests and simulations.
func (d *Durations) Add(took time.Duration, memory int) {
	d.AddSpan(Span{From: took, To: took}, memory)
}

// AddSpan records one ending known to lie within span, spread over the
// buckets as Spread spreads it: the Go twin of the store's Lua update.
func (d *Durations) AddSpan(span Span, memory int) {
	if len(d.Weights) < NumBuckets {
		d.Weights = append(d.Weights, make([]float64, NumBuckets-len(d.Weights))...)
	}
	decay := Decay(memory)
	for i := range d.Weights {
		d.Weights[i] *= decay
	}
	for _, p := range Spread(span) {
		d.Weights[p.Bucket] += p.Weight
	}
}

// Span is what a poll knows of when a generation ended: after From (the
// last poll that saw it running, or zero when the first poll found it
// ended) and at or before To (the poll that saw it ended), both counted
// from enqueued_at.
type Span struct {
	From, To time.Duration
}

// BucketWeight is a share of one ending given to one bucket.
type BucketWeight struct {
	Bucket int
	Weight float64
}

// firstPollReach is how far back from the first poll an ending it found
// is placed: over the octave before it. An ending could lie anywhere
// since enqueued_at, but placing it at the poll (as if it had just ended)
// teaches that nothing ends before the first poll, which keeps first polls
// late and the quick generations they find detected late; placing it over
// the octave before lets the first poll move earlier, where the next
// endings then show how early they really come.
const firstPollReach = 2

// Spread spreads one ending over the buckets its span covers, uniformly
// over the logarithm of time: a span of one bucket gives it all to that
// bucket. A span from zero (found at the first poll) is taken to start at
// To / firstPollReach. The weights sum to one.
func Spread(span Span) []BucketWeight {
	to := max(span.To.Seconds(), 0)
	from := min(max(span.From.Seconds(), to/firstPollReach), to)
	lo, hi := Bucket(secondsDuration(from)), Bucket(secondsDuration(to))
	if lo == hi || from <= 0 {
		return []BucketWeight{{Bucket: hi, Weight: 1}}
	}
	logFrom, logTo := math.Log(max(from, 1)), math.Log(max(to, 1))
	if logTo-logFrom <= 0 {
		return []BucketWeight{{Bucket: hi, Weight: 1}}
	}
	var out []BucketWeight
	for b := lo; b <= hi; b++ {
		start, end := math.Log(BucketStart(b)), math.Log(BucketStart(b+1))
		if b == 0 {
			start = 0
		}
		if b == NumBuckets-1 {
			end = math.Inf(1)
		}
		overlap := min(end, logTo) - max(start, logFrom)
		if overlap > 0 {
			out = append(out, BucketWeight{Bucket: b, Weight: overlap / (logTo - logFrom)})
		}
	}
	if len(out) == 0 {
		return []BucketWeight{{Bucket: hi, Weight: 1}}
	}
	return out
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// histogram is a Durations prepared for reading: weights smoothed over
// neighbouring buckets (a few endings make a ragged histogram) and the
// survival mass above each bucket.
type histogram struct {
	weights []float64
	// above[i] is the weight of buckets i+1 and up.
	above []float64
	total float64
}

func newHistogram(d *Durations) *histogram {
	if d.Total() <= 0 {
		return nil
	}
	raw := make([]float64, NumBuckets)
	for i, w := range d.Weights {
		if i < NumBuckets && w > 0 && !math.IsInf(w, 0) {
			raw[i] = w
		}
	}
	h := &histogram{weights: make([]float64, NumBuckets), above: make([]float64, NumBuckets)}
	for i := range raw {
		// A [1 2 1] kernel, keeping the mass inside the range.
		w := 2 * raw[i]
		if i > 0 {
			w += raw[i-1]
		} else {
			w += raw[i]
		}
		if i < NumBuckets-1 {
			w += raw[i+1]
		} else {
			w += raw[i]
		}
		h.weights[i] = w / 4
	}
	for i := NumBuckets - 1; i >= 0; i-- {
		if i < NumBuckets-1 {
			h.above[i] = h.above[i+1] + h.weights[i+1]
		}
		h.total += h.weights[i]
	}
	if h.total <= 0 {
		// Weight only past the last bucket: nothing usable was learned.
		return nil
	}
	return h
}

// survival is the share of the learned durations longer than t seconds,
// spreading each bucket's weight uniformly over the logarithm of its range.
// The first bucket holds every duration under 1.25 s (Bucket counts shorter
// ones in it), so its weight is spread uniformly from zero to 1.25 s.
func (h *histogram) survival(t float64) float64 {
	if t < bucketRatio {
		return 1 - h.weights[0]/h.total*max(t, 0)/bucketRatio
	}
	i := min(int(math.Log(t)/logBucketRatio), NumBuckets-1)
	within := 1 - (math.Log(t)/logBucketRatio - float64(i))
	within = min(max(within, 0), 1)
	return (h.above[i] + h.weights[i]*within) / h.total
}

// logNormal is a lognormal distribution of a duration in seconds.
type logNormal struct {
	mu, sigma float64
}

func newLogNormal(median time.Duration, sigma float64) logNormal {
	return logNormal{mu: math.Log(max(median.Seconds(), 0.1)), sigma: max(sigma, 0.01)}
}

func (d logNormal) survival(t float64) float64 {
	if t <= 0 {
		return 1
	}
	z := (math.Log(t) - d.mu) / d.sigma
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// prior is the distribution of a generation's duration before anything of
// this generation is known: the learned durations blended with the
// configured default, which weighs as much as pseudoEndings endings.
type prior struct {
	learned *histogram
	def     logNormal
	// share is the learned histogram's weight in the blend, 0 to 1.
	share float64
}

func newPrior(d *Durations, p Policy) prior {
	pr := prior{def: newLogNormal(p.Expected, p.ExpectedSpread)}
	if h := newHistogram(d); h != nil {
		pr.learned = h
		pr.share = h.total / (h.total + pseudoEndings)
	}
	return pr
}

func (p prior) survival(t float64) float64 {
	s := p.def.survival(t)
	if p.learned != nil {
		s = p.share*p.learned.survival(t) + (1-p.share)*s
	}
	return s
}
