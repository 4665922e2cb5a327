package hooked_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers/declared"
	"github.com/genwatch/genwatch/internal/providers/hooked"
	"github.com/genwatch/genwatch/internal/providers/providertest"
)

// declaredHooked is Hooked as an operator would declare it in YAML.
const declaredHooked = `
path: /v1/video/{id}
auth: {header: x-api-key}
state:
  path: data.status
  words: {started: running, completed: completed, failed: failed}
fields:
  progress: data.progress
  url: data.url
  thumbnail_url: data.thumbnail
  size_bytes: data.size
  duration_seconds: [data.durationInSeconds, {path: data.durationInFrames, divide_by: 25}]
  cost: data.usedCredits
  error_message: data.message
  updated_at: data.updatedAt
media_type: video
webhook_id: [data.id, id]
`

// TestDeclared runs Hooked declared in YAML through the conformance suite
// with the adapter's fixtures: it reads every answer as the adapter does.
func TestDeclared(t *testing.T) {
	t.Parallel()
	spec, err := declared.Parse([]byte(declaredHooked))
	require.NoError(t, err)
	def := declared.Definition(spec, "hooked")
	def.DefaultBaseURL = hooked.Definition().DefaultBaseURL // from base_url
	providertest.Run(t, suite(def))
}
