package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writeChart writes the chart of one scenario as a PNG: the median
// records/s of each contender from the start and from the first output,
// bars side by side (for a restore scenario, the seconds from the restart
// to the end of the restore and to the first output).
func writeChart(path string, sr scenarioResult) error {
	ss := summarize(sr)
	if len(ss) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (%s records)", sr.Scenario.Title, thousands(float64(sr.Scenario.Input.N)))
	p.Y.Label.Text = "input records/s (median)"
	restore, latency := sr.Scenario.Restore, sr.Scenario.Latency > 0
	if restore {
		p.Title.Text = sr.Scenario.Title
		p.Y.Label.Text = "seconds after the restart (median)"
	}
	if latency {
		p.Title.Text = sr.Scenario.Title
		p.Y.Label.Text = "end-to-end latency, ms (median of runs)"
	}
	p.Y.Min = 0
	p.Y.Tick.Marker = thousandsTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	w := vg.Points(40)
	top := 0.0
	for i, s := range ss {
		vals := plotter.Values{s.PerSec, s.PerSecFromFirst}
		if restore {
			vals = plotter.Values{s.Restore.Seconds(), s.First.Seconds()}
		}
		if latency {
			vals = plotter.Values{ms(s.LatP50), ms(s.LatP99)}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("chart %s: %w", path, err)
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Color = color.Black
		bars.Offset = vg.Length(float64(i)-float64(len(ss)-1)/2) * w
		p.Add(bars)
		p.Legend.Add(s.Name, bars)
		top = max(top, vals[0], vals[1])
	}
	// Room above the bars for the legend, and beside them.
	p.Y.Max = top * 1.35
	p.X.Min, p.X.Max = -0.7, 1.7
	p.NominalX("from the process' start", "from the first output")
	if restore {
		p.Y.Tick.Marker = plot.DefaultTicks{}
		p.NominalX("restored", "first output")
	}
	if latency {
		p.Y.Tick.Marker = plot.DefaultTicks{}
		p.NominalX("p50", "p99")
	}
	if err := p.Save(8*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}

// thousandsTicks are the default ticks labelled 1,000,000 rather than 1e+06.
type thousandsTicks struct{}

// Ticks returns plot.DefaultTicks with labels in thousands.
func (thousandsTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = thousands(ts[i].Value)
		}
	}
	return ts
}
