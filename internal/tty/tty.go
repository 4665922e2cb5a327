// Package tty tells whether output goes to a terminal, for the worker's
// log (colored levels or not) and `genwatch wait` (live progress bars or
// a line per change).
package tty

import (
	"io"
	"os"

	"github.com/vbauerster/mpb/v8/cwriter"
)

// IsTerminal reports whether w is a terminal: an *os.File whose descriptor
// is one. Anything else (a pipe, a file, /dev/null, a buffer) is not.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && cwriter.IsTerminal(int(f.Fd()))
}
