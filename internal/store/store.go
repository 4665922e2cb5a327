// Package store keeps what the workers know of each tracked generation in
// Redis: its keys, the Lua scripts that change them, and the migration of
// the keys that workers before sharding left.
//
// It owns these keys, all under the prefix of the generation's shard
// ("genwatch:{<stream>}:<queue>:", genwatch.Shards.KeyPrefixOf):
//
//   - "<prefix>gen:<task id>": the generation's state, one small JSON
//     string (polls, poll times, runs of failing answers, progress
//     readings, status word, model, hint and cancellation times); each
//     write says how long it lives.
//   - "<prefix>done:<task id>" (genwatch.Shards.DoneKey): the event the
//     generation ended with, kept for the retention. It is the guard of
//     exactly-once emission: the first event written stands, and a rerun
//     or a duplicate task gets that event back and appends nothing.
//   - "<prefix>durations:<provider>:<account>:<kind>": the durations
//     learned from the generations of the shard that ended, under their
//     kind (Kind) and under the provider and account alone, which pace a
//     first poll. Priors caches them for a worker.
//
// Each change made while a generation is tracked is one script, so that it
// costs one round trip:
//
//   - a poll: Store.Record;
//   - an ending: Store.Emit, which writes the done key, appends the event
//     to the shard's stream, learns the duration and sets the state's life
//     at once, or Store.Cancel, which marks the state canceled instead of
//     learning; with Config.Replicas, WAIT follows in the same pipeline;
//   - a provider's hint (Store.Hint) and a first sighting (Store.Seen).
//
// A poll thus costs one round trip, and the poll that ends a generation one
// more.
//
// The stream's name is the hash tag of the shard's prefix, so every key a
// script touches, and the stream, are in one Redis Cluster slot.
package store

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

// Store keeps per-generation state in Redis, in the keys the package
// comment names. Each poll costs one round trip (Record); the poll that
// ends a generation costs one more (Emit).
type Store struct {
	rdb            redis.UniversalClient
	shards         genwatch.Shards
	maxLen         int64
	replicas       int
	replicaTimeout time.Duration
}

// Config configures a Store.
type Config struct {
	// Shards names each shard's queue and stream, from which its keys are
	// named. The zero value is one shard on genwatch.DefaultQueue and
	// genwatch.DefaultStream.
	Shards genwatch.Shards
	// StreamMaxLen trims each stream to about this many entries; zero or
	// negative keeps every entry.
	StreamMaxLen int64
	// Replicas, when positive, is how many replicas must have an ended
	// generation's event (Redis WAIT, on the connection that wrote it)
	// before Emit and Cancel return without ErrNotReplicated: with
	// replication being asynchronous, a primary that fails over right
	// after the write would otherwise take the event with it while its
	// task is acknowledged elsewhere. Zero (the default) does not wait.
	Replicas int
	// ReplicaTimeout is how long to wait for them. If zero, 1 s.
	ReplicaTimeout time.Duration
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, cfg Config) *Store {
	if cfg.ReplicaTimeout <= 0 {
		cfg.ReplicaTimeout = time.Second
	}
	return &Store{rdb: rdb, shards: cfg.Shards.WithDefaults(), maxLen: cfg.StreamMaxLen,
		replicas: cfg.Replicas, replicaTimeout: cfg.ReplicaTimeout}
}

// ErrNotReplicated says an ended generation's event was written, but fewer
// replicas than Config.Replicas confirmed it in time: the event is in
// the stream, and the task should be run again (which finds the event and
// waits again) rather than acknowledged.
var ErrNotReplicated = errors.New("event not yet on enough replicas")

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

// recordScript counts the poll and keeps the times of this poll and the one
// before, tracks the start of the current run of not-found, unauthorized or
// failing answers, appends a progress reading (with the time of the poll
// before, when it had not been reached, and the provider's own time for it,
// or 0) when it changed, keeps the model,
// and returns the new state. The other writers of the state key only
// create it (seenScript, hintScript, MigrateLegacy), set the hint time
// (hintScript), or mark it canceled and set its life (emitScript).
var recordScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local raw = redis.call('GET', KEYS[1])
local st
if raw then st = cjson.decode(raw) else st = {p = 0, f = now} end
if ARGV[7] == '1' then
  st.p = st.p + 1
  st.l = st.t
  st.t = now
end
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
    table.insert(g, {now, pct, st.l or 0, tonumber(ARGV[9])})
    if #g > tonumber(ARGV[6]) then table.remove(g, 1) end
  end
  st.g = g
