package tty_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/genwatch/genwatch/internal/tty"
)

func TestWhatIsNotATerminal(t *testing.T) {
	t.Parallel()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = devNull.Close() })
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = file.Close() })
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(); _ = w.Close() })
	var nilFile *os.File

	for desc, out := range map[string]io.Writer{
		"a buffer":                        &bytes.Buffer{},
		"a file":                          file,
		"a pipe":                          w,
		"the null device (a char device)": devNull,
		"a nil *os.File":                  nilFile,
	} {
		require.False(t, tty.IsTerminal(out), desc)
	}
}

func TestAPseudoTerminalIsOne(t *testing.T) {
	t.Parallel()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	require.NoError(t, err, "open a pseudo-terminal")
	t.Cleanup(func() { _ = ptmx.Close() })
	require.True(t, tty.IsTerminal(ptmx))
}
