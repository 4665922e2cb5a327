package providers

import (
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Definition is everything genwatch knows about one provider: its status
// endpoint and how to read it (Spec), where its webhook bodies keep the
// generation ID, and how the simulator imitates it. A built-in adapter
// package exports one as Definition(); the registry (package builtin) lists
// them; a provider configured without code gets one from package declared.
type Definition struct {
	Spec
	// WebhookIDPaths are gjson paths into a webhook body where the
	// provider keeps the generation ID, tried in order; the first that
	// holds a non-empty string or a number wins (see FindID).
	WebhookIDPaths []string
	// Imitation is what the simulator needs to serve the provider's status
	// endpoint as the provider does.
	Imitation Imitation
}

// New builds the provider for one account; see NewHTTP.
func (d Definition) New(cfg Config) (Provider, error) { return NewHTTP(d.Spec, cfg) }

// WebhookID returns the generation ID a webhook body carries, found at the
// first of WebhookIDPaths that holds one, and whether there was one.
func (d Definition) WebhookID(body []byte) (string, bool) { return FindID(body, d.WebhookIDPaths) }

// FindID returns the first non-empty string, or number as written, at one
// of paths (gjson syntax) in a JSON body, and whether there was one.
func FindID(body []byte, paths []string) (string, bool) {
	if !gjson.ValidBytes(body) {
		return "", false
	}
	for _, p := range paths {
		switch v := gjson.GetBytes(body, p); v.Type {
		case gjson.String:
			if v.Str != "" {
				return v.Str, true
			}
		case gjson.Number:
			return v.Raw, true
		}
	}
	return "", false
}

// Imitation tells the simulator how a provider words its answers. Only
// Render is required.
type Imitation struct {
	// DeniedStatus answers a request without the right key. If zero, 401.
	DeniedStatus int
	// NotFoundMessage is the message of the 404 for an unknown ID. If
	// empty, "Generation not found".
	NotFoundMessage string
	// MediaTypes lists the media the provider makes, the default first; a
	// simulated generation of another type is made of the first. If empty,
	// video only.
	MediaTypes []string
	// Render returns the 200 body describing g, a value that encodes to
	// JSON (a struct, or a json.RawMessage).
	Render func(g Imitated) any
	// ErrorBody returns the body of an error answer in the provider's
	// shape. If nil, {"error": {"code", "message"}}.
	ErrorBody func(code, message string) any
}

// Imitated is one simulated generation at one instant, for
// Imitation.Render. Its media attributes are those planned for the
// generation, whatever its State; a provider reports them once completed.
type Imitated struct {
	ID string
	// State is StatePending, StateRunning, StateCompleted or StateFailed.
	State State
	// Progress is the percentage done, 0-100.
	Progress int
	// CreatedAt is when the generation was made; UpdatedAt when it reached
	// its current state and progress.
	CreatedAt, UpdatedAt time.Time

	MediaType       string
	URL             string
	ThumbnailURL    string
	Width, Height   int
	DurationSeconds float64
	SizeBytes       int64
	Cost            float64
	// Model names the model that a provider reporting one would give.
	Model string
	// ErrorCode and ErrorMessage describe a failure.
	ErrorCode, ErrorMessage string
}

// AspectRatio names the shape of the frame the way providers' generation
// parameters do ("16:9"), or returns "" when there is no frame.
func (g Imitated) AspectRatio() string {
	switch {
	case g.Width == 0 || g.Height == 0:
		return ""
	case g.Width > g.Height:
		return "16:9"
	case g.Width < g.Height:
		return "9:16"
	default:
		return "1:1"
	}
}

// Resolution names the height class of the frame ("720p"), or returns "".
func (g Imitated) Resolution() string {
	if g.Width == 0 || g.Height == 0 {
		return ""
	}
	return strconv.Itoa(min(g.Width, g.Height)) + "p"
}

// ValidName reports whether name can name a provider: 1 to 32 lower-case
// letters, digits and underscores, starting with a letter, so that it is
// also part of an environment variable (GENWATCH_<NAME>_API_KEY) and of a
// task ID ("<provider>:<generation_id>").
func ValidName(name string) bool {
	if name == "" || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	return strings.IndexFunc(name, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_'
	}) < 0
}
