package config_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/declared"
)

// FuzzLoad loads arbitrary files as the configuration. Whatever the file,
// Load must not panic; a file it rejects gets an error that says it is the
// configuration; a file it accepts gives a configuration that validates
// and that the worker can run: finite poll policies and base URLs its
// adapters take.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("genwatch.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, file := range []string{
		"", "---\n", "{}\n", "null\n", "~\n", "# nothing\n",
		"providers:\n  hoox:\n    base_url: http://127.0.0.1:9000/proxy/\n    poll: {multiplier: 2}\n" +
			"    accounts:\n      default: {api_key: k1}\n      team-b: {api_key: k2}\n",
		"poll: {initial: 1ns, multiplier: 1, max: 1ns, jitter: -1}\nmax_wait: 1\n",
		"events:\n  webhook: {url: 'https://example.com/hook', secret: whsec_c2VjcmV0}\n",
		"a: &x [*x]\n",
		"a: &a [1]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		// Invalid.
		"queu: x\n", "max_wait: soon\n", "[[[\n", "\tqueue: x\n", "\xff\xfe", "concurrency: 1e400\n",
		"concurrency: 9223372036854775808\n", "max_wait: -1s\n", "poll: {multiplier: 0.5}\n",
		"providers:\n  acme: {}\n", "providers:\n  hoox:\n    base_url: app.hoox.video\n",
		"providers:\n  hoox:\n    accounts:\n      '': {api_key: k}\n",
		"providers:\n  hoox:\n    accounts:\n      default: {api_key_file: /nonexistent/genwatch-key}\n",
		"redis: {url: 'http://x'}\nlog: {level: loud, format: xml}\n",
		"queue: a\nqueue: b\n", "queue: x\n---\nqueue: y\n", "providers: [hoox]\n",
		"poll: {multiplier: .nan}\n", "poll: {jitter: .inf}\n", "providers: {hooked: {poll: {multiplier: .NaN}}}\n",
		// Providers configured without code.
		twoExtra,
		"providers: {sora: {type: openai_videos, base_url: 'http://127.0.0.1:1'}}\n",
		"providers: {acme: {type: declarative, base_url: 'http://h', status: {path: '/j/{id}/{id}', state: {path: s, words: {a: b}}}}}\n",
		"providers: {acme: {type: declarative, base_url: 'http://h', status: {fields: {url: [[1]], cost: {path: c, divide_by: .nan}}}}}\n",
	} {
		f.Add([]byte(file))
	}

	// One file per process, rewritten for each input: the fuzz function
	// is never called concurrently within a process.
	path := filepath.Join(f.TempDir(), "genwatch.yaml")
	f.Fuzz(func(t *testing.T, file []byte) {
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config") {
				t.Fatalf("error %q does not start with \"config\"", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned a configuration that Validate rejects: %v", err)
		}
		checkPolicy(t, "poll", c.Poll)
		for name, p := range c.Providers {
			checkPolicy(t, "providers."+name+".poll", c.Poll.Merge(p.Poll))
			def, ok := declared.Lookup(c, name)
			if !ok {
				t.Fatalf("providers.%s is accepted, but has no definition", name)
			}
			if _, err := providers.StatusURL(p.BaseURL, def.Endpoint, "id"); err != nil {
				t.Errorf("providers.%s.base_url %q is accepted, but the adapter refuses it: %v", name, p.BaseURL, err)
			}
			if _, err := def.New(providers.Config{BaseURL: p.BaseURL, APIKey: "k"}); err != nil {
				t.Errorf("providers.%s is accepted, but its adapter cannot be built: %v", name, err)
			}
		}
	})
}

// checkPolicy asserts that a loaded poll policy holds numbers the
// scheduler can compute with.
func checkPolicy(t *testing.T, field string, p config.Policy) {
	t.Helper()
	p = p.WithDefaults()
	for name, v := range map[string]float64{"multiplier": p.Multiplier, "jitter": p.Jitter} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s.%s = %v is accepted", field, name, v)
		}
	}
}
