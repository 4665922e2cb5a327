// Package redisproc runs real redis-server processes on loopback ports it
// chooses, for the tests and the benchmark that need more than one server:
// a primary with replicas watched by Redis Sentinel, or a Redis Cluster.
//
// A Fleet owns every process it starts and stops them all on Close; a
// test calls Close from t.Cleanup, so nothing outlives it. Servers keep no
// data on disk beyond the fleet's directory and save no snapshots.
package redisproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoRedisServer is returned when redis-server is not on PATH.
var ErrNoRedisServer = errors.New("redis-server is not installed (apt-get install redis-server)")

// Available reports whether redis-server and redis-cli are on PATH.
func Available() bool {
	_, errS := exec.LookPath("redis-server")
	_, errC := exec.LookPath("redis-cli")
	return errS == nil && errC == nil
}

// Fleet is a set of redis-server processes.
type Fleet struct {
	dir string

	mu    sync.Mutex
	procs []*Server
}

// New returns a fleet whose servers keep their files under dir.
func New(dir string) *Fleet { return &Fleet{dir: dir} }

// ForTest returns a fleet in the test's temporary directory, closed when
// the test ends. A missing redis-server fails the test: skipping would let
// a run pass without ever failing a primary over (make test installs it).
func ForTest(tb testing.TB) *Fleet {
	tb.Helper()
	if !Available() {
		tb.Fatal(ErrNoRedisServer, "; make test installs it when run as root")
	}
	f := New(tb.TempDir())
	tb.Cleanup(f.Close)
	return f
}

// Server is one redis-server process.
type Server struct {
	// Addr is its loopback address, host:port.
	Addr string
	// Port is its port.
	Port int

	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// Kill stops the server at once (SIGKILL), as a crash would; it is safe to
// call more than once.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// Client returns a client of the server alone.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
}

// Close kills every server of the fleet.
func (f *Fleet) Close() {
	f.mu.Lock()
	procs := f.procs
	f.procs = nil
	f.mu.Unlock()
	for _, s := range procs {
		s.Kill()
	}
}

// Start runs redis-server with the given extra configuration lines
// ("directive value ...") on a free port, and waits until it answers.
func (f *Fleet) Start(ctx context.Context, lines ...string) (*Server, error) {
	return f.start(ctx, false, lines...)
}

func (f *Fleet) start(ctx context.Context, sentinel bool, lines ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoRedisServer
	}
	port, err := freePort(sentinel)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(f.dir, strconv.Itoa(port))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	var conf bytes.Buffer
	fmt.Fprintf(&conf, "port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\nappendonly no\nprotected-mode no\n", port, dir)
	if !sentinel {
		// Start a replica's full sync at once, not after 5 s.
		conf.WriteString("repl-diskless-sync-delay 0\n")
	}
	for _, l := range lines {
		conf.WriteString(l + "\n")
	}
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	args := []string{confPath}
	if sentinel {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, fmt.Errorf("redisproc: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("redisproc: start redis-server: %w", err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(s.done)
	}()
	f.mu.Lock()
	f.procs = append(f.procs, s)
	f.mu.Unlock()

	c := s.Client()
	defer c.Close()
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			return nil, fmt.Errorf("redisproc: redis-server on port %d exited: %s", port, lastLines(log, 5))
		case <-ctx.Done():
			return nil, fmt.Errorf("redisproc: redis-server on port %d: %w", port, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Sentinel is a primary, its replicas and the sentinels that watch them.
type Sentinel struct {
	// MasterName is the name the sentinels know the primary by.
	MasterName string
	Primary    *Server
	Replicas   []*Server
	Sentinels  []*Server
}

// URL is go-redis's failover URL of the set: every sentinel and the
// primary's name.
func (s *Sentinel) URL() string {
	u := "redis://" + s.Sentinels[0].Addr + "?master_name=" + s.MasterName
	for _, sn := range s.Sentinels[1:] {
		u += "&addr=" + sn.Addr
	}
	return u
}

// StartSentinel runs a primary, replicas replicas of it and sentinels
// sentinels with a quorum of a majority, tuned to notice a dead primary
// within a second, and waits until every sentinel knows every replica.
func (f *Fleet) StartSentinel(ctx context.Context, replicas, sentinels int) (*Sentinel, error) {
	set := &Sentinel{MasterName: "genwatch-primary"}
	var err error
	if set.Primary, err = f.Start(ctx); err != nil {
		return nil, err
	}
	for range replicas {
		r, err := f.Start(ctx, "replicaof 127.0.0.1 "+strconv.Itoa(set.Primary.Port))
		if err != nil {
			return nil, err
		}
		set.Replicas = append(set.Replicas, r)
		rc := r.Client()
		err = waitFor(ctx, func() bool {
			info, err := rc.Info(ctx, "replication").Result()
			return err == nil && strings.Contains(info, "master_link_status:up")
		})
		_ = rc.Close()
		if err != nil {
			return nil, fmt.Errorf("redisproc: replica %s never synced: %w", r.Addr, err)
		}
	}
	quorum := sentinels/2 + 1
	for range sentinels {
		sn, err := f.start(ctx, true,
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", set.MasterName, set.Primary.Port, quorum),
			"sentinel down-after-milliseconds "+set.MasterName+" 1000",
			"sentinel failover-timeout "+set.MasterName+" 10000",
			"sentinel parallel-syncs "+set.MasterName+" 1",
		)
		if err != nil {
			return nil, err
		}
		set.Sentinels = append(set.Sentinels, sn)
	}
	for _, sn := range set.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr})
		err := waitFor(ctx, func() bool {
			r, err := sc.Replicas(ctx, set.MasterName).Result()
			return err == nil && len(r) == replicas
		})
		_ = sc.Close()
		if err != nil {
			return nil, fmt.Errorf("redisproc: sentinel %s never saw the replicas: %w", sn.Addr, err)
		}
	}
	return set, nil
}

