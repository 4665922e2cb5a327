// Package declared builds providers from a description instead of code:
// an operator writes, under providers.<name> in the configuration, a
// config.StatusSpec: where a status endpoint lives, how it takes the key,
// where its answer keeps the status word and what each word means, and
// where the progress, media, cost, model and error are, as JSON paths
// (gjson syntax). Definition turns such a description into a
// providers.Definition that the worker polls and the simulator imitates,
// exactly like a built-in adapter's; Lookup and Definitions do so for
// every provider a configuration names, built-in ones included.
//
// OpenAIVideos is one such description written in Go: the OpenAI videos
// API (GET /v1/videos/{id}, Bearer) and its many look-alikes, which an
// operator adds with "type: openai_videos", a base URL and a key.
//
// Reading a body is as config.StatusSpec says; a status word that is not a
// string at State.Path, one of State.Words, is providers.ErrMalformed,
// quoting the start of the body.
package declared

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/providers"
)

// Spec is a provider's status endpoint as the configuration describes it.
type Spec = config.StatusSpec

// meanings are the words a config.StatusState.Words value may take.
var meanings = map[string]providers.State{
	"pending":   providers.StatePending,
	"running":   providers.StateRunning,
	"completed": providers.StateCompleted,
	"failed":    providers.StateFailed,
}

// Parse reads a Spec from YAML, rejecting unknown keys, and validates it;
// errors name the fields under "status".
func Parse(data []byte) (Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("status: %w", err)
	}
	return s, s.Validate("status")
}
