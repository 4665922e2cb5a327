package worker_test

// These tests stop and start Redis, or serve it over TLS with an ACL user,
// so they always run on a server of their own (a redis-server process, or
// an embedded miniredis), also when GENWATCH_TEST_REDIS_URL names one.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/config"
	"github.com/genwatch/genwatch/internal/cli/clitest"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/internal/simulator"
	"github.com/genwatch/genwatch/worker"
)

// serverE2E is setupE2E on a Redis the test controls, reached through cfg.
func serverE2E(t *testing.T, cfg config.Redis) *e2e {
	t.Helper()
	opt, err := cfg.Options()
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	e := &e2e{clitest.NewOn(t, &redistest.Server{URL: cfg.URL, Client: rdb}, genwatch.DefaultQueue)}
	cfg.WaitTimeout = e.Config.Redis.WaitTimeout // the default
	e.Config.Redis = cfg
	return e
}

func TestRedisDownAtStartAndMidRun(t *testing.T) {
	t.Parallel()
	// A real redis-server of the test's own, with an append-only file, so
	// that it can be stopped and started with its data (miniredis cannot
	// serve blocking reads after a restart).
	port := freePort(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	e := serverE2E(t, config.Redis{URL: "redis://" + addr + "/0"})
	for i := range 6 {
		e.Sim.Create(genwatch.Providers()[i%3], fmt.Sprintf("r%d", i), simulator.Plan{PendingFor: time.Second, RunFor: 2 * time.Second})
	}
	core, logs := observer.New(zap.InfoLevel)
	w := e.start(t, worker.Options{Logger: zap.New(core)})
	base := "http://" + w.Addr().String()
	readyz := func() int {
		resp, err := http.Get(base + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusServiceUnavailable, readyz(), "not ready without Redis")

	stop := startRedis(t, port, dir)
	require.Eventually(t, func() bool { return readyz() == http.StatusOK }, waitFor, 20*time.Millisecond)
	for i := range 6 {
		e.track(t, genwatch.Request{Provider: genwatch.Providers()[i%3], GenerationID: fmt.Sprintf("r%d", i)})
	}
	// Lose Redis while the generations are being polled, then bring it back
	// with its data.
	require.Eventually(t, func() bool { return e.Sim.TotalRequests() >= 6 }, waitFor, 10*time.Millisecond)
	stop()
	require.Eventually(t, func() bool { return readyz() == http.StatusServiceUnavailable }, waitFor, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return logs.FilterMessage("redis is unreachable; polls wait until it is back").Len() > 0
	}, waitFor, 20*time.Millisecond, "a clear log says Redis is gone")
	startRedis(t, port, dir)

	// A poll whose acknowledgement was lost with Redis keeps its task
	// active until asynq's recoverer takes it back: its lease must have
	// been expired for 30 s, and the recoverer looks once a minute.
	events := e.waitEventsWithin(t, 6, 3*time.Minute)
	require.Len(t, byGeneration(events), 6, "every generation ends")
	require.Len(t, e.events(t), 6, "and only once")
	require.Eventually(t, func() bool {
		return logs.FilterMessage("redis is reachable again").Len() > 0
	}, waitFor, 20*time.Millisecond)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis runs redis-server on port with an fsync-always append-only
// file in dir, and returns a function that kills it.
func startRedis(t *testing.T, port int, dir string) (stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	require.NoError(t, err, "this test needs redis-server: apt-get install redis-server")
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", dir)
	require.NoError(t, cmd.Start())
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer c.Close()
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, waitFor, 10*time.Millisecond)
	return stop
}

func TestRedisOverTLSWithACLUser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverTLS, caFile := selfSigned(t, dir)
	mr, err := miniredis.RunTLS(serverTLS)
	require.NoError(t, err)
	t.Cleanup(mr.Close)
	mr.RequireUserAuth("genwatch", "p@ss word")

	e := serverE2E(t, config.Redis{URL: "rediss://genwatch:p%40ss%20word@" + mr.Addr() + "/0", TLSCAFile: caFile})

	e.Sim.Create(genwatch.ProviderHoox, "tls-1", simulator.Plan{})
	// The worker dials Redis itself from the configuration.
	w, err := worker.New(e.Config, worker.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	e.track(t, genwatch.Request{Provider: genwatch.ProviderHoox, GenerationID: "tls-1"})
	require.Equal(t, genwatch.StatusCompleted, e.waitEvents(t, 1)[0].Status)

	// Without the CA the server is not trusted; with a wrong password the
	// ACL refuses.
	e.Config.Redis.TLSCAFile = ""
	opt, err := e.Config.Redis.Options()
	require.NoError(t, err)
	require.Error(t, redis.NewClient(opt).Ping(context.Background()).Err())
	e.Config.Redis.TLSCAFile = caFile
	e.Config.Redis.URL = "rediss://genwatch:wrong@" + mr.Addr() + "/0"
	opt, err = e.Config.Redis.Options()
	require.NoError(t, err)
	require.ErrorContains(t, redis.NewClient(opt).Ping(context.Background()).Err(), "WRONGPASS")
}

// selfSigned makes a CA-less self-signed certificate for 127.0.0.1 and
// returns the server's TLS config and the PEM file clients should trust.
func selfSigned(t *testing.T, dir string) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "genwatch test redis"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, certPEM, 0o600))
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, caFile
}
