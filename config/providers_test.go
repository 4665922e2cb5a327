package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/builtin"
	"github.com/genwatch/genwatch/internal/providers/declared"
	"github.com/genwatch/genwatch/secret"
)

// twoExtra adds an OpenAI-compatible videos API and a declarative provider.
const twoExtra = `
providers:
  sora:
    type: openai_videos
    base_url: https://api.openai.com
    accounts:
      default: {api_key: file-sora-key}
  vidcloud:
    type: openai_videos
    base_url: https://api.vidcloud.example/openai
  acme:
    type: declarative
    base_url: https://api.acme.example
    status:
      path: /v2/jobs/{id}
      auth: {header: X-Acme-Key}
      state:
        path: job.state
        words: {queued: pending, working: running, done: completed, error: failed}
      fields:
        progress: job.progress
        url: job.output.url
        error_message: job.error
`

func TestConfiguredProviders(t *testing.T) {
	t.Parallel()
	c, err := config.Load(writeFile(t, twoExtra), env(map[string]string{
		"GENWATCH_ACME_API_KEY":     "env-acme-key",
		"GENWATCH_VIDCLOUD_API_KEY": "env-vidcloud-key",
		"GENWATCH_SORA_BASE_URL":    "http://127.0.0.1:9999",
	}))
	require.NoError(t, err)
	want := append(builtin.Names(), "acme", "sora", "vidcloud")
	slices.Sort(want)
	require.Equal(t, want, c.ProviderNames(), "the built-in providers and the configured ones, sorted")
	require.Equal(t, secret.Value("env-acme-key"), c.Providers["acme"].Accounts["default"].APIKey)
	require.Equal(t, secret.Value("file-sora-key"), c.Providers["sora"].Accounts["default"].APIKey)
	require.Equal(t, "http://127.0.0.1:9999", c.Providers["sora"].BaseURL, "the environment wins")

	var names []string
	for _, d := range declared.Definitions(c) {
		names = append(names, d.Name)
	}
	require.Equal(t, c.ProviderNames(), names)

	acme, ok := declared.Lookup(c, "acme")
	require.True(t, ok)
	require.Equal(t, "/v2/jobs/{id}", acme.Endpoint)
	require.Equal(t, "X-Acme-Key", acme.AuthHeader)
	st, err := acme.Decode([]byte(`{"job":{"state":"done","output":{"url":"https://cdn/a.mp4"}}}`))
	require.NoError(t, err)
	require.Equal(t, providers.StateCompleted, st.State)
	require.Equal(t, "https://cdn/a.mp4", st.URL)

	sora, ok := declared.Lookup(c, "sora")
	require.True(t, ok)
	require.Equal(t, "/v1/videos/{id}", sora.Endpoint)
	require.Equal(t, "sora", sora.Name)
	hoox, ok := declared.Lookup(c, "hoox")
	require.True(t, ok)
	require.Equal(t, "/api/public/v1/asset/status", hoox.Endpoint)
	_, ok = declared.Lookup(c, "nobody")
	require.False(t, ok)
}

