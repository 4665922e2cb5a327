package deploy_test

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/genwatch/genwatch/worker"
)

var composeFile = filepath.Join("compose", "compose.yaml")

// httpShutdown bounds how long worker.Run waits for its HTTP servers to
// stop, after shutdown_timeout. A grace period must cover both.
const httpShutdown = 5 * time.Second

// loadCompose loads the compose file with the compose-spec loader, as
// docker compose does, every profile enabled and no variable set.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	abs, err := filepath.Abs(composeFile)
	require.NoError(t, err)
	content, err := os.ReadFile(abs)
	require.NoError(t, err)
	project, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs, Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("genwatch", true)
		o.Profiles = []string{"*"}
		o.ResolvePaths = true
	})
	require.NoError(t, err, "loading %s", composeFile)
	return project
}

// composeWorkers returns the services that run the image's default
// command, the worker.
func composeWorkers(t *testing.T, p *types.Project, img string) []types.ServiceConfig {
	t.Helper()
	var out []types.ServiceConfig
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	}) {
		s := p.Services[name]
		if s.Image == img && len(s.Entrypoint) == 0 {
			out = append(out, s)
		}
	}
	return out
}

// serviceConfig is the worker configuration a compose service runs with:
// the image's configuration file under the service's environment.
func serviceConfig(t *testing.T, s types.ServiceConfig, img image) worker.Config {
	t.Helper()
	env := map[string]string{}
	for k, v := range s.Environment {
		require.NotNil(t, v, "service %s: %s has no value", s.Name, k)
		env[k] = *v
	}
	path := filepath.Join(repoRoot, img.files[configPath(t, img.cmd)])
	cfg, err := worker.LoadConfig(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err, "service %s", s.Name)
	return cfg
}

func splitHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err, addr)
	return host, port
}

func TestComposeFleet(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	img := readImage(t)

	sim, ok := p.Services["simulator"]
	require.True(t, ok, "a simulator service")
	require.Equal(t, types.ShellCommand{binDir + "simulator"}, sim.Entrypoint)
	simHost, simPort := splitHostPort(t, sim.Command[indexOf(sim.Command, "--addr")+1])
	require.Equal(t, "0.0.0.0", simHost, "the simulator must listen beyond loopback")
	redis, ok := p.Services["redis"]
	require.True(t, ok, "a redis service")
	require.NotNil(t, redis.HealthCheck)
	require.Contains(t, strings.Join(redis.Command, " "), "--maxmemory-policy noeviction", "asynq needs noeviction")

	workers := composeWorkers(t, p, sim.Image)
	require.Len(t, workers, 2, "two workers")
	var targets []string
	for _, w := range workers {
		require.NotNil(t, w.Build, "%s builds the image", w.Name)
		cfg := serviceConfig(t, w, img)
		host, port := splitHostPort(t, cfg.HTTPAddr)
		require.Equal(t, "0.0.0.0", host, "%s: GENWATCH_HTTP_ADDR beyond loopback inside the container", w.Name)
		targets = append(targets, w.Name+":"+port)

		u, err := url.Parse(cfg.Redis.URL)
		require.NoError(t, err)
		require.Equal(t, "redis:6379", u.Host, "%s: Redis is the redis service", w.Name)
		require.Equal(t, types.ServiceConditionHealthy, w.DependsOn["redis"].Condition, "%s waits for Redis", w.Name)
		require.Contains(t, w.DependsOn, "simulator")

		for name, prov := range cfg.Providers {
			u, err := url.Parse(prov.BaseURL)
			require.NoError(t, err)
			require.Equal(t, "simulator:"+simPort, u.Host, "%s: provider %s is the simulator", w.Name, name)
			require.NotEmpty(t, prov.Accounts["default"].APIKey, "%s: provider %s has a key", w.Name, name)
		}

		apiHost, apiPort := splitHostPort(t, cfg.APIAddr)
		require.Equal(t, "0.0.0.0", apiHost, "%s: GENWATCH_API_ADDR beyond loopback inside the container", w.Name)
		require.NotEmpty(t, cfg.APITokens, "%s: the API accepts a token", w.Name)
		require.True(t, slices.ContainsFunc(w.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == parsePort(t, port) }),
			"%s publishes its HTTP port", w.Name)
		require.True(t, slices.ContainsFunc(w.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == parsePort(t, apiPort) }),
			"%s publishes its API port", w.Name)

		require.NotNil(t, w.StopGracePeriod)
		require.Greater(t, time.Duration(*w.StopGracePeriod), cfg.ShutdownTimeout+httpShutdown,
			"%s: stop_grace_period must let polls finish (shutdown_timeout) and the HTTP servers stop", w.Name)
	}

	// Published ports are on loopback only: the dashboard can delete tasks.
	for _, s := range p.Services {
		for _, pc := range s.Ports {
			require.Equal(t, "127.0.0.1", pc.HostIP, "%s publishes %s beyond loopback", s.Name, pc.Published)
		}
	}

	// The command services run commands the image holds.
	for _, s := range p.Services {
		if len(s.Entrypoint) > 0 && s.Image == sim.Image {
			require.True(t, img.commands[strings.TrimPrefix(s.Entrypoint[0], binDir)], "%s runs %s, which the image lacks", s.Name, s.Entrypoint[0])
		}
	}

	checkComposePrometheus(t, p, targets)
}

// checkComposePrometheus checks that Prometheus loads the rules file the
// tests parse and scrapes exactly the workers, under the job the rules name.
func checkComposePrometheus(t *testing.T, p *types.Project, targets []string) {
	t.Helper()
	prom, ok := p.Services["prometheus"]
	require.True(t, ok, "a prometheus service")
	mounts := map[string]string{} // target → source
	for _, v := range prom.Volumes {
		require.Equal(t, types.VolumeTypeBind, v.Type)
		require.True(t, v.ReadOnly, "%s is mounted read-only", v.Source)
		mounts[v.Target] = v.Source
	}
	configFile := prom.Command[slices.IndexFunc(prom.Command, func(a string) bool { return strings.HasPrefix(a, "--config.file=") })]
	configFile = strings.TrimPrefix(configFile, "--config.file=")
	src, ok := mounts[configFile]
	require.True(t, ok, "Prometheus's %s is not mounted", configFile)

	var cfg struct {
		Global        map[string]string `yaml:"global"`
		RuleFiles     []string          `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	f, err := os.Open(src)
	require.NoError(t, err)
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg), src)

	wantRules, err := filepath.Abs(rulesFile)
	require.NoError(t, err)
	require.Len(t, cfg.RuleFiles, 1)
	require.Equal(t, wantRules, mounts[cfg.RuleFiles[0]], "Prometheus loads the rules file the tests check")

	require.Len(t, cfg.ScrapeConfigs, 1)
	sc := cfg.ScrapeConfigs[0]
	require.Equal(t, rulesJob(t), sc.JobName, "the job the rules expect")
	require.Equal(t, "/metrics", sc.MetricsPath)
	var got []string
	for _, s := range sc.StaticConfigs {
		got = append(got, s.Targets...)
	}
	require.ElementsMatch(t, targets, got, "Prometheus scrapes every worker's HTTP port")
}

func parsePort(t *testing.T, port string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(port, 10, 16)
	require.NoError(t, err, port)
	return uint32(n)
}
