package deploy_test

import (
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	promlabels "github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/redistest"
	"github.com/genwatch/genwatch/worker"
)

var update = flag.Bool("update", false, "rewrite the PrometheusRule from the rules file")

const (
	kustomizeBase    = "kubernetes/base"
	kustomizeOverlay = "kubernetes/overlays/example"
	prometheusRule   = "kubernetes/components/prometheus/prometheusrule.yaml"
	// secretName is the Secret the workers' credentials come from.
	secretName = "genwatch"
)

// secretValues stand in for the Secret's keys when a test loads the
// configuration a pod would see. A key the manifests use must be here, and
// documented in docs/deploy.md.
var secretValues = map[string]string{
	"redis-url":        "redis://:pw@redis:6379/0",
	"redis-password":   "pw",
	"hoox-api-key":     "hoox-key",
	"hooked-api-key":   "hooked-key",
	"token360-api-key": "token360-key",
	"api-tokens":       "placeholder-token-a,placeholder-token-b",
	"hooks-token":      "placeholder-hooks-token",
	"webhook-secret":   "whsec_" + base64.StdEncoding.EncodeToString([]byte("signing secret")),
}

// scaledObject is KEDA's keda.sh/v1alpha1 ScaledObject, the fields used here.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion,omitempty"`
			Kind       string `json:"kind,omitempty"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []struct {
			Type              string            `json:"type"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
			} `json:"authenticationRef,omitempty"`
		} `json:"triggers"`
	} `json:"spec"`
}

// triggerAuthentication is KEDA's TriggerAuthentication, the fields used here.
type triggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef"`
	} `json:"spec"`
}

// podMonitor is the Prometheus Operator's PodMonitor, the fields used here.
type podMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel            string               `json:"jobLabel"`
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// prometheusRuleObject is the Prometheus Operator's PrometheusRule; its
// groups are checked by Prometheus's own rule parser.
type prometheusRuleObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []any `json:"groups"`
	} `json:"spec"`
}

// objectTypes maps apiVersion and kind to the Go type an object must decode
// into, strictly. A kind not listed here fails the build check.
var objectTypes = map[string]func() any{
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"keda.sh/v1alpha1/ScaledObject":          func() any { return &scaledObject{} },
	"keda.sh/v1alpha1/TriggerAuthentication": func() any { return &triggerAuthentication{} },
	"monitoring.coreos.com/v1/PodMonitor":    func() any { return &podMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any {
		return &prometheusRuleObject{}
	},
}

// objects is a kustomize build, decoded: each object by kind and name.
type objects map[string]map[string]any

func (o objects) one(t *testing.T, kind string) any {
	t.Helper()
	require.Len(t, o[kind], 1, "one %s", kind)
	for _, obj := range o[kind] {
		return obj
	}
	return nil
}

// build runs kustomize on dir, as `kubectl apply -k` would, and decodes every
// object strictly into its Kubernetes Go type: an unknown or misspelt field
// fails.
func build(t *testing.T, dir string) objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err, "kustomize build %s", dir)
	out := objects{}
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		require.NoError(t, err)
		key := r.GetApiVersion() + "/" + r.GetKind()
		newObj, ok := objectTypes[key]
		require.True(t, ok, "%s: unexpected %s %s", dir, key, r.GetName())
		obj := newObj()
		require.NoError(t, yaml.UnmarshalStrict(y, obj), "%s: %s %s", dir, key, r.GetName())
		if out[r.GetKind()] == nil {
			out[r.GetKind()] = map[string]any{}
		}
		out[r.GetKind()][r.GetName()] = obj
	}
	return out
}

// podConfig loads the worker configuration a pod of d would run with: the
// ConfigMap file it mounts, under its environment, secrets filled in.
func podConfig(t *testing.T, objs objects, d *appsv1.Deployment) worker.Config {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	file := configPath(t, c.Args)

	var cmName string
	for _, m := range c.VolumeMounts {
		if m.MountPath == path.Dir(file) {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil {
					cmName = v.ConfigMap.Name
				}
			}
		}
	}
	require.NotEmpty(t, cmName, "%s is not mounted from a ConfigMap", file)
	cm, ok := objs["ConfigMap"][cmName].(*corev1.ConfigMap)
	require.True(t, ok, "the mounted ConfigMap %s is not in the build", cmName)
	content, ok := cm.Data[path.Base(file)]
	require.True(t, ok, "ConfigMap %s has no %s", cmName, path.Base(file))
	local := filepath.Join(t.TempDir(), path.Base(file))
	require.NoError(t, os.WriteFile(local, []byte(content), 0o600))

	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			require.Equal(t, secretName, ref.Name, "%s", e.Name)
			v, ok := secretValues[ref.Key]
			require.True(t, ok, "%s comes from Secret key %q, which the tests and docs do not know", e.Name, ref.Key)
			env[e.Name] = v
		default:
			t.Fatalf("%s: only literal values and secretKeyRef expected", e.Name)
		}
	}
	cfg, err := worker.LoadConfig(local, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err, "the pod's configuration")
	return cfg
}

