package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/genwatch/genwatch"
	"github.com/genwatch/genwatch/internal/workload"
)

// summarize turns a round's events into one result per policy and
// workload, with the fixed loops computed exactly from the same ends.
func summarize(round string, kinds []workload.Kind, byKind map[workload.Kind]workload.Workload, all []*tracked, events map[string]genwatch.Event) []Result {
	var out []Result
	for _, k := range kinds {
		w := byKind[k]
		r := workload.Replayer{}
		fixed5 := r.Run(w, workload.Policy{Name: "fixed-5s", Every: 5 * time.Second})
		fixed2 := r.Run(w, workload.Policy{Name: "fixed-2s", Every: 2 * time.Second})
		for _, f := range []workload.Result{fixed5, fixed2} {
			out = append(out, resultOf(f.Policy, string(k), round, f.Calls, f.Lags, 0, fixed5.Calls))
		}
		for _, name := range armsOf(k) {
			var (
				calls, missing int
				lags           []time.Duration
			)
			for _, tr := range all {
				if tr.arm != name || tr.kind != string(k) {
					continue
				}
				e, ok := events[tr.taskID]
				if !ok || e.Status != genwatch.StatusCompleted {
					missing++
					continue
				}
				calls += e.Polls
				lags = append(lags, e.DetectedAt.Sub(tr.enqueued.Add(tr.gen.End())))
			}
			slices.Sort(lags)
			out = append(out, resultOf(name, string(k), round, calls, lags, missing, fixed5.Calls))
		}
	}
	return out
}

func resultOf(policy, kind, round string, calls int, lags []time.Duration, missing, fixed5 int) Result {
	n := len(lags) + missing
	r := Result{Policy: policy, Workload: kind, Round: round, Generations: n, Calls: calls, Missing: missing}
	if n > 0 {
		r.PerGen = float64(calls) / float64(n)
	}
	if fixed5 > 0 {
		r.OfFixed5s = float64(calls) / float64(fixed5)
	}
	q := func(p float64) float64 {
		if len(lags) == 0 {
			return 0
		}
		return lags[min(int(math.Ceil(p*float64(len(lags))))-1, len(lags)-1)].Seconds()
	}
	r.LagP50, r.LagP95, r.LagMax = q(0.5), q(0.95), q(1)
	return r
}

func printReport(w io.Writer, rep Report) {
	fmt.Fprintf(w, "pacebench: %s; took %s\n\n", rep.Settings, rep.Took)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tworkload\tpolicy\tcalls/gen\tof fixed-5s\tp50 lag (s)\tp95 lag (s)\tmax lag (s)\tmissing\t")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.0f%%\t%.2f\t%.2f\t%.1f\t%d\t\n",
			r.Round, r.Workload, r.Policy, r.PerGen, 100*r.OfFixed5s, r.LagP50, r.LagP95, r.LagMax, r.Missing)
	}
	tw.Flush()
}

// plotReport draws calls (as a share of the fixed 5-second loop's) against
// p95 lag: one point per policy and workload of the warm round, the cold
// round's in outline.
func plotReport(rep Report, path string) error {
	p := plot.New()
	p.Title.Text = "Status calls against p95 detection lag, same durations"
	p.X.Label.Text = "calls, % of the fixed 5-second loop's"
	p.Y.Label.Text = "p95 detection lag (s)"
	p.Add(plotter.NewGrid())
	styles := map[string]struct {
		color color.Color
		shape draw.GlyphDrawer
	}{
		"fixed-5s":  {color.RGBA{120, 120, 120, 255}, draw.SquareGlyph{}},
		"fixed-2s":  {color.RGBA{180, 180, 180, 255}, draw.SquareGlyph{}},
		armBackoff:  {color.RGBA{214, 39, 40, 255}, draw.TriangleGlyph{}},
		armAdaptive: {color.RGBA{31, 119, 180, 255}, draw.CircleGlyph{}},
		armWebhooks: {color.RGBA{44, 160, 44, 255}, draw.PyramidGlyph{}},
	}
	for _, policy := range []string{"fixed-5s", "fixed-2s", armBackoff, armAdaptive, armWebhooks} {
		for _, round := range []string{roundWarm, roundCold} {
			var pts plotter.XYs
			var labels []string
			for _, r := range rep.Results {
				if r.Policy == policy && r.Round == round {
					pts = append(pts, plotter.XY{X: 100 * r.OfFixed5s, Y: r.LagP95})
					labels = append(labels, r.Workload)
				}
			}
			if len(pts) == 0 || (round == roundCold && (policy == "fixed-5s" || policy == "fixed-2s")) {
				continue
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return fmt.Errorf("plot: %w", err)
			}
			st := styles[policy]
			sc.GlyphStyle.Color = st.color
			sc.GlyphStyle.Shape = st.shape
			sc.GlyphStyle.Radius = vg.Points(4)
			name := policy
			if round == roundCold {
				sc.GlyphStyle.Radius = vg.Points(2.5)
				name += " (cold)"
			}
			p.Add(sc)
			p.Legend.Add(name, sc)
			if policy == armAdaptive && round == roundWarm || policy == armWebhooks && round == roundWarm {
				l, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
				if err != nil {
					return fmt.Errorf("plot: %w", err)
				}
				for i := range l.TextStyle {
					l.TextStyle[i].Font.Size = vg.Points(7)
					l.TextStyle[i].XAlign = draw.XLeft
				}
				l.Offset = vg.Point{X: vg.Points(5)}
				p.Add(l)
			}
		}
	}
	p.Legend.Top = true
	p.X.Min = 0
	// A log scale: the policies' p95 lags span 2 s to 30 s, and the ones
	// that matter lie within a second or two of the loop's.
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = lagTicks{}
	p.Y.Min, p.Y.Max = 1, 40
	if err := p.Save(9*vg.Inch, 6*vg.Inch, path); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// lagTicks marks the lag axis at seconds a reader compares against.
type lagTicks struct{}

func (lagTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, v := range []float64{1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40} {
		if v >= min && v <= max {
			ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		}
	}
	return ts
}
