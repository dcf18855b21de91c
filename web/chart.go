package web

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Charts are drawn on the server as inline SVG: no script, no external resource. Each has a
// <title> and <desc> it is labelled by, a legend in the page (name and line style, not colour
// alone) and, in the template, a data table with the same numbers for screen readers.

// Series is one line (or one stacked segment) of a chart.
type Series struct {
	Name   string
	Values []float64
	Color  string
	Dash   string // stroke-dasharray, so lines differ by more than colour
}

// Chart is a chart over days.
type Chart struct {
	ID      string // the figure's id; the SVG's title and desc ids derive from it
	Title   string
	Desc    string
	Labels  []string // one per value: the x axis
	Series  []Series
	Percent bool // values are shares (0..1), shown as percentages
	// TableLabel and XHeader caption the data table (in the page's language).
	TableLabel, XHeader string
	// Note says what the numbers cover.
	Note    string
	Stacked bool // draw stacked bars instead of lines
}

// Colours with at least 3:1 contrast against white (WCAG 1.4.11), distinguishable in the common
// colour-vision deficiencies, each paired with a dash pattern.
var palette = []struct{ color, dash string }{
	{"#0b5cad", ""}, {"#b34700", "6 3"}, {"#116329", "2 3"}, {"#8250df", "8 3 2 3"},
	{"#a40e26", "4 4"}, {"#1b6b73", "1 2"}, {"#57606a", "10 4"}, {"#7d4e00", "3 2 1 2"},
}

// style gives each series its colour and dash.
func (c *Chart) style() {
	for i := range c.Series {
		p := palette[i%len(palette)]
		if c.Series[i].Color == "" {
			c.Series[i].Color = p.color
			c.Series[i].Dash = p.dash
			if i >= len(palette) { // beyond the palette: differ by width of dash too
				c.Series[i].Dash = fmt.Sprintf("%d 2", 1+i/len(palette))
			}
		}
	}
}

// Format shows a value as the chart's unit.
func (c *Chart) Format(v float64) string {
	if c.Percent {
		return fmt.Sprintf("%.0f%%", 100*v)
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// Empty reports whether there is nothing to draw.
func (c *Chart) Empty() bool { return len(c.Series) == 0 || len(c.Labels) == 0 }

// Rows is the data table: one row per label, one cell per series.
func (c *Chart) Rows() [][]string {
	out := make([][]string, len(c.Labels))
	for i, l := range c.Labels {
		row := []string{l}
		for _, s := range c.Series {
			v := 0.0
			if i < len(s.Values) {
				v = s.Values[i]
			}
			row = append(row, c.Format(v))
		}
		out[i] = row
	}
	return out
}

// LegendSwatch is a small SVG of a series' line style, for the legend.
func (s Series) LegendSwatch() string {
	dash := ""
	if s.Dash != "" {
		dash = ` stroke-dasharray="` + s.Dash + `"`
	}
	return `<svg width="28" height="12" viewBox="0 0 28 12" aria-hidden="true" focusable="false"><line x1="1" y1="6" x2="27" y2="6" stroke="` +
		s.Color + `" stroke-width="3"` + dash + `/></svg>`
}

const (
	chartW, chartH             = 720, 280
	padL, padR, padT, padB     = 48, 12, 12, 40
	plotW, plotH               = chartW - padL - padR, chartH - padT - padB
	axisInk, gridInk, textSize = "#57606a", "#d8dee4", 12
)

// SVG draws the chart. Every text in it is escaped; the result is safe to include as HTML.
func (c *Chart) SVG() string {
	c.style()
	esc := html.EscapeString
	var b strings.Builder
	tid, did := c.ID+"-title", c.ID+"-desc"
	fmt.Fprintf(&b, `<svg role="img" aria-labelledby="%s %s" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="%d">`,
		tid, did, chartW, chartH, textSize)
	fmt.Fprintf(&b, `<title id="%s">%s</title><desc id="%s">%s</desc>`, tid, esc(c.Title), did, esc(c.Desc))
	n := len(c.Labels)
	// The y scale: 0..1 for shares, else 0..a round maximum.
	max := 1.0
	if !c.Percent {
		max = 0
		for i := 0; i < n; i++ {
			sum := 0.0
			for _, s := range c.Series {
				if i < len(s.Values) {
					if c.Stacked {
						sum += s.Values[i]
					} else {
						sum = math.Max(sum, s.Values[i])
					}
				}
			}
			max = math.Max(max, sum)
		}
		max = niceCeil(max)
	}
	y := func(v float64) float64 { return padT + plotH - v/max*plotH }
	x := func(i int) float64 {
		if n <= 1 {
			return padL + plotW/2
		}
		return padL + float64(i)*plotW/float64(n-1)
	}
	// Grid and y labels.
	for k := 0; k <= 4; k++ {
		v := max * float64(k) / 4
		yy := y(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="1"/>`, padL, yy, chartW-padR, yy, gridInk)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s</text>`, padL-6, yy+4, axisInk, esc(c.Format(v)))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1"/>`, padL, padT+plotH, chartW-padR, padT+plotH, axisInk)
	// X labels: first, a few between, last.
	if n > 0 {
		step := max1((n-1)/4, 1)
		for i := 0; i < n; i += step {
			if n-1-i < step/2 && i != n-1 && i != 0 {
				continue
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%s</text>`, clampX(x(i)), padT+plotH+18, axisInk, esc(c.Labels[i]))
		}
		if (n-1)%step != 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%s</text>`, clampX(x(n-1)), padT+plotH+18, axisInk, esc(c.Labels[n-1]))
		}
	}
	if c.Stacked {
		bw := float64(plotW) / float64(max1(n, 1))
		for i := 0; i < n; i++ {
			base := 0.0
			for _, s := range c.Series {
				if i >= len(s.Values) || s.Values[i] <= 0 {
					continue
				}
				top := base + s.Values[i]
				x0 := padL + float64(i)*bw + bw*0.1
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
					x0, y(top), bw*0.8, y(base)-y(top), s.Color, esc(c.Labels[i]), esc(s.Name), esc(c.Format(s.Values[i])))
				base = top
			}
		}
	} else {
		for _, s := range c.Series {
			var pts strings.Builder
			for i := 0; i < n && i < len(s.Values); i++ {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x(i), y(s.Values[i]))
			}
			dash := ""
			if s.Dash != "" {
				dash = ` stroke-dasharray="` + s.Dash + `"`
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2.5"%s points="%s"><title>%s</title></polyline>`,
				s.Color, dash, strings.TrimSpace(pts.String()), esc(s.Name))
			if k := min(n, len(s.Values)) - 1; k >= 0 {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s %s: %s</title></circle>`,
					x(k), y(s.Values[k]), s.Color, esc(s.Name), esc(c.Labels[k]), esc(c.Format(s.Values[k])))
			}
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func clampX(v float64) float64 { return math.Min(math.Max(v, padL+20), chartW-padR-30) }

func max1(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten (at least 4, so the grid has integers).
func niceCeil(v float64) float64 {
	if v <= 4 {
		return 4
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
