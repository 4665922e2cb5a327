package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/genwatch/genwatch/internal/providers"
)

// StatusSpec describes the status endpoint of a provider of type
// declarative (Provider.Status, the "status" block of its YAML): where it
// lives, how it takes the key, where its answer keeps the status word and
// what each word means, and where the progress, media, cost, model and
// error are, as JSON paths (gjson syntax).
//
// Reading a body: the status word must be a string at State.Path, one of
// State.Words (any case); anything else is a malformed answer. Each field
// takes the first of its paths whose value is present and neither null,
// empty nor zero; when all are absent or empty it is not reported, except
// that a present zero counts (a cost of 0 is reported as 0). A number may
// be sent as a string ("8"). The error code and message are read only from
// a failed generation.
type StatusSpec struct {
	// Path is the status endpoint's path, with {id} as the segment the
	// path-escaped generation ID takes ("/v2/jobs/{id}"); without {id} the
	// ID is appended. Required.
	Path string `yaml:"path"`
	// Auth says how the API key is sent. If unset, "Authorization: Bearer
	// KEY".
	Auth StatusAuth `yaml:"auth"`
	// State says where the status word is and what each word means.
	// Required.
	State StatusState `yaml:"state"`
	// Fields locate everything else in the body; each is optional.
	Fields StatusFields `yaml:"fields"`
	// MediaType is what the provider makes (video, image or audio) when
	// Fields.MediaType is unset or gives none of these. If empty, video.
	MediaType string `yaml:"media_type"`
	// WebhookID lists where a webhook body from the provider keeps the
	// generation ID, tried in order. If empty, "id".
	WebhookID StatusPaths `yaml:"webhook_id"`
}

// StatusAuth says which header carries the API key.
type StatusAuth struct {
	// Header names the header. If empty, Authorization.
	Header string `yaml:"header"`
	// Scheme is written before the key with a space ("Bearer"). If empty,
	// the header holds the bare key, except that with Header also empty it
	// is Bearer.
	Scheme string `yaml:"scheme"`
}

// StatusState locates the status word and maps the provider's words onto the
// normalized states.
type StatusState struct {
	// Path is the JSON path of the status word. Required.
	Path string `yaml:"path"`
	// Words maps each status word (matched in any case) to pending,
	// running, completed or failed. Required, with a completed word.
	Words map[string]string `yaml:"words"`
}

// StatusFields locate the parts of a status in the body. Each is a path, or a
// list of paths tried in order.
type StatusFields struct {
	// Progress is a percentage, 0-100 (divide_by turns a fraction into
	// one: divide_by: 0.01).
	Progress StatusPaths `yaml:"progress"`
	// URL and ThumbnailURL locate the media and its preview.
	URL          StatusPaths `yaml:"url"`
	ThumbnailURL StatusPaths `yaml:"thumbnail_url"`
	// MediaType is a word among video, image and audio (any case); other
	// words leave StatusSpec.MediaType.
	MediaType StatusPaths `yaml:"media_type"`
	// Width and Height are in pixels; Dimensions is both as one
	// "WIDTHxHEIGHT" string (OpenAI's "size": "1280x720"), read when Width
	// and Height give nothing.
	Width      StatusPaths `yaml:"width"`
	Height     StatusPaths `yaml:"height"`
	Dimensions StatusPaths `yaml:"dimensions"`
	// SizeBytes is the size of the media file.
	SizeBytes StatusPaths `yaml:"size_bytes"`
	// DurationSeconds is the media's length (divide_by: 25 turns frames at
	// 25 per second into seconds).
	DurationSeconds StatusPaths `yaml:"duration_seconds"`
	// Cost is the credits debited.
	Cost StatusPaths `yaml:"cost"`
	// Model is the model or kind of generation, which paces polls.
	Model StatusPaths `yaml:"model"`
	// UpdatedAt is when the generation last changed: an RFC 3339 string,
	// or a Unix time in seconds (milliseconds are told apart by their
	// size). It dates progress readings more closely than the polls do.
	UpdatedAt StatusPaths `yaml:"updated_at"`
	// ErrorCode and ErrorMessage describe a failure; they are read only
	// when the status word means failed.
	ErrorCode    StatusPaths `yaml:"error_code"`
	ErrorMessage StatusPaths `yaml:"error_message"`
}

// StatusPath is one place a value may be, and how to scale it.
type StatusPath struct {
	// Path is a gjson path into the body ("data.output.url").
	Path string `yaml:"path"`
	// DivideBy, for a number, divides it (25 for frames to seconds). Zero
	// leaves it as it is.
	DivideBy float64 `yaml:"divide_by"`
}

// StatusPaths is a list of StatusPath tried in order. In YAML it is a path, a list
// of paths, or a list whose items are paths or {path, divide_by} maps.
type StatusPaths []StatusPath

// Paths builds StatusPaths of plain paths, for specs written in Go.
func Paths(paths ...string) StatusPaths {
	out := make(StatusPaths, len(paths))
	for i, p := range paths {
		out[i] = StatusPath{Path: p}
	}
	return out
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *StatusPaths) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*p = Paths(s)
		return nil
	case yaml.SequenceNode:
		out := make(StatusPaths, 0, len(n.Content))
		for _, item := range n.Content {
			var src StatusPath
			switch item.Kind {
			case yaml.ScalarNode:
				if err := item.Decode(&src.Path); err != nil {
					return err
				}
			case yaml.MappingNode:
				var strict struct {
					Path     string  `yaml:"path"`
					DivideBy float64 `yaml:"divide_by"`
				}
				if err := decodeKnown(item, &strict); err != nil {
					return err
				}
				src = StatusPath(strict)
			default:
				return fmt.Errorf("line %d: want a path or {path, divide_by}", item.Line)
			}
			out = append(out, src)
		}
		*p = out
		return nil
	case yaml.MappingNode:
		var src StatusPath
		if err := decodeKnown(n, &src); err != nil {
			return err
		}
		*p = StatusPaths{src}
		return nil
	default:
		return fmt.Errorf("line %d: want a path or a list of paths", n.Line)
	}
}

