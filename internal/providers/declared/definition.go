package declared

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/providers"
)

// Definition returns the provider s describes, under name, for the worker
// and the simulator. s must be valid (see config.StatusSpec.Validate). It
// has no default base URL: a declared provider's configuration names one.
func Definition(s Spec, name string) providers.Definition {
	s = withDefaults(s)
	d := &decoder{spec: s, words: map[string]providers.State{}}
	for word, meaning := range s.State.Words {
		d.words[strings.ToLower(word)] = meanings[meaning]
	}
	webhook := make([]string, len(s.WebhookID))
	for i, src := range s.WebhookID {
		webhook[i] = src.Path
	}
	return providers.Definition{
		Spec: providers.Spec{
			Name:       name,
			Endpoint:   s.Path,
			AuthHeader: s.Auth.Header,
			AuthScheme: s.Auth.Scheme,
			Decode:     d.decode,
		},
		WebhookIDPaths: webhook,
		Imitation: providers.Imitation{
			DeniedStatus: http.StatusUnauthorized,
			MediaTypes:   []string{s.MediaType},
			Render:       d.render,
		},
	}
}

// withDefaults fills what s leaves empty.
func withDefaults(s Spec) Spec {
	if s.Auth.Header == "" {
		s.Auth.Header = "Authorization"
		if s.Auth.Scheme == "" {
			s.Auth.Scheme = "Bearer"
		}
	}
	if s.MediaType == "" {
		s.MediaType = providers.MediaVideo
	}
	if len(s.WebhookID) == 0 {
		s.WebhookID = config.Paths("id")
	}
	return s
}

// decoder reads bodies as a Spec says.
type decoder struct {
	spec  Spec
	words map[string]providers.State
}

// decode implements providers.Spec.Decode.
func (d *decoder) decode(body []byte) (*providers.Status, error) {
	if !gjson.ValidBytes(body) {
		return nil, fmt.Errorf("%w: not JSON: %s", providers.ErrMalformed, providers.Snippet(body))
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return nil, fmt.Errorf("%w: not a JSON object: %s", providers.ErrMalformed, providers.Snippet(body))
	}
	f := &d.spec.Fields
	word := doc.Get(d.spec.State.Path)
	if word.Type != gjson.String {
		return nil, fmt.Errorf("%w: no status word at %s: %s", providers.ErrMalformed, d.spec.State.Path, providers.Snippet(body))
	}
	state, ok := d.words[strings.ToLower(word.Str)]
	if !ok {
		return nil, fmt.Errorf("%w: unknown status %q at %s: %s", providers.ErrMalformed, word.Str, d.spec.State.Path, providers.Snippet(body))
	}
	st := &providers.Status{
		State:          state,
		ProviderStatus: word.Str,
		Model:          text(doc, f.Model),
		MediaType:      d.spec.MediaType,
		URL:            text(doc, f.URL),
		ThumbnailURL:   text(doc, f.ThumbnailURL),
	}
	st.UpdatedAt = stamp(doc, f.UpdatedAt)
	if p, ok := number(doc, f.Progress); ok {
		st.Progress = providers.Percent(&p)
	}
	switch t := strings.ToLower(text(doc, f.MediaType)); t {
	case providers.MediaVideo, providers.MediaImage, providers.MediaAudio:
		st.MediaType = t
	}
	w, _ := number(doc, f.Width)
	h, _ := number(doc, f.Height)
	st.Width, st.Height = providers.Count(w), providers.Count(h)
	if st.Width == 0 && st.Height == 0 {
		st.Width, st.Height = dimensions(text(doc, f.Dimensions))
	}
	if n, ok := number(doc, f.SizeBytes); ok && n >= 0 && n < math.MaxInt64 {
		st.SizeBytes = int64(math.Round(n))
	}
	st.DurationSeconds, _ = number(doc, f.DurationSeconds)
	if c, ok := number(doc, f.Cost); ok {
		st.Cost = &c
	}
	if state == providers.StateFailed {
		st.ErrorCode = text(doc, f.ErrorCode)
		st.ErrorMessage = text(doc, f.ErrorMessage)
	}
	return st, nil
}

// pick returns the value read at the first of paths that holds one that is
// neither empty nor zero; failing that, the first empty or zero one read;
// ok is false when read finds nothing at any path.
func pick[T comparable](doc gjson.Result, paths config.StatusPaths, read func(gjson.Result, config.StatusPath) (T, bool)) (T, bool) {
	var zero, fallback T
	found := false
	for _, src := range paths {
		v, ok := read(doc.Get(src.Path), src)
		if !ok {
			continue
		}
		if v != zero {
			return v, true
		}
		if !found {
			fallback, found = v, true
		}
	}
	return fallback, found
}

