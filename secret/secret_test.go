package secret_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"

	"github.com/genwatch/genwatch/secret"
)

// TestValueNeverPrints checks every way a value is commonly printed or
// encoded: none shows it, and Reveal gives it back.
func TestValueNeverPrints(t *testing.T) {
	t.Parallel()
	const key = "sk-live-0123456789"
	v := secret.Value(key)
	type holder struct {
		Key secret.Value `json:"key" yaml:"key"`
	}

	js, err := json.Marshal(holder{v})
	require.NoError(t, err)
	ym, err := yaml.Marshal(holder{v})
	require.NoError(t, err)
	text, err := v.MarshalText()
	require.NoError(t, err)
	core, logs := observer.New(zap.InfoLevel)
	zap.New(core).Info("config", zap.Any("holder", holder{v}), zap.Stringer("key", v))
	var logged string
	for _, e := range logs.All() {
		logged += fmt.Sprint(e.ContextMap())
	}

	for what, out := range map[string]string{
		"%v": fmt.Sprintf("%v", v), "%s": fmt.Sprintf("%s", v), "%#v": fmt.Sprintf("%#v", holder{v}),
		"%+v": fmt.Sprintf("%+v", holder{v}), "JSON": string(js), "YAML": string(ym), "text": string(text), "zap": logged,
	} {
		require.NotContains(t, out, key, what)
		require.Contains(t, out, "secret", what, "a placeholder shows where the value was")
	}
	require.Equal(t, key, v.Reveal())
	require.Empty(t, secret.Value("").String(), "an empty value prints empty, so a missing key shows")
}
