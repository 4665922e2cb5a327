package simulator

import "github.com/genwatch/genwatch"

// Hoox, Hooked and Token360 name the built-in providers, which a Simulator
// serves when Config.Providers is nil, for Config.Keys, Create, SetFaults
// and Requests.
const (
	Hoox     = genwatch.ProviderHoox
	Hooked   = genwatch.ProviderHooked
	Token360 = genwatch.ProviderToken360
)