end
if ARGV[4] ~= '' then st.s = ARGV[4] end
if ARGV[8] ~= '' then st.m = ARGV[8] end
local out = cjson.encode(st)
redis.call('SET', KEYS[1], out, 'PX', ARGV[5])
return out
`)

// hintScript records a provider webhook's hint at ARGV[1] (Unix ms) in the
// state of a generation that has not ended, unless an earlier hint came
// less than ARGV[2] ms before; it returns 1 when it recorded this one. The
// state is created if the generation has not been polled yet.
var hintScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local now = tonumber(ARGV[1])
local raw = redis.call('GET', KEYS[1])
local st
if raw then st = cjson.decode(raw) else st = {p = 0, f = now} end
if st.h and now - st.h < tonumber(ARGV[2]) then return 0 end
st.h = now
local ttl = redis.call('PTTL', KEYS[1])
if ttl and ttl > 0 then
  redis.call('SET', KEYS[1], cjson.encode(st), 'PX', ttl)
else
  redis.call('SET', KEYS[1], cjson.encode(st), 'PX', ARGV[3])
end
return 1
`)

// emitScript appends the event to the stream unless this generation has
// already ended, and returns {1, event} when it did, {0, earlier event}
// when it had. With ARGV[5] set (a cancellation, at that Unix ms time) it
// also marks the state canceled, so that the task, when it next runs,
// finishes without deciding anything. With KEYS[4] and on, it adds the
// generation's duration to each of those learned durations: every weight
// decays by ARGV[6], then ARGV[8], ARGV[10] … (bucket indexes) gain
// ARGV[9], ARGV[11] … (weights summing to one, schedule.Spread), and the
// record lives ARGV[7] ms from this ending.
var emitScript = redis.NewScript(`
local prev = redis.call('GET', KEYS[1])
if prev then return {0, prev} end
for k = 4, #KEYS do
  local raw = redis.call('GET', KEYS[k])
  local d = raw and cjson.decode(raw) or {}
  local w = d.w or {}
  local decay = tonumber(ARGV[6])
  for i = 1, ` + strconv.Itoa(schedule.NumBuckets) + ` do
    w[i] = (tonumber(w[i]) or 0) * decay
  end
  for j = 8, #ARGV - 1, 2 do
    local b = tonumber(ARGV[j]) + 1
    w[b] = w[b] + tonumber(ARGV[j + 1])
  end
  for i = 1, ` + strconv.Itoa(schedule.NumBuckets) + ` do
    w[i] = math.floor(w[i] * 1e4 + 0.5) / 1e4
  end
  d.w = w
  redis.call('SET', KEYS[k], cjson.encode(d), 'PX', ARGV[7])
end
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
	Polls     int   `json:"p"`
	FirstSeen int64 `json:"f"`
	// PolledAt and PrevPolledAt are the times of the last poll and the one
	// before.
	PolledAt     int64 `json:"t,omitempty"`
	PrevPolledAt int64 `json:"l,omitempty"`
	// HintAt is when a provider webhook last hinted at the end.
	HintAt int64 `json:"h,omitempty"`
	// Model is the kind of generation, for learned durations.
	Model        string `json:"m,omitempty"`
	NotFound     int64  `json:"nf,omitempty"`
	Unauthorized int64  `json:"ua,omitempty"`
	Failing      int64  `json:"fl,omitempty"`
	Failures     int    `json:"fn,omitempty"`
	// Samples are progress readings: [time, percent, poll before, the
	// provider's time for it]; the last two are 0 when unknown, and the
	// last is absent in states written before it was kept.
	Samples        [][]int64 `json:"g,omitempty"`
	ProviderStatus string    `json:"s,omitempty"`
	Canceled       int64     `json:"c,omitempty"`
}

// Record is what the store knows of a generation after a poll.
type Record struct {
	// History is what the polls so far observed, this one included: what
	// schedule.Decide paces the next poll by.
	History schedule.History
	// FirstSeen is when the state was first written: the first poll, hint
	// or sighting of the generation.
	FirstSeen time.Time
	// ProviderStatus is the last status word the provider answered with.
	ProviderStatus string
	// Model is the kind of generation, as Kind made it: what its durations
	// are learned under.
	Model string
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
	progress, word, model, reached := -1, "", "", int64(0)
	if st != nil {
		if st.Progress != nil {
			progress = *st.Progress
		}
		// Within what Redis's JSON encodes as an integer (14 digits).
		if ms := st.UpdatedAt.UnixMilli(); ms > 0 && ms < 1e13 {
			reached = ms
		}
		word = st.ProviderStatus
		model = Kind(st)
	}
	out, err := recordScript.Run(ctx, s.rdb, []string{s.stateKey(taskID)},
		now.UnixMilli(), storedClass(class), progress, word, max(ttl, time.Second).Milliseconds(), maxSamples, called, model, reached).Text()
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
		LastPollAt:        ms(raw.PrevPolledAt),
		HintAt:            ms(raw.HintAt),
		NotFoundSince:     ms(raw.NotFound),
		UnauthorizedSince: ms(raw.Unauthorized),
		FailingSince:      ms(raw.Failing),
		Failures:          raw.Failures,
		Answered:          raw.ProviderStatus != "",
	}
	for _, s := range raw.Samples {
		if len(s) < 2 {
			continue
		}
		sample := schedule.Sample{At: ms(s[0]), Percent: int(s[1])}
		if len(s) > 2 {
			sample.After = ms(s[2])
		}
		if len(s) > 3 {
			sample.Reached = ms(s[3])
		}
		h.Progress = append(h.Progress, sample)
	}
	return Record{History: h, FirstSeen: ms(raw.FirstSeen), ProviderStatus: raw.ProviderStatus, Model: raw.Model, CanceledAt: ms(raw.Canceled)}
}

// Learning is a duration to add to the learned durations when an event is
// emitted: when the generation ended, as far as the polls know, under
// which provider, account and kind. The zero Learning learns nothing.
type Learning struct {
	Provider, Account, Kind string
	Span                    schedule.Span
	// Memory is the policy's LearnMemory.
	Memory int
}

// durationsTTL is how long learned durations outlive their last ending.
const durationsTTL = 30 * 24 * time.Hour

// Emit appends event (its JSON) to the stream, unless the generation has
// already ended, and keeps it for retention. It returns the event that
// stands, this one or the earlier one, and whether this call appended it.
// The generation's poll state is kept a little longer (stateTTL) so that a
// rerun of the same task decides the same way. When the event is appended
// and learn is set, its duration is learned in the same script.
func (s *Store) Emit(ctx context.Context, taskID string, event []byte, retention, stateTTL time.Duration, learn Learning) ([]byte, bool, error) {
	return s.emit(ctx, taskID, event, retention, stateTTL, "", learn)
}

// Cancel is Emit for a canceled event: it also marks the generation's
// state canceled at now, so that its task finishes when it next runs.
func (s *Store) Cancel(ctx context.Context, taskID string, event []byte, now time.Time, retention, stateTTL time.Duration) ([]byte, bool, error) {
	return s.emit(ctx, taskID, event, retention, stateTTL, strconv.FormatInt(now.UnixMilli(), 10), Learning{})
}

func (s *Store) emit(ctx context.Context, taskID string, event []byte, retention, stateTTL time.Duration, canceledAt string, learn Learning) ([]byte, bool, error) {
	keys := []string{s.doneKey(taskID), s.shards.StreamOf(taskID), s.stateKey(taskID)}
	args := []any{event, retention.Milliseconds(), s.maxLen, max(stateTTL, time.Second).Milliseconds(), canceledAt,
		schedule.Decay(learn.Memory), durationsTTL.Milliseconds()}
	if learn.Provider != "" && learn.Span.To > 0 {
		for _, bw := range schedule.Spread(learn.Span) {
			args = append(args, bw.Bucket, bw.Weight)
		}
		// Under the kind, and under the provider and account alone, which
		// paces a first poll, made before the provider has said the kind.
		keys = append(keys, s.durationsKey(taskID, learn.Provider, learn.Account, ""))
		if learn.Kind != "" {
			keys = append(keys, s.durationsKey(taskID, learn.Provider, learn.Account, learn.Kind))
		}
	}
	res, replicated, err := s.runEmit(ctx, keys, args)
	if err != nil {
		return nil, false, fmt.Errorf("emit event: %w", err)
	}
	if len(res) != 2 {
		return nil, false, fmt.Errorf("emit event: unexpected reply %v", res)
	}
	appended, _ := res[0].(int64)
	stored, _ := res[1].(string)
	if replicated < s.replicas {
		return []byte(stored), appended == 1, fmt.Errorf("emit event: %w: %d of %d within %s",
			ErrNotReplicated, replicated, s.replicas, s.replicaTimeout)
	}
	return []byte(stored), appended == 1, nil
}

// runEmit runs the emit script, and, when the store waits for replicas,
// WAIT on the same connection, in one pipeline to the primary of the
// stream's slot; it returns the script's reply and how many replicas
// confirmed the write.
func (s *Store) runEmit(ctx context.Context, keys []string, args []any) ([]any, int, error) {
	if s.replicas <= 0 {
		res, err := emitScript.Run(ctx, s.rdb, keys, args...).Slice()
		return res, 0, err
	}
	var node redis.Cmdable = s.rdb
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		n, err := cc.MasterForKey(ctx, keys[1])
		if err != nil {
			return nil, 0, err
		}
		node = n
	}
	for loaded := false; ; loaded = true {
		pipe := node.Pipeline()
		res := emitScript.EvalSha(ctx, pipe, keys, args...)
		wait := pipe.Do(ctx, "WAIT", s.replicas, s.replicaTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		if err := res.Err(); redis.HasErrorPrefix(err, "NOSCRIPT") && !loaded {
			if err := emitScript.Load(ctx, node).Err(); err != nil {
				return nil, 0, err
			}
			continue
		}
		out, err := res.Slice()
		if err != nil {
			return nil, 0, err
		}
		n, err := wait.Int64()
		if err != nil {
			return out, 0, fmt.Errorf("wait for replicas: %w", err)
		}
		return out, int(n), nil
	}
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

// Hint records a provider webhook's hint that the generation ended, at
// now, unless one came less than debounce before or it has ended; it
// returns whether this one was recorded. The next poll sees it
// (History.HintAt).
func (s *Store) Hint(ctx context.Context, taskID string, now time.Time, debounce time.Duration) (bool, error) {
	n, err := hintScript.Run(ctx, s.rdb, []string{s.stateKey(taskID), s.doneKey(taskID)},
		now.UnixMilli(), debounce.Milliseconds(), hintStateTTL.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("record hint: %w", err)
	}
	return n == 1, nil
}

// hintStateTTL bounds the state a hint creates for a generation never
// polled: its first poll sets the real lifetime.
const hintStateTTL = time.Hour

// seenScript records when a generation was first seen, unless its state
// already exists, and returns that time (Unix ms). It counts no poll.
var seenScript = redis.NewScript(`
local raw = redis.call('GET', KEYS[1])
if raw then return cjson.decode(raw).f end
redis.call('SET', KEYS[1], cjson.encode({p = 0, f = tonumber(ARGV[1])}), 'PX', ARGV[2])
return tonumber(ARGV[1])
`)

// Seen returns when a worker first saw the generation, recording now as
// that time if none had; ttl is how long a new state lives.
func (s *Store) Seen(ctx context.Context, taskID string, now time.Time, ttl time.Duration) (time.Time, error) {
	ms, err := seenScript.Run(ctx, s.rdb, []string{s.stateKey(taskID)}, now.UnixMilli(), max(ttl, time.Second).Milliseconds()).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("record first sighting: %w", err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// Durations returns what has been learned of the durations of one
// provider, account and kind, in the shard of taskID; nil when nothing has.
func (s *Store) Durations(ctx context.Context, taskID, provider, account, kind string) (*schedule.Durations, error) {
	b, err := s.rdb.Get(ctx, s.durationsKey(taskID, provider, account, kind)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load durations: %w", err)
	}
	var d schedule.Durations
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("load durations: decode: %w", err)
	}
	return &d, nil
}

// Kind names what a generation's durations are learned under: its media
// type and model, as far as the provider says.
func Kind(st *providers.Status) string {
	if st == nil || (st.MediaType == "" && st.Model == "") {
		return ""
	}
	return st.MediaType + "/" + st.Model
}

func (s *Store) stateKey(taskID string) string { return s.shards.KeyPrefixOf(taskID) + "gen:" + taskID }
func (s *Store) doneKey(taskID string) string  { return s.shards.DoneKey(taskID) }

// durationsKey is where the durations of a provider, account and kind are
// learned, in the shard of taskID: the script that emits a generation's
// event updates them, and a script touches one Redis Cluster slot. Each
// shard learns from its share of the endings.
func (s *Store) durationsKey(taskID, provider, account, kind string) string {
	return s.shards.KeyPrefixOf(taskID) + "durations:" + provider + ":" + account + ":" + kind
}
