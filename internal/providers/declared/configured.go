package declared

import (
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/builtin"
)

// Lookup returns what the worker and the simulator need to poll and
// imitate the provider cfg configures under name, and whether there is
// one: a built-in provider's adapter, or the provider its type and
// description declare.
func Lookup(cfg config.Config, name string) (providers.Definition, bool) {
	p, ok := cfg.Providers[name]
	if !ok {
		return providers.Definition{}, false
	}
	switch p.Type {
	case config.TypeBuiltin:
		return builtin.Lookup(name)
	case config.TypeOpenAIVideos:
		return Definition(OpenAIVideos(), name), true
	case config.TypeDeclarative:
		if p.Status != nil {
			return Definition(*p.Status, name), true
		}
	}
	return providers.Definition{}, false
}

// Definitions returns the Lookup of every provider cfg configures, sorted
// by name.
func Definitions(cfg config.Config) []providers.Definition {
	var defs []providers.Definition
	for _, name := range cfg.ProviderNames() {
		if d, ok := Lookup(cfg, name); ok {
			defs = append(defs, d)
		}
	}
	return defs
}
