package simulator

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Forever is a duration that never elapses. As Plan.HiddenFor it makes a
// generation that is never found; as Plan.PendingFor, one that never starts.
const Forever = time.Duration(math.MaxInt64)

// Outcome is how a generation ends.
type Outcome int

const (
	// Complete ends the generation with media. It is the zero Outcome.
	Complete Outcome = iota
	// Fail ends the generation with Plan.FailCode and Plan.FailMessage.
	Fail
	// Never keeps the generation running forever, its progress stopping
	// at 99.
	Never
)

// Media types for Plan.MediaType.
const (
	MediaVideo = "video"
	MediaImage = "image"
	MediaAudio = "audio"
)

// Plan is the life of one generation, measured from the moment it is
// created. The zero Plan is a video that is completed at once.
//
// Media attributes left zero are derived from the generation's ID, so they
// are the same every time the same ID is created. They are reported only
// once the generation has completed, as the providers do.
type Plan struct {
	// HiddenFor is how long the generation answers 404, as an ID the
	// provider has issued but not yet stored. Forever means always.
	HiddenFor time.Duration
	// PendingFor is how long the generation then waits in the queue.
	PendingFor time.Duration
	// RunFor is how long it then runs, its progress rising from 0 to 99
	// along Curve. Zero skips the running phase.
	RunFor time.Duration
	// Curve shapes the progress while running: the share of RunFor
	// elapsed raised to this power. Zero or 1 is linear; above 1 starts
	// slow, below 1 starts fast.
	Curve float64
	// Step reports progress in multiples of this many percent, as
	// providers with coarse progress do. Zero or 1 reports every percent.
	Step int
	// StallFor keeps the generation running at 99 % this long after
	// RunFor before it ends (encoding, upload).
	StallFor time.Duration
	// Frozen reports a progress of 0 for the whole run, as a provider
	// whose progress never moves.
	Frozen bool
	// Outcome is how it ends after running.
	Outcome Outcome
	// FailCode and FailMessage describe a failure. If empty,
	// "generation_failed" and "The generation failed." are used. Hooked
	// reports only the message.
	FailCode    string
	FailMessage string
	// VanishAfter, if not zero, makes the generation answer 404 from this
	// long after its creation on, whatever its phase, as if the provider
	// had deleted it (Faults.VanishAfter does it for every generation).
	VanishAfter time.Duration

	// MediaType is MediaVideo, MediaImage or MediaAudio; empty means the
	// provider's default (video). A provider that does not make this type
	// (Hooked and Token360 make only videos) makes its default instead.
	MediaType string
	// URL and ThumbnailURL locate the media. Derived ones point at
	// cdn.example.com; audio and images have no thumbnail.
	URL          string
	ThumbnailURL string
	// Width and Height are in pixels; audio has none.
	Width, Height int
	// DurationSeconds is the length of a video or audio; images have none.
	DurationSeconds float64
	// SizeBytes is the size of the media file.
	SizeBytes int64
	// Cost is the credits debited (Hoox cost, Hooked usedCredits).
	Cost float64
	// Model is the model a provider that reports one names (Hoox
	// generation_params.model, Token360 model). If empty, each provider's
	// usual one, or "sim-" followed by the media type for a declared
	// provider.
	Model string
}

// autoPlan returns the plan of a generation created by its first request.
// The prefixes it reads are documented in the package comment.
func autoPlan(id string, base Plan) Plan {
	p := base
	if p == (Plan{}) {
		r := idRand(id)
		p.PendingFor = time.Second + time.Duration(r.Int64N(int64(2*time.Second)))
		p.RunFor = 3*time.Second + time.Duration(r.Int64N(int64(5*time.Second)))
	}

	rules := [...]struct {
		prefix string
		apply  func(*Plan)
	}{
		{"fail-", func(p *Plan) {
			p.Outcome = Fail
			if p.FailCode == "" && p.FailMessage == "" {
				p.FailCode = "content_policy_violation"
				p.FailMessage = "The prompt was flagged by the content policy."
			}
		}},
		{"never-", func(p *Plan) { p.Outcome = Never }},
		{"missing-", func(p *Plan) { p.HiddenFor = Forever }},
		{"slow-", func(p *Plan) {
			p.PendingFor = saturatingMul(p.PendingFor, 10)
			p.RunFor = saturatingMul(p.RunFor, 10)
		}},
		{"late-", func(p *Plan) { p.HiddenFor = max(p.HiddenFor, 5*time.Second) }},
	}
	for rest := id; ; {
		matched := false
		for _, rule := range rules {
			if after, ok := strings.CutPrefix(rest, rule.prefix); ok {
				rule.apply(&p)
				rest, matched = after, true
			}
		}
		if !matched {
			return p
		}
	}
}