// decodeKnown decodes a mapping node into v, rejecting keys v has no field
// for (a yaml.Node's Decode does not inherit the decoder's KnownFields).
func decodeKnown(n *yaml.Node, v any) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "path", "divide_by":
		default:
			return fmt.Errorf("line %d: field %s not found in a path (want path, divide_by)", n.Content[i].Line, k)
		}
	}
	return n.Decode(v)
}

// Validate reports every problem of s, each naming its YAML path under
// at ("providers.acme.status"), in a stable order.
func (s StatusSpec) Validate(at string) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", at, field, fmt.Sprintf(format, args...)))
	}
	switch p := s.Path; {
	case p == "":
		add("path", "is required (the status endpoint's path, such as /v1/jobs/{id})")
	case !strings.HasPrefix(p, "/"):
		add("path", "must start with /, got %q", p)
	case strings.ContainsAny(p, "?# \t\r\n"):
		add("path", "must be a path alone, without query, fragment or spaces, got %q", p)
	case strings.Count(p, providers.IDPlaceholder) > 1:
		add("path", "has {id} more than once: %q", p)
	default:
		before, after, found := strings.Cut(p, providers.IDPlaceholder)
		switch {
		case found && (!strings.HasSuffix(before, "/") || after != "" && !strings.HasPrefix(after, "/")):
			add("path", "{id} must be a whole path segment, as in /v1/jobs/{id}/status, got %q", p)
		case strings.ContainsAny(before+after, "{}"):
			add("path", "the only placeholder is {id}, got %q", p)
		}
	}
	if h := s.Auth.Header; h != "" && !isToken(h) {
		add("auth.header", "%q is not a header name", h)
	}
	if sc := s.Auth.Scheme; sc != "" && !isToken(sc) {
		add("auth.scheme", "%q must be one word, such as Bearer", sc)
	}
	if s.State.Path == "" {
		add("state.path", "is required (the JSON path of the status word, such as data.status)")
	}
	if len(s.State.Words) == 0 {
		add("state.words", "is required: map each status word to pending, running, completed or failed")
	}
	seen := map[string]string{}
	hasCompleted := false
	for _, word := range slices.Sorted(maps.Keys(s.State.Words)) {
		meaning := s.State.Words[word]
		if !slices.Contains(statusMeanings(), meaning) {
			add("state.words."+word, "want pending, running, completed or failed, got %q", meaning)
		}
		hasCompleted = hasCompleted || meaning == "completed"
		lower := strings.ToLower(word)
		if other, dup := seen[lower]; dup {
			add("state.words."+word, "is %q again: words match in any case", other)
		}
		seen[lower] = word
		if word == "" {
			add("state.words", "a status word must not be empty")
		}
	}
	if len(s.State.Words) > 0 && !hasCompleted {
		add("state.words", "no word means completed")
	}
	for _, f := range s.fields() {
		for i, src := range *f.paths {
			field := "fields." + f.name
			if len(*f.paths) > 1 {
				field += fmt.Sprintf("[%d]", i)
			}
			if strings.TrimSpace(src.Path) == "" {
				add(field, "path must not be empty")
			}
			switch d := src.DivideBy; {
			case math.IsNaN(d) || math.IsInf(d, 0) || d < 0:
				add(field+".divide_by", "must be a positive number, got %v", d)
			case d != 0 && !f.number:
				add(field+".divide_by", "applies to numbers only")
			}
		}
	}
	switch s.MediaType {
	case "", providers.MediaVideo, providers.MediaImage, providers.MediaAudio:
	default:
		add("media_type", "want video, image or audio, got %q", s.MediaType)
	}
	for i, src := range s.WebhookID {
		if strings.TrimSpace(src.Path) == "" {
			add(fmt.Sprintf("webhook_id[%d]", i), "path must not be empty")
		}
		if src.DivideBy != 0 {
			add(fmt.Sprintf("webhook_id[%d].divide_by", i), "applies to numbers only")
		}
	}
	return errors.Join(errs...)
}

// field is one of StatusFields, by its YAML name.
type field struct {
	name   string
	paths  *StatusPaths
	number bool
}

// fields lists s.Fields in the order of the YAML documentation.
func (s *StatusSpec) fields() []field {
	f := &s.Fields
	return []field{
		{"progress", &f.Progress, true},
		{"url", &f.URL, false},
		{"thumbnail_url", &f.ThumbnailURL, false},
		{"media_type", &f.MediaType, false},
		{"width", &f.Width, true},
		{"height", &f.Height, true},
		{"dimensions", &f.Dimensions, false},
		{"size_bytes", &f.SizeBytes, true},
		{"duration_seconds", &f.DurationSeconds, true},
		{"cost", &f.Cost, true},
		{"model", &f.Model, false},
		{"updated_at", &f.UpdatedAt, true},
		{"error_code", &f.ErrorCode, false},
		{"error_message", &f.ErrorMessage, false},
	}
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names
// and auth schemes are.
func isToken(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) < 0
}

// statusMeanings are the words a StatusState.Words value may take.
func statusMeanings() []string { return []string{"pending", "running", "completed", "failed"} }
