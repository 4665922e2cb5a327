package config_test

import (
	"fmt"
	"time"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/secret"
)

// A Go program that embeds a worker configures it in code: the defaults,
// then what differs, accounts included.
func ExampleDefault() {
	key := "hx-0123456789" // from the program's own secret store
	cfg := config.Default()
	cfg.Redis.URL = "redis://redis.internal:6379/0"
	hoox := cfg.Providers["hoox"]
	hoox.Accounts = map[string]config.Account{"default": {APIKey: secret.Value(key)}}
	cfg.Providers["hoox"] = hoox
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Providers["hoox"].Accounts["default"].APIKey)
	// Output: <secret>
}

// A provider's own polling policy and rate limit, set in Go: the fields
// the provider sets override the global policy, the others keep it.
func ExampleProvider() {
	cfg := config.Default()
	hoox := cfg.Providers["hoox"]
	hoox.Accounts = map[string]config.Account{"default": {APIKey: secret.Value("hx-0123456789")}}
	hoox.Poll = config.Policy{Mode: config.PollBackoff, Initial: 5 * time.Second, Max: time.Minute}
	hoox.RateLimit = config.Limit{PerSecond: 10, Burst: 20}
	cfg.Providers["hoox"] = hoox
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	p := cfg.Policy("hoox")
	fmt.Println(p.Mode, p.Initial, p.Max, p.NotFoundGrace)
	fmt.Println(cfg.Providers["hoox"].AccountRateLimit("default"))
	// Output:
	// backoff 5s 1m0s 2m0s
	// {10 20}
}