// containerPort resolves a probe's or a Service's port, by name or number.
func containerPort(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, p.StrVal)
	return 0
}

func requireSelects(t *testing.T, sel *metav1.LabelSelector, pod map[string]string, what string) {
	t.Helper()
	require.NotNil(t, sel, what)
	s, err := metav1.LabelSelectorAsSelector(sel)
	require.NoError(t, err, what)
	require.False(t, s.Empty(), "%s selects everything", what)
	require.True(t, s.Matches(labels.Set(pod)), "%s does not select the worker pods", what)
}

// checkWorkload holds a build's workload to what the worker does: probes on
// the paths and port it serves, a grace period longer than its shutdown, a
// Service on its API port, and secrets by reference only.
func checkWorkload(t *testing.T, objs objects) (*appsv1.Deployment, worker.Config) {
	t.Helper()
	d := objs.one(t, "Deployment").(*appsv1.Deployment)
	pod := d.Spec.Template
	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	cfg := podConfig(t, objs, d)
	served := workerServes(t)

	_, httpPort := splitHostPort(t, cfg.HTTPAddr)
	for _, probe := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		require.NotNil(t, probe.probe, probe.name)
		get := probe.probe.HTTPGet
		require.NotNil(t, get, "%s probe over HTTP", probe.name)
		require.Equal(t, probe.path, get.Path, "%s probe path", probe.name)
		require.Equal(t, httpPort, fmt.Sprint(containerPort(t, c, get.Port)), "%s probe port is the worker's http_addr", probe.name)
		require.Equal(t, 200, served.probes[get.Path], "a running worker answers %s", get.Path)
	}
	require.Equal(t, "0.0.0.0", strings.Split(cfg.HTTPAddr, ":")[0], "the kubelet must reach the probes")

	// SIGTERM → preStop pause, then shutdown_timeout for in-flight polls,
	// then the HTTP servers; SIGKILL only after the grace period.
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		require.NotNil(t, c.Lifecycle.PreStop.Sleep, "the image has no shell: preStop can only sleep")
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	require.NotNil(t, pod.Spec.TerminationGracePeriodSeconds)
	grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	require.Greater(t, grace, preStop+cfg.ShutdownTimeout+httpShutdown,
		"terminationGracePeriodSeconds must cover preStop, shutdown_timeout (%s) and the HTTP shutdown", cfg.ShutdownTimeout)

	// The API Service reaches the port GENWATCH_API_ADDR listens on.
	require.True(t, cfg.APIEnabled(), "the worker serves the API")
	_, apiPort := splitHostPort(t, cfg.APIAddr)
	svc := objs.one(t, "Service").(*corev1.Service)
	require.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)), "the Service selects the workers")
	require.Len(t, svc.Spec.Ports, 1, "the API only: the dashboard can delete tasks")
	require.Equal(t, apiPort, fmt.Sprint(containerPort(t, c, svc.Spec.Ports[0].TargetPort)))

	pdb := objs.one(t, "PodDisruptionBudget").(*policyv1.PodDisruptionBudget)
	requireSelects(t, pdb.Spec.Selector, pod.Labels, "the PodDisruptionBudget")
	require.True(t, pdb.Spec.MaxUnavailable != nil || pdb.Spec.MinAvailable != nil)
	requireSelects(t, d.Spec.Selector, pod.Labels, "the Deployment")

	// Runs as the image's non-root user, with nothing to escalate to.
	psc := pod.Spec.SecurityContext
	require.NotNil(t, psc)
	require.True(t, psc.RunAsNonRoot != nil && *psc.RunAsNonRoot, "runAsNonRoot")
	require.True(t, psc.RunAsUser != nil && *psc.RunAsUser != 0)
	csc := c.SecurityContext
	require.NotNil(t, csc)
	require.True(t, csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation, "allowPrivilegeEscalation: false")
	require.True(t, csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem, "readOnlyRootFilesystem")
	require.Contains(t, csc.Capabilities.Drop, corev1.Capability("ALL"))

	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		q := c.Resources.Requests[r]
		require.False(t, q.IsZero(), "a %s request", r)
	}
	limit := c.Resources.Limits[corev1.ResourceMemory]
	require.False(t, limit.IsZero(), "a memory limit")

	sa := pod.Spec.ServiceAccountName
	require.Contains(t, objs["ServiceAccount"], sa)

	// Secrets are referenced, never shipped.
	require.Empty(t, objs["Secret"], "no Secret in the manifests")
	docs, err := os.ReadFile(filepath.Join(repoRoot, "docs", "deploy.md"))
	require.NoError(t, err)
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			require.Contains(t, string(docs), "`"+e.ValueFrom.SecretKeyRef.Key+"`", "docs/deploy.md lists the Secret key of %s", e.Name)
		}
		require.False(t, strings.HasSuffix(e.Name, "_API_KEY") && e.Value != "", "%s is a literal", e.Name)
	}
	return d, cfg
}