// TestInvalidProviders checks that every problem of a configured provider
// is reported, each naming its YAML path, in a stable order.
func TestInvalidProviders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		yaml  string
		wants []string
	}{
		{desc: "unknown provider without a type", yaml: "providers:\n  acme: {}\n", wants: []string{
			fmt.Sprintf("providers.acme: unknown provider (want one of %v, or a type: openai_videos or declarative)", genwatch.Providers())}},
		{desc: "unknown type", yaml: "providers:\n  acme: {type: graphql}\n", wants: []string{
			`providers.acme.type: want openai_videos or declarative (or no type, for a built-in provider), got "graphql"`}},
		{desc: "built-in name taken", yaml: "providers:\n  hoox: {type: openai_videos, base_url: https://x}\n", wants: []string{
			"providers.hoox.type: hoox is a built-in provider; give this one a name of its own"}},
		{desc: "name unfit for a variable", yaml: "providers:\n  Acme-Co: {type: openai_videos, base_url: https://x}\n", wants: []string{
			"providers.Acme-Co: a provider name is 1 to 32 lower-case letters"}},
		{desc: "no base url", yaml: "providers:\n  sora: {type: openai_videos}\n", wants: []string{
			"providers.sora.base_url: is required with type openai_videos"}},
		{desc: "declarative without status", yaml: "providers:\n  acme: {type: declarative, base_url: https://x}\n", wants: []string{
			"providers.acme.status: is required with type declarative"}},
		{desc: "status on another type", yaml: "providers:\n  sora: {type: openai_videos, base_url: https://x, status: {path: /x}}\n", wants: []string{
			"providers.sora.status: applies to type declarative only"}},
		{desc: "status problems in order, with others", yaml: `
providers:
  zeta:
    type: declarative
    base_url: ftp://x
    status:
      path: jobs/{id}
      state: {words: {done: finished}}
      fields: {cost: {path: c, divide_by: -1}}
  acme:
    type: declarative
    base_url: https://x
    status: {path: '/v1/{id}', state: {path: s, words: {ok: completed}}, media_type: hologram}
    accounts:
      default: {}
`, wants: []string{
			`providers.acme.status.media_type: want video, image or audio, got "hologram"`,
			`providers.acme.accounts.default.api_key: is empty`,
			`providers.zeta.status.path: must start with /, got "jobs/{id}"`,
			`providers.zeta.status.state.path: is required`,
			`providers.zeta.status.state.words.done: want pending, running, completed or failed, got "finished"`,
			`providers.zeta.status.state.words: no word means completed`,
			`providers.zeta.status.fields.cost.divide_by: must be a positive number, got -1`,
			`providers.zeta.base_url: want http(s)://host[:port], got "ftp://x"`,
		}},
		{desc: "unknown key in status", yaml: "providers:\n  acme:\n    type: declarative\n    status: {pth: /x}\n", wants: []string{"field pth not found"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(writeFile(t, tc.yaml), nil)
			require.Error(t, err)
			msg := err.Error()
			last := -1
			for _, want := range tc.wants {
				i := strings.Index(msg, want)
				require.GreaterOrEqual(t, i, 0, "%q not in:\n%s", want, msg)
				require.Greater(t, i, last, "%q out of order in:\n%s", want, msg)
				last = i
			}
		})
	}
}

// TestExampleProvidersWithoutCode loads the commented examples of providers
// without code in config/genwatch.example.yaml, uncommented, so that they
// stay in step with the configuration they document.
func TestExampleProvidersWithoutCode(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("genwatch.example.yaml")
	require.NoError(t, err)
	_, block, ok := strings.Cut(string(example), "# BEGIN providers without code\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "  # END providers without code")
	require.True(t, ok)
	var yaml strings.Builder
	yaml.WriteString("providers:\n")
	for line := range strings.Lines(block) {
		rest, ok := strings.CutPrefix(line, "  # ")
		require.True(t, ok, "line %q is not a commented example", line)
		yaml.WriteString("  " + rest)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("k\n"), 0o600))
	text := strings.ReplaceAll(yaml.String(), "/run/secrets/openai_api_key", keyFile)
	text = strings.ReplaceAll(text, "/run/secrets/acme_api_key", keyFile)
	c, err := config.Load(writeFile(t, text), nil)
	require.NoError(t, err)
	require.Equal(t, config.TypeOpenAIVideos, c.Providers["sora"].Type)
	acme, ok := declared.Lookup(c, "acme")
	require.True(t, ok)
	st, err := acme.Decode([]byte(`{"job":{"state":"done","kind":"Image","output":{"url":"https://cdn/a.png","frames":48}},"billing":{"credits":2}}`))
	require.NoError(t, err)
	require.Equal(t, providers.StateCompleted, st.State)
	require.Equal(t, providers.MediaImage, st.MediaType)
	require.Equal(t, 2.0, st.DurationSeconds)
	require.Equal(t, new(2.0), st.Cost)
}
