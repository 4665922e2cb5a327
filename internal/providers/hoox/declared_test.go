package hoox_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers/declared"
	"github.com/genwatch/genwatch/internal/providers/hoox"
	"github.com/genwatch/genwatch/internal/providers/providertest"
)

// declaredHoox is Hoox as an operator would declare it in YAML.
const declaredHoox = `
path: /api/public/v1/asset/status/{id}
auth: {header: Authorization, scheme: Bearer}
state:
  path: status
  words: {pending: pending, generating: running, completed: completed, failed: failed}
fields:
  url: url
  thumbnail_url: thumbnail_url
  media_type: type
  width: width
  height: height
  duration_seconds: duration_seconds
  cost: cost
  model: generation_params.model
  error_code: error.code
  error_message: [error.message, error]
webhook_id: asset_id
`

// TestDeclared runs Hoox declared in YAML through the conformance suite
// with the adapter's fixtures: it reads every answer as the adapter does.
func TestDeclared(t *testing.T) {
	t.Parallel()
	spec, err := declared.Parse([]byte(declaredHoox))
	require.NoError(t, err)
	def := declared.Definition(spec, "hoox")
	def.DefaultBaseURL = hoox.Definition().DefaultBaseURL // from base_url
	providertest.Run(t, suite(def))
}
