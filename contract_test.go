package genwatch_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch"
)

// TestProviderValidation checks which provider names each kind of
// validation accepts: the built-in ones without a configuration, the
// configured ones with it, and any well-formed name in a worker's decoding.
func TestProviderValidation(t *testing.T) {
	t.Parallel()
	configured := map[string][]string{"hoox": {"default"}, "acme": {"default"}}
	client := genwatch.NewClient(nil, genwatch.ClientConfig{Accounts: configured})
	builtinClient := genwatch.NewClient(nil, genwatch.ClientConfig{})
	tests := []struct {
		desc                      string
		provider                  string
		builtin, config, decoding bool
	}{
		{desc: "built-in and configured", provider: "hoox", builtin: true, config: true, decoding: true},
		{desc: "built-in, not configured", provider: "hooked", builtin: true, config: false, decoding: true},
		{desc: "configured only", provider: "acme", builtin: false, config: true, decoding: true},
		{desc: "neither", provider: "vimeo", builtin: false, config: false, decoding: true},
		{desc: "malformed", provider: "Acme:v2", builtin: false, config: false, decoding: false},
	}
	check := func(t *testing.T, ok bool, err error) {
		t.Helper()
		if ok {
			require.NoError(t, err)
			return
		}
		require.ErrorIs(t, err, genwatch.ErrUnknownProvider)
		require.True(t, genwatch.IsInvalidRequest(err))
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			req := genwatch.Request{Provider: tc.provider, GenerationID: "gen-1"}
			check(t, tc.builtin, req.Validate())
			check(t, tc.builtin, builtinClient.Validate(req))
			check(t, tc.config, req.ValidateFor([]string{"acme", "hoox"}))
			check(t, tc.config, client.Validate(req))
			_, err := genwatch.DecodeRequest([]byte(`{"provider":"` + tc.provider + `","generation_id":"gen-1"}`))
			check(t, tc.decoding, err)
		})
	}
	require.ErrorContains(t, client.Validate(genwatch.Request{Provider: "vimeo", GenerationID: "x"}),
		`unknown provider "vimeo" (want one of [acme hoox])`)
	require.ErrorIs(t, genwatch.Request{Provider: "hoox", GenerationID: "x"}.ValidateFor(nil), genwatch.ErrUnknownProvider,
		"no configured provider accepts none")
}
