package deploy_test

import (
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// rulesFile holds the alerting rules, for compose and Kubernetes alike.
var rulesFile = filepath.Join("prometheus", "genwatch.rules.yaml")

// prometheusMetrics are the series Prometheus makes itself, not a worker.
var prometheusMetrics = []string{"up"}

var promql = parser.NewParser(parser.Options{})

// loadRules parses a rules file with Prometheus's own parser, strictly: an
// unknown field, a bad expression or a bad template fails.
func loadRules(t *testing.T, path string) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile(path, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	require.Empty(t, errs, "%s does not parse", path)
	return groups
}

func TestAlertRulesParse(t *testing.T) {
	t.Parallel()
	groups := loadRules(t, rulesFile)
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "only alerting rules expected, got %+v", r)
			_, err := promql.ParseExpr(r.Expr)
			require.NoError(t, err, "alert %s", r.Alert)
			require.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], "alert %s needs a severity", r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], "alert %s needs a summary", r.Alert)
			alerts = append(alerts, r.Alert)
		}
	}
	// The situations an operator must hear about.
	for _, want := range []string{
		"GenwatchGenerationPastDeadline",
		"GenwatchProviderErrorRate",
		"GenwatchQueueLatencyHigh",
		"GenwatchWebhookDeliveriesFailing",
		"GenwatchNoWorkers",
	} {
		require.Contains(t, alerts, want)
	}
}

// TestAlertRulesUseExportedMetrics holds every selector of every alert to
// what a running worker exports: the metric's name, and the labels it
// matches on.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	exported := workerServes(t).metrics
	for _, g := range loadRules(t, rulesFile).Groups {
		for _, r := range g.Rules {
			for _, sel := range selectors(t, r.Expr) {
				requireExported(t, exported, sel, "alert "+r.Alert)
			}
		}
	}
}

// selector is a metric name and the label matchers of an expression.
type selector struct {
	metric   string
	matchers []*labels.Matcher
	equals   map[string]string
}

// selectors returns the vector selectors of a PromQL expression.
func selectors(t *testing.T, expr string) []selector {
	t.Helper()
	node, err := promql.ParseExpr(expr)
	require.NoError(t, err, expr)
	var out []selector
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		sel := selector{metric: vs.Name, equals: map[string]string{}}
		for _, m := range vs.LabelMatchers {
			switch {
			case m.Name == labels.MetricName:
				require.Equal(t, labels.MatchEqual, m.Type, "%s: select metrics by name", expr)
				sel.metric = m.Value
			default:
				sel.matchers = append(sel.matchers, m)
				if m.Type == labels.MatchEqual {
					sel.equals[m.Name] = m.Value
				}
			}
		}
		require.NotEmpty(t, sel.metric, "%s: a selector without a metric name", expr)
		out = append(out, sel)
		return nil
	})
	require.NotEmpty(t, out, "%s selects nothing", expr)
	return out
}

// siteLabels have values that depend on the deployment (the queue's
// name, the scrape job), not on what the worker does.
var siteLabels = []string{"queue", "job", "instance"}

// requireExported checks a selector against a running worker's metrics:
// the metric exists, has every label matched on, and, for labels whose
// values the worker decides, a matcher that selects something must match a
// value the worker exported.
func requireExported(t *testing.T, exported map[string]labelValues, sel selector, where string) {
	t.Helper()
	if slices.Contains(prometheusMetrics, sel.metric) {
		return
	}
	lv, ok := exported[sel.metric]
	require.True(t, ok, "%s uses %s, which the worker does not export", where, sel.metric)
	for _, m := range sel.matchers {
		values, ok := lv[m.Name]
		require.True(t, ok, "%s matches %s on label %q, which it does not have", where, sel.metric, m.Name)
		if slices.Contains(siteLabels, m.Name) || m.Type == labels.MatchNotEqual || m.Type == labels.MatchNotRegexp {
			continue
		}
		require.True(t, slices.ContainsFunc(slices.Collect(maps.Keys(values)), m.Matches),
			"%s selects %s{%s}, but the worker's values of %s are %v", where, sel.metric, m, m.Name, slices.Sorted(maps.Keys(values)))
	}
}

// rulesJob is the scrape job whose up series the rules watch: every scrape
// of the workers must use it.
func rulesJob(t *testing.T) string {
	t.Helper()
	jobs := map[string]bool{}
	for _, g := range loadRules(t, rulesFile).Groups {
		for _, r := range g.Rules {
			for _, sel := range selectors(t, r.Expr) {
				if sel.metric == "up" {
					require.NotEmpty(t, sel.equals["job"], "alert %s: up without a job", r.Alert)
					jobs[sel.equals["job"]] = true
				}
			}
		}
	}
	require.Len(t, jobs, 1, "the rules watch one job")
	for job := range jobs {
		return job
	}
	return ""
}