// text returns the first non-empty string (or number, as written) at
// paths, or "".
func text(doc gjson.Result, paths config.StatusPaths) string {
	s, _ := pick(doc, paths, func(r gjson.Result, _ config.StatusPath) (string, bool) {
		switch r.Type {
		case gjson.String:
			return strings.ToValidUTF8(r.Str, "\uFFFD"), true
		case gjson.Number:
			return r.Raw, true
		}
		return "", false
	})
	return s
}

// number returns the first non-zero finite number at paths, a numeric
// string counting as its number, divided as its source says; a zero one
// when all are zero; ok false when none is there.
func number(doc gjson.Result, paths config.StatusPaths) (float64, bool) {
	return pick(doc, paths, func(r gjson.Result, src config.StatusPath) (float64, bool) {
		var v float64
		switch r.Type {
		case gjson.Number:
			v = r.Num
		case gjson.String:
			f, err := strconv.ParseFloat(strings.TrimSpace(r.Str), 64)
			if err != nil {
				return 0, false
			}
			v = f
		default:
			return 0, false
		}
		if src.DivideBy > 0 {
			v /= src.DivideBy
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false
		}
		return v, true
	})
}

// stamp returns the time at the first of paths that holds one: a Unix
// time (a number, or a numeric string, divided as its source says) or an
// RFC 3339 string; or the zero time.
func stamp(doc gjson.Result, paths config.StatusPaths) time.Time {
	t, _ := pick(doc, paths, func(r gjson.Result, src config.StatusPath) (time.Time, bool) {
		if n, ok := number(doc, config.StatusPaths{src}); ok {
			return providers.StampUnix(n), true
		}
		if r.Type == gjson.String {
			return providers.StampText(r.Str), true
		}
		return time.Time{}, false
	})
	return t
}

// dimensions reads "WIDTHxHEIGHT" ("1280x720"), or returns zeros.
func dimensions(s string) (int, int) {
	ws, hs, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	if !ok {
		return 0, 0
	}
	w, err1 := strconv.ParseFloat(ws, 64)
	h, err2 := strconv.ParseFloat(hs, 64)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return providers.Count(w), providers.Count(h)
}

// render implements providers.Imitation.Render: a body that decode reads
// back as g, with each value at the first of its paths. Paths that only
// read (queries, modifiers) are left out.
func (d *decoder) render(g providers.Imitated) any {
	body := []byte(`{}`)
	set := func(paths config.StatusPaths, v any) {
		if len(paths) == 0 {
			return
		}
		src := paths[0]
		if f, ok := v.(float64); ok && src.DivideBy > 0 {
			v = f * src.DivideBy
		}
		if b, err := sjson.SetBytes(body, src.Path, v); err == nil {
			body = b
		}
	}
	f := &d.spec.Fields
	for _, src := range d.spec.WebhookID[:1] {
		set(config.StatusPaths{src}, g.ID)
	}
	set(config.StatusPaths{{Path: d.spec.State.Path}}, d.word(g.State))
	set(f.Model, cmp.Or(g.Model, "sim-"+g.MediaType))
	set(f.MediaType, g.MediaType)
	if !g.UpdatedAt.IsZero() {
		set(f.UpdatedAt, float64(g.UpdatedAt.Unix()))
	}
	switch g.State {
	case providers.StateRunning:
		set(f.Progress, float64(g.Progress))
	case providers.StateCompleted:
		set(f.Progress, 100.0)
		set(f.URL, g.URL)
		set(f.ThumbnailURL, g.ThumbnailURL)
		if len(f.Width) > 0 || len(f.Height) > 0 {
			set(f.Width, float64(g.Width))
			set(f.Height, float64(g.Height))
		} else {
			set(f.Dimensions, fmt.Sprintf("%dx%d", g.Width, g.Height))
		}
		set(f.SizeBytes, float64(g.SizeBytes))
		set(f.DurationSeconds, g.DurationSeconds)
		set(f.Cost, g.Cost)
	case providers.StateFailed:
		set(f.ErrorCode, g.ErrorCode)
		set(f.ErrorMessage, g.ErrorMessage)
	}
	return json.RawMessage(body)
}

// word returns the status word for state: the first, in sorted order, of
// those that mean it; a pending generation of a provider without a
// pending word takes a running one.
func (d *decoder) word(state providers.State) string {
	for _, want := range []providers.State{state, providers.StateRunning} {
		words := make([]string, 0, len(d.spec.State.Words))
		for word, meaning := range d.spec.State.Words {
			if meanings[meaning] == want {
				words = append(words, word)
			}
		}
		if len(words) > 0 {
			slices.Sort(words)
			return words[0]
		}
	}
	return "unknown"
}
