package config_test

import (
	"fmt"

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