func TestKustomizeBase(t *testing.T) {
	t.Parallel()
	objs := build(t, kustomizeBase)
	d, _ := checkWorkload(t, objs)
	require.NotNil(t, d.Spec.Replicas, "without an autoscaler the base runs a fixed number of workers")
	require.Greater(t, *d.Spec.Replicas, int32(1), "more than one worker, so that a drain keeps one")
	require.Empty(t, objs["ScaledObject"], "KEDA is a component, so that the base applies without its CRDs")
}

func TestKustomizeOverlay(t *testing.T) {
	t.Parallel()
	objs := build(t, kustomizeOverlay)
	d, cfg := checkWorkload(t, objs)
	require.Equal(t, "registry.example.com/genwatch:1.0.0", d.Spec.Template.Spec.Containers[0].Image)
	require.Nil(t, d.Spec.Replicas, "the ScaledObject owns the replica count")
	for kind, byName := range objs {
		for name, obj := range byName {
			meta, ok := obj.(metav1.Object)
			require.True(t, ok, "%T has metadata", obj)
			require.Equal(t, "genwatch", meta.GetNamespace(), "%s %s", kind, name)
		}
	}

	checkScaledObject(t, objs, d, cfg)
	checkPodMonitor(t, objs, d)
	checkPrometheusRule(t, objs)
}

// checkScaledObject holds the KEDA triggers to the queue the workers read:
// the redis trigger watches that queue's pending list (due polls not yet
// taken), never the retry set, and the prometheus trigger asks for a metric
// the workers export.
func checkScaledObject(t *testing.T, objs objects, d *appsv1.Deployment, cfg worker.Config) {
	t.Helper()
	so := objs.one(t, "ScaledObject").(*scaledObject)
	require.Equal(t, "keda.sh/v1alpha1", so.APIVersion)
	require.Equal(t, d.Name, so.Spec.ScaleTargetRef.Name, "scales the worker Deployment")
	require.NotNil(t, so.Spec.MinReplicaCount)
	require.GreaterOrEqual(t, *so.Spec.MinReplicaCount, int32(1), "never to zero: waiting generations need a worker to move them")
	require.NotNil(t, so.Spec.MaxReplicaCount)
	require.Greater(t, *so.Spec.MaxReplicaCount, *so.Spec.MinReplicaCount)

	types := map[string]int{}
	metrics := map[string]bool{}
	for _, tr := range so.Spec.Triggers {
		types[tr.Type]++
		switch tr.Type {
		case "redis":
			list := tr.Metadata["listName"]
			requirePendingList(t, list, cfg.Queue)
			require.NotEmpty(t, tr.Metadata["listLength"])
			require.NotEmpty(t, tr.Metadata["address"])
			require.NotNil(t, tr.AuthenticationRef)
			ta, ok := objs["TriggerAuthentication"][tr.AuthenticationRef.Name].(*triggerAuthentication)
			require.True(t, ok, "the redis trigger's TriggerAuthentication %s", tr.AuthenticationRef.Name)
			for _, ref := range ta.Spec.SecretTargetRef {
				require.Equal(t, secretName, ref.Name)
				require.Contains(t, secretValues, ref.Key)
			}
		case "prometheus":
			query := tr.Metadata["query"]
			sels := selectors(t, query)
			exported := workerServes(t).metrics
			for _, sel := range sels {
				requireExported(t, exported, sel, "the prometheus trigger")
				requireEveryShard(t, sel, cfg.Queue)
				metrics[sel.metric] = true
			}
			require.NotEmpty(t, tr.Metadata["threshold"])
			require.NotEmpty(t, tr.Metadata["serverAddress"])
		default:
			t.Fatalf("unexpected trigger %s", tr.Type)
		}
	}
	require.Equal(t, map[string]int{"redis": 1, "prometheus": 2}, types)
	require.Equal(t, map[string]bool{"asynq_queue_latency_seconds": true, "asynq_tasks_enqueued_total": true}, metrics,
		"the due polls of every shard, and how long they waited")
}

