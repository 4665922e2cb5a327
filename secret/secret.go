// Package secret holds values that must never be shown: API keys and
// signing secrets.
package secret

import "encoding/json"

// Value is a string that never prints: fmt, zap, JSON and YAML encoders all
// see "<secret>". Use Reveal only where the value goes on the wire.
type Value string

const redacted = "<secret>"

// String implements fmt.Stringer.
func (s Value) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer so that %#v hides the value too.
func (s Value) GoString() string { return s.String() }

// MarshalJSON implements json.Marshaler.
func (s Value) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML implements yaml.Marshaler.
func (s Value) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText implements encoding.TextMarshaler, used by zap's reflection
// encoder and by map keys.
func (s Value) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret value, for the one place that must send it.
func (s Value) Reveal() string { return string(s) }
