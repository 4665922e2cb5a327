package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/providers"
	"github.com/genwatch/genwatch/internal/schedule"
)

// Store keeps per-generation state in Redis: one small JSON string per
// generation under "<prefix>gen:<task id>", and, once it has ended, the
// winning event under "<prefix>done:<task id>", where the prefix is that of
// the generation's shard (genwatch.Shards.KeyPrefix). The event is
// appended to the shard's stream, whose name is the prefix's hash tag, so
// that each script touches one Redis Cluster slot.
//
// Each poll costs one round trip (Record); the poll that ends a generation
// costs one more (Emit).
type Store struct {
	rdb    redis.UniversalClient
	shards genwatch.Shards
	maxLen int64
}

// StoreConfig configures a Store.
type StoreConfig struct {
	// Shards names each shard's queue and stream, from which its keys are
	// named. The zero value is one shard on genwatch.DefaultQueue and
	// genwatch.DefaultStream.
	Shards genwatch.Shards
	// StreamMaxLen trims each stream to about this many entries; zero or
	// negative keeps every entry.
	StreamMaxLen int64
}

// NewStore returns a Store on rdb.
func NewStore(rdb redis.UniversalClient, cfg StoreConfig) *Store {
	return &Store{rdb: rdb, shards: cfg.Shards.WithDefaults(), maxLen: cfg.StreamMaxLen}
}

// maxSamples is how many progress readings a generation keeps.
const maxSamples = 8

// Observation classes as stored: short, since they are written every poll.
const (
	classOK           = "ok"
	classNotFound     = "nf"
	classUnauthorized = "ua"
	classFailing      = "fl"
)

func storedClass(c providers.Class) string {
	switch c {
	case providers.ClassNone:
		return classOK
	case providers.ClassNotFound:
		return classNotFound
	case providers.ClassUnauthorized:
		return classUnauthorized
	default:
		return classFailing
	}
}

// recordScript counts the poll, tracks the start of the current run of
// not-found, unauthorized or failing answers, appends a progress reading
// when it changed, and returns the new state. It is the only writer of the
// state key.
var recordScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local raw = redis.call('GET', KEYS[1])
local st
if raw then st = cjson.decode(raw) else st = {p = 0, f = now} end
if ARGV[7] == '1' then st.p = st.p + 1 end
for _, c in ipairs({'nf', 'ua', 'fl'}) do
  if c == ARGV[2] then
    if not st[c] then st[c] = now end
  else
    st[c] = nil
  end
