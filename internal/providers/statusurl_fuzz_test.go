package providers_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/providers/builtin"
)

// FuzzStatusURL puts arbitrary generation IDs into every built-in
// adapter's endpoint, and a templated one, under a few base URLs. An ID must land, escaped, in exactly one
// path segment after the endpoint: it can never add a query or a fragment,
// climb the path or split into two segments.
func FuzzStatusURL(f *testing.F) {
	for _, id := range []string{
		"vid_abc123", "662f8c1d3a4b5e6f70123456", "", ".", "..", "...", "a/b", "../../admin",
		"%2e%2e", "%", "a?b=c", "a#frag", "a b", "a;b,c", "\x00", "\xff\xfe", "é/ü",
		"//evil.example", "http://evil.example/", strings.Repeat("a", 300),
	} {
		f.Add(id)
	}
	bases := []string{
		"http://127.0.0.1:8080/", "https://proxy.example/prefix", "https://proxy.example/a%2Fb/?q=1#f",
	}
	endpoints := []string{"/v2/jobs/{id}/status"}
	for _, d := range builtin.Definitions() {
		bases = append(bases, d.DefaultBaseURL)
		endpoints = append(endpoints, d.Endpoint)
	}

	f.Fuzz(func(t *testing.T, id string) {
		for _, base := range bases {
			b, err := url.Parse(base)
			if err != nil {
				t.Fatal(err)
			}
			for _, endpoint := range endpoints {
				got, err := providers.StatusURL(base, endpoint, id)
				if id == "" || id == "." || id == ".." {
					if err == nil {
						t.Fatalf("StatusURL(%q, %q, %q) = %q, want an error", base, endpoint, id, got)
					}
					continue
				}
				if err != nil {
					t.Fatalf("StatusURL(%q, %q, %q): %v", base, endpoint, id, err)
				}
				u, err := url.Parse(got)
				if err != nil {
					t.Fatalf("StatusURL(%q, %q, %q) = %q does not parse: %v", base, endpoint, id, got, err)
				}
				if u.Scheme != b.Scheme || u.Host != b.Host || u.User != nil {
					t.Errorf("%q: scheme, host or user changed from base %q", got, base)
				}
				if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
					t.Errorf("%q: query %q or fragment %q added by id %q", got, u.RawQuery, u.Fragment, id)
				}
				before, after, found := strings.Cut(endpoint, providers.IDPlaceholder)
				if !found {
					before += "/"
				}
				prefix := strings.TrimRight(b.EscapedPath(), "/") + before
				last, ok := strings.CutPrefix(u.EscapedPath(), prefix)
				if ok {
					last, ok = strings.CutSuffix(last, after)
				}
				if !ok || strings.Contains(last, "/") {
					t.Fatalf("%q: path %q is not %q, one segment, then %q", got, u.EscapedPath(), prefix, after)
				}
				if back, err := url.PathUnescape(last); err != nil || back != id {
					t.Errorf("%q: last segment %q unescapes to %q (%v), want %q", got, last, back, err, id)
				}
			}
		}
	})
}
