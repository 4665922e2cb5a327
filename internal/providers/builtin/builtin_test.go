package builtin_test

import (
	"os/exec"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/providers/builtin"
	"github.com/genwatch/genwatch/internal/providers/providertest"
)

// TestRegistry runs every registered provider through the part of the
// conformance suite that needs no fixtures (each adapter's own test runs
// the whole suite), and checks that names are unique, sorted and usable.
func TestRegistry(t *testing.T) {
	t.Parallel()
	names := builtin.Names()
	require.NotEmpty(t, names)
	require.True(t, slices.IsSorted(names), "names %v are not sorted", names)
	require.Len(t, slices.Compact(slices.Clone(names)), len(names), "names %v repeat", names)
	for _, def := range builtin.Definitions() {
		t.Run(def.Name, func(t *testing.T) {
			t.Parallel()
			got, ok := builtin.Lookup(def.Name)
			require.True(t, ok)
			require.Equal(t, def.Endpoint, got.Endpoint)
			require.NotEmpty(t, def.DefaultBaseURL)
			providertest.RunImitation(t, def)
		})
	}
	_, ok := builtin.Lookup("acme")
	require.False(t, ok)
}

// TestRegistryGenerated fails when an adapter package was added or removed
// without `go generate ./internal/providers/builtin`, which lists every
// package under internal/providers that exports Definition().
func TestRegistryGenerated(t *testing.T) {
	t.Parallel()
	out, err := exec.CommandContext(t.Context(), "go", "run", "gen.go", "-check").CombinedOutput()
	require.NoError(t, err, "%s", out)
}