end
if ARGV[2] == 'fl' then st.fn = (st.fn or 0) + 1 else st.fn = nil end
local pct = tonumber(ARGV[3])
if pct >= 0 then
  local g = st.g or {}
  local last = g[#g]
  if not last or last[2] ~= pct then
    table.insert(g, {now, pct})
    if #g > tonumber(ARGV[6]) then table.remove(g, 1) end
  end
  st.g = g
end
if ARGV[4] ~= '' then st.s = ARGV[4] end
local out = cjson.encode(st)
redis.call('SET', KEYS[1], out, 'PX', ARGV[5])
return out
`)

// emitScript appends the event to the stream unless this generation has
// already ended, and returns {1, event} when it did, {0, earlier event}
// when it had. With ARGV[5] set (a cancellation, at that Unix ms time) it
// also marks the state canceled, so that the task, when it next runs,
// finishes without deciding anything.
var emitScript = redis.NewScript(`
local prev = redis.call('GET', KEYS[1])
if prev then return {0, prev} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if tonumber(ARGV[3]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[1])
else
  redis.call('XADD', KEYS[2], '*', 'event', ARGV[1])
end
if ARGV[5] ~= '' then
  local raw = redis.call('GET', KEYS[3])
  local st = raw and cjson.decode(raw) or {p = 0, f = tonumber(ARGV[5])}
  st.c = tonumber(ARGV[5])
  redis.call('SET', KEYS[3], cjson.encode(st), 'PX', ARGV[4])
else
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
return {1, ARGV[1]}
`)

// state is the stored form of a generation's history; times in Unix ms.
type state struct {
	Polls          int        `json:"p"`
	FirstSeen      int64      `json:"f"`
	NotFound       int64      `json:"nf,omitempty"`
	Unauthorized   int64      `json:"ua,omitempty"`
	Failing        int64      `json:"fl,omitempty"`
	Failures       int        `json:"fn,omitempty"`
	Samples        [][2]int64 `json:"g,omitempty"`
	ProviderStatus string     `json:"s,omitempty"`
	Canceled       int64      `json:"c,omitempty"`
}

// Record is what the store knows of a generation after a poll.
type Record struct {
	History   schedule.History
	FirstSeen time.Time
	// ProviderStatus is the last status word the provider answered with.
	ProviderStatus string
	// CanceledAt is when tracking was canceled, zero if it was not.
	CanceledAt time.Time
}

// LastProgress returns the most recent progress reading, if any.
func (r Record) LastProgress() (int, bool) {
	if n := len(r.History.Progress); n > 0 {
		return r.History.Progress[n-1].Percent, true
	}
	return 0, false
}

// Record adds one poll's observation to the generation's state and returns
// the updated state. called is false when no status call was made (the
// circuit was open), so that it does not count as a poll. ttl is how long
// the state outlives this poll.
func (s *Store) Record(ctx context.Context, taskID string, now time.Time, called bool, class providers.Class, st *providers.Status, ttl time.Duration) (Record, error) {
	progress, word := -1, ""
	if st != nil {
		if st.Progress != nil {
			progress = *st.Progress
		}
		word = st.ProviderStatus
	}
	out, err := recordScript.Run(ctx, s.rdb, []string{s.stateKey(taskID)},
		now.UnixMilli(), storedClass(class), progress, word, max(ttl, time.Second).Milliseconds(), maxSamples, called).Text()
	if err != nil {
		return Record{}, fmt.Errorf("record poll: %w", err)
	}
	var raw state
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return Record{}, fmt.Errorf("record poll: decode state: %w", err)
	}
	return raw.record(), nil
}

// Load returns the generation's state without changing it, and false when
// there is none.
func (s *Store) Load(ctx context.Context, taskID string) (Record, bool, error) {
	out, err := s.rdb.Get(ctx, s.stateKey(taskID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("load state: %w", err)
	}
	var raw state
	if err := json.Unmarshal(out, &raw); err != nil {
		return Record{}, false, fmt.Errorf("load state: decode: %w", err)
	}
	return raw.record(), true, nil
}

func (raw state) record() Record {
	ms := func(v int64) time.Time {
		if v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v).UTC()
	}
	h := schedule.History{
		Polls:             raw.Polls,
		NotFoundSince:     ms(raw.NotFound),
		UnauthorizedSince: ms(raw.Unauthorized),
		FailingSince:      ms(raw.Failing),
		Failures:          raw.Failures,
		Answered:          raw.ProviderStatus != "",
	}
	for _, s := range raw.Samples {
		h.Progress = append(h.Progress, schedule.Sample{At: ms(s[0]), Percent: int(s[1])})
	}
	return Record{History: h, FirstSeen: ms(raw.FirstSeen), ProviderStatus: raw.ProviderStatus, CanceledAt: ms(raw.Canceled)}
}

// Emit appends event (its JSON) to the stream, unless the generation has
// already ended, and keeps it for retention. It returns the event that
// stands, this one or the earlier one, and whether this call appended it.
// The generation's poll state is kept a little longer (stateTTL) so that a
// rerun of the same task decides the same way.
func (s *Store) Emit(ctx context.Context, taskID string, event []byte, retention, stateTTL time.Duration) ([]byte, bool, error) {
	return s.emit(ctx, taskID, event, retention, stateTTL, "")
}

// Cancel is Emit for a canceled event: it also marks the generation's
// state canceled at now, so that its task finishes when it next runs.
func (s *Store) Cancel(ctx context.Context, taskID string, event []byte, now time.Time, retention, stateTTL time.Duration) ([]byte, bool, error) {
	return s.emit(ctx, taskID, event, retention, stateTTL, strconv.FormatInt(now.UnixMilli(), 10))
}

func (s *Store) emit(ctx context.Context, taskID string, event []byte, retention, stateTTL time.Duration, canceledAt string) ([]byte, bool, error) {
	res, err := emitScript.Run(ctx, s.rdb,
		[]string{s.doneKey(taskID), s.shards.StreamOf(taskID), s.stateKey(taskID)},
		event, retention.Milliseconds(), s.maxLen, max(stateTTL, time.Second).Milliseconds(), canceledAt).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("emit event: %w", err)
	}
	if len(res) != 2 {
		return nil, false, fmt.Errorf("emit event: unexpected reply %v", res)
	}
	appended, _ := res[0].(int64)
	stored, _ := res[1].(string)
	return []byte(stored), appended == 1, nil
}

// Done returns the event a generation ended with, and false while it has
// not ended (or its retention has passed).
func (s *Store) Done(ctx context.Context, taskID string) ([]byte, bool, error) {
	b, err := s.rdb.Get(ctx, s.doneKey(taskID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load event: %w", err)
	}
	return b, true, nil
}

func (s *Store) stateKey(taskID string) string { return s.shards.KeyPrefixOf(taskID) + "gen:" + taskID }
func (s *Store) doneKey(taskID string) string  { return s.shards.KeyPrefixOf(taskID) + "done:" + taskID }
