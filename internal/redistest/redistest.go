// Package redistest gives tests a Redis: an embedded miniredis per test by
// default, or, when GENWATCH_TEST_REDIS_URL is set, a database of that real
// server claimed for the whole test binary.
//
// On the real server every test package claims a database number of its
// own (1 to 13, never the URL's own database, which holds the claims), so
// that packages running at the same time do not see each other's keys. It
// flushes only that database, with FLUSHDB, never FLUSHALL. Tests within a
// package share it and keep apart by naming their queues, streams and key
// prefixes after the test (Name).
package redistest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EnvURL names the variable that selects a real Redis server.
const EnvURL = "GENWATCH_TEST_REDIS_URL"

// lastTestDB is the last database number tests claim; 14 and 15 are left
// to the benchmark and the chaos test, which flush theirs.
const lastTestDB = 13

// claimTTL bounds how long a crashed test binary keeps its database.
const claimTTL = 30 * time.Minute

// claimed is the database this test binary claimed on the real server.
var claimed *redis.Options

// Main wraps testing.M.Run for packages that use Redis: with a real server
// it claims a database first and flushes and releases it at the end.
func Main(m *testing.M) int {
	rawURL, ok := os.LookupEnv(EnvURL)
	if !ok || rawURL == "" {
		return m.Run()
	}
	release, err := claim(rawURL)
	if err != nil {
		fmt.Fprintf(os.Stderr, "redistest: %v\n", err)
		return 1
	}
	defer release()
	return m.Run()
}

// Server is one test's Redis.
type Server struct {
	// URL is a redis:// URL of the database.
	URL string
	// Mini is the embedded server, or nil on a real one. Tests that need to
	// move its clock or stop it check it.
	Mini *miniredis.Miniredis
	// Client is a client of the database, closed when the test ends.
	Client *redis.Client
}

// Real reports whether the tests run on a real Redis server.
func Real() bool { return os.Getenv(EnvURL) != "" }

// New returns a Redis for the test: its own miniredis, or the package's
// database on the real server (see Main).
func New(tb testing.TB) *Server {
	tb.Helper()
	if os.Getenv(EnvURL) != "" {
		if claimed == nil {
			tb.Fatalf("redistest: %s is set but the package's TestMain does not call redistest.Main", EnvURL)
		}
		opt := *claimed
		c := redis.NewClient(&opt)
		tb.Cleanup(func() { _ = c.Close() })
		return &Server{URL: urlOf(&opt), Client: c}
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		tb.Fatalf("redistest: start miniredis: %v", err)
	}
	tb.Cleanup(mr.Close)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	tb.Cleanup(func() { _ = c.Close() })
	return &Server{URL: "redis://" + mr.Addr() + "/0", Mini: mr, Client: c}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Name returns a name unique to the test, for queues, streams and key
// prefixes: "<prefix>-<test name>".
func Name(tb testing.TB, prefix string) string {
	return prefix + "-" + unsafeChars.ReplaceAllString(tb.Name(), "_")
}

func claim(rawURL string) (release func(), err error) {
	base, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	ctl := redis.NewClient(base)
	ctx := context.Background()
	if err := ctl.Ping(ctx).Err(); err != nil {
		_ = ctl.Close()
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	token := strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	for db := 1; db <= lastTestDB; db++ {
		if db == base.DB {
			continue
		}
		key := "genwatch:redistest:claim:" + strconv.Itoa(db)
		ok, err := ctl.SetNX(ctx, key, token, claimTTL).Result()
		if err != nil {
			_ = ctl.Close()
			return nil, fmt.Errorf("claim a database: %w", err)
		}
		if !ok {
			continue
		}
		opt := *base
		opt.DB = db
		claimed = &opt
		flush := func() {
			c := redis.NewClient(&opt)
			defer c.Close()
			_ = c.FlushDB(ctx).Err()
		}
		flush()
		return func() {
			flush()
			if v, _ := ctl.Get(ctx, key).Result(); v == token {
				ctl.Del(ctx, key)
			}
			_ = ctl.Close()
		}, nil
	}
	_ = ctl.Close()
	return nil, fmt.Errorf("no free database among 1-%d on %s (each test package claims one)", lastTestDB, base.Addr)
}

func urlOf(o *redis.Options) string {
	u := url.URL{Scheme: "redis", Host: o.Addr, Path: "/" + strconv.Itoa(o.DB)}
	if o.TLSConfig != nil {
		u.Scheme = "rediss"
	}
	if o.Username != "" || o.Password != "" {
		u.User = url.UserPassword(o.Username, o.Password)
	}
	return u.String()
}
