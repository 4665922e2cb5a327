package config

import "encoding/json"

// Secret is a string that never prints: fmt, zap, JSON and YAML encoders all
// see "<secret>". Use Reveal only where the value goes on the wire.
type Secret string

const redacted = "<secret>"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer so that %#v hides the value too.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText implements encoding.TextMarshaler, used by zap's reflection
// encoder and by map keys.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret value, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }
