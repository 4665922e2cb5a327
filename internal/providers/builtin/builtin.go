// Package builtin is the registry of the providers genwatch has adapters
// for. Configuration defaults, the worker, the simulator, the demo, the
// commands' help and validation, and the tests all loop over Definitions,
// so that adding a provider is one adapter package (with its conformance
// test): an adapter package under internal/providers exports
// `func Definition() providers.Definition`, and `go generate` lists it in
// registry.go (a test fails until it does). Registration is explicit:
// there is no init() and no global state.
package builtin

//go:generate go run gen.go

import (
	"slices"
	"strings"

	"github.com/genwatch/genwatch/internal/providers"
)

// Definitions returns the built-in providers, sorted by name.
func Definitions() []providers.Definition {
	defs := registered()
	slices.SortFunc(defs, func(a, b providers.Definition) int { return strings.Compare(a.Name, b.Name) })
	return defs
}

// Names returns the names of the built-in providers, sorted.
func Names() []string {
	defs := Definitions()
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	return names
}

// Lookup returns the built-in provider with the given name.
func Lookup(name string) (providers.Definition, bool) {
	for _, d := range Definitions() {
		if d.Name == name {
			return d, true
		}
	}
	return providers.Definition{}, false
}