// withDefaults fills in what p leaves zero, deriving media attributes from
// the provider and ID, and clamps negative durations to zero. mediaTypes
// are those the provider makes, its default first; none means video only.
func (p Plan) withDefaults(provider string, mediaTypes []string, id string) Plan {
	p.HiddenFor = max(p.HiddenFor, 0)
	p.PendingFor = max(p.PendingFor, 0)
	p.RunFor = max(p.RunFor, 0)
	p.StallFor = max(p.StallFor, 0)
	if p.Curve <= 0 {
		p.Curve = 1
	}
	p.Step = max(p.Step, 1)
	p.VanishAfter = max(p.VanishAfter, 0)
	if p.FailCode == "" {
		p.FailCode = "generation_failed"
	}
	if p.FailMessage == "" {
		p.FailMessage = "The generation failed."
	}
	if len(mediaTypes) == 0 {
		mediaTypes = []string{MediaVideo}
	}
	if !slices.Contains(mediaTypes, p.MediaType) {
		p.MediaType = mediaTypes[0]
	}

	r := idRand(id)
	base := "https://cdn.example.com/" + provider + "/" + url.PathEscape(id)
	var d Plan
	switch p.MediaType {
	case MediaImage:
		sizes := [...][2]int{{1024, 1024}, {1024, 1536}, {1536, 1024}}
		size := sizes[r.IntN(len(sizes))]
		d = Plan{URL: base + ".png", Width: size[0], Height: size[1], SizeBytes: 200_000 + r.Int64N(1_800_000)}
	case MediaAudio:
		seconds := 10 + r.IntN(171)
		d = Plan{URL: base + ".mp3", DurationSeconds: float64(seconds), SizeBytes: int64(seconds) * 16_000}
	default:
		sizes := [...][2]int{{1280, 720}, {720, 1280}, {1920, 1080}, {1080, 1920}}
		size := sizes[r.IntN(len(sizes))]
		seconds := 4 + r.IntN(57)
		d = Plan{
			URL: base + ".mp4", ThumbnailURL: base + ".jpg",
			Width: size[0], Height: size[1],
			DurationSeconds: float64(seconds), SizeBytes: int64(seconds) * 250_000,
		}
	}
	d.Cost = float64(1 + r.IntN(10))
	p.fillMedia(d)
	return p
}

// fillMedia copies into p each media attribute that p leaves zero.
func (p *Plan) fillMedia(d Plan) {
	if p.URL == "" {
		p.URL = d.URL
	}
	if p.ThumbnailURL == "" {
		p.ThumbnailURL = d.ThumbnailURL
	}
	if p.Width == 0 && p.Height == 0 {
		p.Width, p.Height = d.Width, d.Height
	}
	if p.DurationSeconds == 0 {
		p.DurationSeconds = d.DurationSeconds
	}
	if p.SizeBytes == 0 {
		p.SizeBytes = d.SizeBytes
	}
	if p.Cost == 0 {
		p.Cost = d.Cost
	}
}

// idRand returns a source of pseudo-random numbers that depends only on id.
func idRand(id string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(id))
	return rand.New(rand.NewPCG(h.Sum64(), 0))
}

// saturatingAdd returns a+b for non-negative durations, or Forever when the
// sum does not fit.
func saturatingAdd(a, b time.Duration) time.Duration {
	if b > Forever-a {
		return Forever
	}
	return a + b
}

// saturatingMul returns d*n for non-negative d and positive n, or Forever
// when the product does not fit.
func saturatingMul(d time.Duration, n int64) time.Duration {
	if d > Forever/time.Duration(n) {
		return Forever
	}
	return d * time.Duration(n)
}
