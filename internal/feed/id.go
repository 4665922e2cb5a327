package feed

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ID is a Redis stream entry ID, "<ms>-<seq>".
type ID struct{ MS, Seq uint64 }

// ParseID reads an entry ID; "<ms>" alone means "<ms>-0".
func ParseID(s string) (ID, error) {
	ms, seq, hasSeq := strings.Cut(s, "-")
	var id ID
	var err error
	if id.MS, err = strconv.ParseUint(ms, 10, 64); err != nil {
		return ID{}, fmt.Errorf("stream entry ID %q: want <ms>-<seq>", s)
	}
	if hasSeq {
		if id.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
			return ID{}, fmt.Errorf("stream entry ID %q: want <ms>-<seq>", s)
		}
	}
	return id, nil
}

func (id ID) String() string {
	return strconv.FormatUint(id.MS, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// Less reports whether id comes before o in its stream.
func (id ID) Less(o ID) bool { return id.MS < o.MS || id.MS == o.MS && id.Seq < o.Seq }

// next is the smallest ID after id, for an exclusive range start.
func (id ID) next() ID {
	if id.Seq == math.MaxUint64 {
		return ID{MS: id.MS + 1}
	}
	return ID{MS: id.MS, Seq: id.Seq + 1}
}

// Cursor is a position in every stream of the feed: the last entry seen of
// each, in the order of Config.Streams. Its text form, the SSE event ID, is
// the entry IDs joined by commas: with one stream, the entry ID itself.
type Cursor []ID

// ParseCursor reads a cursor of n streams from its text form.
func ParseCursor(s string, n int) (Cursor, error) {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("want %d comma-separated stream entry IDs (one per stream), got %d", n, len(parts))
	}
	c := make(Cursor, n)
	for i, p := range parts {
		id, err := ParseID(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		c[i] = id
	}
	return c, nil
}

func (c Cursor) String() string {
	parts := make([]string, len(c))
	for i, id := range c {
		parts[i] = id.String()
	}
	return strings.Join(parts, ",")
}

func (c Cursor) clone() Cursor { return append(Cursor(nil), c...) }

var errNoStreams = errors.New("feed: no streams")
