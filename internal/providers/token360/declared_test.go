package token360_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers/declared"
	"github.com/genwatch/genwatch/internal/providers/providertest"
	"github.com/genwatch/genwatch/internal/providers/token360"
)

// declaredToken360 is Token360 as an operator would declare it in YAML.
const declaredToken360 = `
path: /v1/videos/{id}
state:
  path: status
  words: {queued: pending, in_progress: running, completed: completed, failed: failed}
fields:
  progress: progress
  url: [url, video_url]
  duration_seconds: duration
  model: model
  updated_at: updated_at
  error_code: error.code
  error_message: [error.message, error]
`

// TestDeclared runs Token360 declared in YAML, and as an OpenAI-compatible
// videos API, through the conformance suite with the adapter's fixtures:
// both read every answer as the adapter does.
func TestDeclared(t *testing.T) {
	t.Parallel()
	spec, err := declared.Parse([]byte(declaredToken360))
	require.NoError(t, err)
	for name, spec := range map[string]declared.Spec{"yaml": spec, "openai_videos": declared.OpenAIVideos()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			def := declared.Definition(spec, "token360")
			def.DefaultBaseURL = token360.Definition().DefaultBaseURL // from base_url
			providertest.Run(t, suite(def))
		})
	}
}