// Failover asks a sentinel to fail the primary over to a replica now, and
// returns the new primary's address once every sentinel reports it.
func (s *Sentinel) Failover(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr})
	defer sc.Close()
	old := s.Primary.Addr
	if err := waitFor(ctx, func() bool { return sc.Failover(ctx, s.MasterName).Err() == nil }); err != nil {
		return "", fmt.Errorf("redisproc: SENTINEL FAILOVER: %w", err)
	}
	var addr string
	err := waitFor(ctx, func() bool {
		for _, sn := range s.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr})
			got, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
			_ = c.Close()
			if err != nil || len(got) != 2 {
				return false
			}
			addr = net.JoinHostPort(got[0], got[1])
			if addr == old {
				return false
			}
		}
		return true
	})
	return addr, err
}

// Cluster is a Redis Cluster.
type Cluster struct {
	Primaries []*Server
	Replicas  []*Server
}

// URL is go-redis's cluster URL of the cluster: every primary.
func (c *Cluster) URL() string {
	u := "redis://" + c.Primaries[0].Addr
	for i, p := range c.Primaries[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + p.Addr
	}
	return u
}

// StartCluster runs primaries primary nodes with replicasPer replicas each,
// joins them into a cluster with redis-cli --cluster create, and waits
// until every node reports the cluster ok. A node is considered failed
// after a second without answers.
func (f *Fleet) StartCluster(ctx context.Context, primaries, replicasPer int) (*Cluster, error) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, ErrNoRedisServer
	}
	var nodes []*Server
	for range primaries * (1 + replicasPer) {
		n, err := f.start(ctx, false, "cluster-enabled yes", "cluster-node-timeout 1000",
			"cluster-config-file nodes.conf", "cluster-replica-validity-factor 0")
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if primaries >= 3 {
		args := []string{"--cluster", "create"}
		for _, n := range nodes {
			args = append(args, n.Addr)
		}
		args = append(args, "--cluster-replicas", strconv.Itoa(replicasPer), "--cluster-yes")
		if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("redisproc: redis-cli --cluster create: %w: %s", err, lastLines(out, 5))
		}
	} else if err := assignSlots(ctx, nodes, replicasPer); err != nil {
		// redis-cli wants three primaries at least.
		return nil, err
	}
	c := &Cluster{}
	for _, n := range nodes {
		cc := n.Client()
		err := waitFor(ctx, func() bool {
			info, err := cc.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
		role, rerr := cc.Do(ctx, "ROLE").Slice()
		_ = cc.Close()
		if err != nil {
			return nil, fmt.Errorf("redisproc: node %s never reported the cluster ok: %w", n.Addr, err)
		}
		if rerr == nil && len(role) > 0 && role[0] == "master" {
			c.Primaries = append(c.Primaries, n)
		} else {
			c.Replicas = append(c.Replicas, n)
		}
	}
	if len(c.Primaries) != primaries {
		return nil, fmt.Errorf("redisproc: want %d primaries, the cluster has %d", primaries, len(c.Primaries))
	}
	return c, nil
}

// assignSlots builds a cluster of fewer than three primaries by hand: the
// nodes meet, and the slots are split evenly between them.
func assignSlots(ctx context.Context, nodes []*Server, replicasPer int) error {
	if replicasPer > 0 {
		return fmt.Errorf("redisproc: replicas need three primaries at least")
	}
	const slots = 16384
	for i, n := range nodes {
		c := n.Client()
		lo, hi := i*slots/len(nodes), (i+1)*slots/len(nodes)-1
		err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err()
		if err == nil && i > 0 {
			err = c.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(nodes[0].Port)).Err()
		}
		_ = c.Close()
		if err != nil {
			return fmt.Errorf("redisproc: cluster slots of %s: %w", n.Addr, err)
		}
	}
	return nil
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// freePort returns a loopback port that is free now. A cluster node also
// listens on port+10000 for its bus, so ports are chosen below 55536 with
// both free; a sentinel needs only its own.
func freePort(sentinel bool) (int, error) {
	for range 200 {
		port := 20000 + rand.IntN(30000)
		if !free(port) || (!sentinel && !free(port+10000)) {
			continue
		}
		return port, nil
	}
	return 0, fmt.Errorf("redisproc: no free port pair found")
}

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