// requireEveryShard checks that a selector's queue matcher selects the
// queue and each of its shards' queues, and no other queue.
func requireEveryShard(t *testing.T, sel selector, queue string) {
	t.Helper()
	i := slices.IndexFunc(sel.matchers, func(x *promlabels.Matcher) bool { return x.Name == "queue" })
	require.GreaterOrEqual(t, i, 0, "%s selects no queue", sel.metric)
	m := sel.matchers[i]
	for _, q := range []string{queue, genwatch.ShardName(queue, 0, 4), genwatch.ShardName(queue, 3, 4), genwatch.ShardName(queue, 11, 16)} {
		require.True(t, m.Matches(q), "%s{%s} misses queue %s", sel.metric, m, q)
	}
	for _, q := range []string{queue + "-deliveries", "other", queue + "x"} {
		require.False(t, m.Matches(q), "%s{%s} takes in queue %s", sel.metric, m, q)
	}
}

// requirePendingList checks that list is where asynq keeps the due tasks
// of queue: a task enqueued on the queue appears in it.
func requirePendingList(t *testing.T, list, queue string) {
	t.Helper()
	require.NotContains(t, list, ":retry", "the retry set holds every waiting generation, not the backlog")
	srv := redistest.New(t)
	q := redistest.Name(t, queue)
	// The trigger's list for queue, with this test's queue name put in.
	key := strings.Replace(list, "{"+queue+"}", "{"+q+"}", 1)
	require.NotEqual(t, list, key, "listName %s does not name queue %s", list, queue)
	require.NoError(t, srv.Client.Del(t.Context(), key).Err(), "a list left by an earlier run")

	client := asynq.NewClientFromRedisClient(srv.Client)
	t.Cleanup(func() { _ = client.Close() })
	info, err := client.Enqueue(asynq.NewTask(genwatch.TaskTypePoll, []byte(`{}`)), asynq.Queue(q))
	require.NoError(t, err)
	ids, err := srv.Client.LRange(t.Context(), key, 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []string{info.ID}, ids, "asynq keeps a due task of queue %s in %s", queue, list)
}

func checkPodMonitor(t *testing.T, objs objects, d *appsv1.Deployment) {
	t.Helper()
	pm := objs.one(t, "PodMonitor").(*podMonitor)
	pod := d.Spec.Template
	requireSelects(t, &pm.Spec.Selector, pod.Labels, "the PodMonitor")
	require.Equal(t, rulesJob(t), pod.Labels[pm.Spec.JobLabel], "the PodMonitor's job is the one the rules watch")
	require.Len(t, pm.Spec.PodMetricsEndpoints, 1)
	ep := pm.Spec.PodMetricsEndpoints[0]
	require.Equal(t, "/metrics", ep.Path)
	c := pod.Spec.Containers[0]
	require.Equal(t, c.LivenessProbe.HTTPGet.Port.StrVal, ep.Port, "scrapes the port that serves /metrics")
}

// checkPrometheusRule checks that the PrometheusRule holds exactly the rules
// of the rules file, which Prometheus's parser checks.
func checkPrometheusRule(t *testing.T, objs objects) {
	t.Helper()
	pr := objs.one(t, "PrometheusRule").(*prometheusRuleObject)
	groups, err := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(f, groups, 0o600))
	require.Equal(t, loadRules(t, rulesFile), loadRules(t, f))
}

// TestPrometheusRuleMatchesRulesFile keeps the PrometheusRule a copy of the
// rules file (go test -run PrometheusRule -update rewrites it).
func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile(rulesFile)
	require.NoError(t, err)
	i := strings.Index(string(rules), "\ngroups:")
	require.Positive(t, i, "the rules file starts its groups with a top-level groups:")
	var b strings.Builder
	b.WriteString("# Generated from deploy/prometheus/genwatch.rules.yaml by\n")
	b.WriteString("# `go test -run PrometheusRule -update` in deploy/; edit that file instead.\n")
	b.WriteString("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: genwatch\nspec:\n")
	for _, line := range strings.SplitAfter(string(rules[i+1:]), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("  ")
		}
		b.WriteString(line)
	}
	if *update {
		require.NoError(t, os.WriteFile(prometheusRule, []byte(b.String()), 0o644))
	}
	got, err := os.ReadFile(prometheusRule)
	require.NoError(t, err)
	require.Equal(t, b.String(), string(got), "%s is stale: run go test -run PrometheusRule -update in deploy/", prometheusRule)
}
