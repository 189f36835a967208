package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"sync"
)

// MultiPage is a page that puts the results of many runs side by side,
// for instance the same scenarios against several target servers
// (scripts/compare-targets): one section per question, each with a table
// and charts in which every target is one row or one line.
// WriteMultiHTML renders it as one self-contained file that opens
// offline, with the same vendored uPlot and style sheet as the single-run
// report. The caller computes the numbers; the page only shows them.
type MultiPage struct {
	Title    string
	Subtitle string
	Meta     []MultiKV // shown as a key/value table under the title
	Notes    []string  // paragraphs under the table (plain text)
	Sections []MultiSection
	Footer   string
}

// MultiKV is one line of the page's header table.
type MultiKV struct {
	Key, Value string
}

// MultiSection is one table, with optional charts, about one
// question (throughput, latency, memory, …).
type MultiSection struct {
	ID        string // anchor; derived from Title when empty
	Title     string
	Note      string // what the numbers mean, and their caveats
	Columns   []string
	Rows      [][]MultiCell
	Footnotes []string
	Charts    []MultiChart
}

// MultiCell is one table cell.
type MultiCell struct {
	Text  string
	Link  string  // relative URL, e.g. the run's own HTML report
	Title string  // hover text
	Bar   float64 // 0…1: a bar under the text, to compare a column at a glance
	Warn  bool    // flagged: the generator was unreliable, the run had errors…
	Num   bool    // right-aligned number
}

// MultiChart is one uPlot line chart with numeric x: one series per
// target, drawn with points (there are few). NaN values are gaps.
type MultiChart struct {
	Title  string
	XLabel string
	YLabel string
	Unit   string // of the values, for axis and legend: "ms", "/s", "B" or ""
	XLog   bool
	YLog   bool
	X      []float64
	Series []MultiSeries
}

// MultiSeries is one line of a chart, with a value per X.
type MultiSeries struct {
	Label  string
	Values []float64
	// Color is the palette entry plus one (1…8), so that a target keeps
	// its colour across charts; 0 picks by position.
	Color int
}

// WriteMultiHTML renders c as a self-contained HTML page. Like
// WriteHTML, the output depends only on c, and a Content-Security-Policy
// forbids every network fetch.
func WriteMultiHTML(w io.Writer, c *MultiPage) error {
	t, err := multiTemplate()
	if err != nil {
		return err
	}
	page := &multiPage{C: c, Title: c.Title}
	if page.Title == "" {
		page.Title = "wsbench comparison"
	}
	if err := page.load(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, page); err != nil {
		return fmt.Errorf("render comparison HTML: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

type multiPage struct {
	C        *MultiPage
	Title    string
	Sections []multiSectionView
	Charts   int
	Data     template.JS

	UPlotJS      template.JS
	UPlotCSS     template.CSS
	UPlotVersion string
	AppCSS       template.CSS
	MultiJS      template.JS
	MultiCSS     template.CSS
}

type multiSectionView struct {
	*MultiSection
	Anchor string
	Charts []string // chart element IDs
}

type multiChartData struct {
	ID     string      `json:"id"`
	Title  string      `json:"title"`
	XLabel string      `json:"x_label"`
	YLabel string      `json:"y_label"`
	Unit   string      `json:"unit"`
	XLog   bool        `json:"x_log,omitempty"`
	YLog   bool        `json:"y_log,omitempty"`
	X      column      `json:"x"`
	Series []multiLine `json:"series"`
}

type multiLine struct {
	Label  string `json:"label"`
	Color  int    `json:"color"` // palette index
	Values column `json:"values"`
}

func (p *multiPage) load() error {
	read := func(name string) (string, error) {
		b, err := htmlAssets.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("comparison HTML asset: %w", err)
		}
		return string(b), nil
	}
	js, err := read("assets/uplot/uPlot.iife.min.js")
	if err != nil {
		return err
	}
	css, err := read("assets/uplot/uPlot.min.css")
	if err != nil {
		return err
	}
	ver, err := read("assets/uplot/VERSION")
	if err != nil {
		return err
	}
	app, err := read("assets/report.css")
	if err != nil {
		return err
	}
	if strings.Contains(strings.ToLower(js), "</script") {
		return fmt.Errorf("comparison HTML asset contains </script")
	}
	p.UPlotJS, p.UPlotCSS, p.AppCSS = template.JS(js), template.CSS(css), template.CSS(app)
	p.MultiJS, p.MultiCSS = template.JS(multiJS), template.CSS(multiCSS)
	for _, line := range strings.Split(ver, "\n") {
		if v, ok := strings.CutPrefix(line, "version:"); ok {
			p.UPlotVersion = strings.TrimSpace(v)
		}
	}

	var charts []multiChartData
	seen := map[string]int{}
	for i := range p.C.Sections {
		s := &p.C.Sections[i]
		v := multiSectionView{MultiSection: s, Anchor: s.ID}
		if v.Anchor == "" {
			v.Anchor = multiSlug(s.Title)
		}
		if n := seen[v.Anchor]; n > 0 {
			v.Anchor = fmt.Sprintf("%s-%d", v.Anchor, n+1)
		}
		seen[v.Anchor]++
		for j, ch := range s.Charts {
			id := fmt.Sprintf("cmp-%d-%d", i, j)
			d := multiChartData{ID: id, Title: ch.Title, XLabel: ch.XLabel, YLabel: ch.YLabel,
				Unit: ch.Unit, XLog: ch.XLog, YLog: ch.YLog, X: column(ch.X)}
			for _, s := range ch.Series {
				vals := make(column, len(ch.X))
				for k := range vals {
					vals[k] = math.NaN()
					if k < len(s.Values) {
						vals[k] = s.Values[k]
					}
					// A log axis cannot show zero or less.
					if ch.YLog && vals[k] <= 0 {
						vals[k] = math.NaN()
					}
				}
				color := len(d.Series)
				if s.Color > 0 {
					color = s.Color - 1
				}
				d.Series = append(d.Series, multiLine{Label: s.Label, Color: color, Values: vals})
			}
			charts = append(charts, d)
			v.Charts = append(v.Charts, id)
		}
		p.Sections = append(p.Sections, v)
	}
	p.Charts = len(charts)
	// encoding/json escapes <, > and &, so the data cannot end its script.
	b, err := json.Marshal(struct {
		Charts []multiChartData `json:"charts"`
	}{charts})
	if err != nil {
		return fmt.Errorf("comparison chart data: %w", err)
	}
	p.Data = template.JS(b)
	return nil
}

// multiSlug makes an anchor from a title: lower-case letters and digits,
// other runs of characters as one "-".
func multiSlug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "section"
	}
	return b.String()
}

var multiTemplate = sync.OnceValues(func() (*template.Template, error) {
	t, err := template.New("comparison").Funcs(template.FuncMap{
		"barPct": func(f float64) float64 { return math.Max(0, math.Min(1, f)) * 100 },
	}).Parse(multiHTML)
	if err != nil {
		return nil, fmt.Errorf("parse comparison HTML template: %w", err)
	}
	return t, nil
})

const multiHTML = `<!DOCTYPE html>
<html lang="en" data-errors="0" data-charts-expected="{{.Charts}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="color-scheme" content="light dark">
<title>{{.Title}}</title>
<script>
(function () {
  var errs = [];
  var root = document.documentElement;
  function note(msg) {
    errs.push(String(msg));
    root.setAttribute('data-errors', String(errs.length));
    root.setAttribute('data-error-messages', errs.join(' | ').slice(0, 4000));
  }
  window.addEventListener('error', function (e) {
    if (e.target && e.target !== window && e.target.tagName) { note('failed to load ' + e.target.tagName); return; }
    note((e.message || 'error') + (e.lineno ? ' (line ' + e.lineno + ')' : ''));
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    note('unhandled rejection: ' + (e.reason && e.reason.message ? e.reason.message : e.reason));
  });
  document.addEventListener('securitypolicyviolation', function (e) {
    note('blocked by content security policy: ' + e.violatedDirective + ' ' + e.blockedURI);
  });
  var consoleError = console.error;
  console.error = function () {
    note(Array.prototype.join.call(arguments, ' '));
    return consoleError.apply(console, arguments);
  };
  window.wsbenchNoteError = note;
})();
</script>
<style>{{.UPlotCSS}}</style>
<style>{{.AppCSS}}</style>
<style>{{.MultiCSS}}</style>
</head>
<body>
<header class="top">
  <div class="title">
    <h1>{{.Title}}</h1>
    {{- if .C.Subtitle}}<div class="target">{{.C.Subtitle}}</div>{{end}}
  </div>
</header>
{{- if .C.Meta}}
<table class="kv">
{{- range .C.Meta}}
  <tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- range .C.Notes}}
<p class="note">{{.}}</p>
{{- end}}
<nav>
{{- range .Sections}}
  <a href="#{{.Anchor}}">{{.Title}}</a>
{{- end}}
</nav>
{{- range .Sections}}
<section id="{{.Anchor}}">
  <h2>{{.Title}}</h2>
  {{- if .Note}}
  <p class="note">{{.Note}}</p>
  {{- end}}
  {{- if .Columns}}
  <div class="scroll">
  <table class="cmp">
    <thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
    <tbody>
    {{- range .Rows}}
      <tr>{{range .}}<td class="{{if .Num}}num{{end}}{{if .Warn}} warncell{{end}}"{{if .Title}} title="{{.Title}}"{{end}}>
        {{- if .Link}}<a href="{{.Link}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}
        {{- if gt .Bar 0.0}}<div class="cmpbar" style="width: {{printf "%.1f" (barPct .Bar)}}%"></div>{{end -}}
      </td>{{end}}</tr>
    {{- end}}
    </tbody>
  </table>
  </div>
  {{- end}}
  {{- if .Footnotes}}
  <ul class="footnotes">
    {{- range .Footnotes}}
    <li>{{.}}</li>
    {{- end}}
  </ul>
  {{- end}}
  {{- if .Charts}}
  <div class="grid2">
    {{- range .Charts}}
    <figure><div class="chart" id="{{.}}"></div></figure>
    {{- end}}
  </div>
  {{- end}}
</section>
{{- end}}
<footer>
  {{- if .C.Footer}}{{.C.Footer}} · {{end}}charts by uPlot {{.UPlotVersion}} (MIT), embedded: this page makes no network requests.
</footer>
<script type="application/json" id="cmp-data">{{.Data}}</script>
<script>{{.UPlotJS}}</script>
<script>{{.MultiJS}}</script>
</body>
</html>
`

const multiCSS = `
.scroll { overflow-x: auto; }
table.cmp td { position: relative; }
table.cmp td.num { text-align: right; }
table.cmp td:first-child, table.cmp td:nth-child(2) { white-space: nowrap; }
.cmpbar { height: 4px; border-radius: 2px; background: var(--bar); margin-top: 2px; margin-left: auto; }
td.warncell { background: var(--warn-bg); color: var(--warn); }
ul.footnotes { color: var(--muted); font-size: 12.5px; margin: 0 0 10px; padding-left: 18px; }
figure .ctitle { font-weight: 600; margin: 4px 0; }
`

// multiJS draws the charts in #cmp-data and records on <html> what it
// drew (data-charts-drawn, data-charts-failed, data-chart-geometry,
// data-report-status), like the single-run report. Lines differ in dash
// pattern as well as colour, so they stay apart in grayscale and print.
const multiJS = `(function () {
  'use strict';
  var root = document.documentElement;
  var note = window.wsbenchNoteError || function (m) { console.error(m); };
  var charts = [];
  try {
    charts = (JSON.parse(document.getElementById('cmp-data').textContent) || {}).charts || [];
  } catch (e) {
    note('chart data: ' + e.message);
  }
  var css = getComputedStyle(root);
  function color(i) { return (css.getPropertyValue('--c' + (i % 8)) || '#2f6fdb').trim(); }
  var fg = (css.getPropertyValue('--muted') || '#5d6675').trim();
  var grid = (css.getPropertyValue('--grid') || 'rgba(0,0,0,0.1)').trim();
  function sig(v) { return String(Number(v.toPrecision(3))); }
  function num(v) {
    if (v == null || !isFinite(v)) return '—';
    var a = Math.abs(v);
    if (a >= 1e9) return sig(v / 1e9) + 'G';
    if (a >= 1e6) return sig(v / 1e6) + 'M';
    if (a >= 1e4) return sig(v / 1e3) + 'k';
    if (a === 0) return '0';
    return sig(v);
  }
  function fmt(unit) {
    return function (v) {
      if (v == null || !isFinite(v)) return '—';
      if (unit === 'B') {
        var a = Math.abs(v);
        if (a >= 1048576) return sig(v / 1048576) + ' MiB';
        if (a >= 1024) return sig(v / 1024) + ' KiB';
        return sig(v) + ' B';
      }
      return num(v) + (unit ? ' ' + unit : '');
    };
  }
  var dashes = [null, [8, 4], [2, 3], [8, 3, 2, 3]];
  var markers = ['solid', 'dashed', 'dotted', 'dashed'];
  var drawn = 0, failed = [], geometry = [], plots = [];
  charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    try {
      if (!el) throw new Error('no element');
      var cap = document.createElement('figcaption');
      cap.textContent = c.title;
      el.parentNode.insertBefore(cap, el);
      var f = fmt(c.unit);
      var series = [{ label: c.x_label, value: function (u, v) { return v == null ? '—' : num(v); } }];
      var data = [c.x];
      c.series.forEach(function (s, i) {
        series.push({
          label: s.label, stroke: color(s.color), width: 2, spanGaps: true,
          dash: dashes[i % dashes.length] || undefined,
          points: { show: true, size: 7, fill: color(s.color) },
          value: function (u, v) { return f(v); }
        });
        data.push(s.values);
      });
      var axis = { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } };
      var opts = {
        width: Math.max(300, el.clientWidth || 600), height: 260,
        scales: {
          x: { time: false, distr: c.x_log ? 3 : 1 },
          y: { distr: c.y_log ? 3 : 1, range: c.y_log ? undefined : function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } }
        },
        axes: [
          Object.assign({ label: c.x_label, values: function (u, vs) { return vs.map(num); } }, axis),
          Object.assign({ label: c.y_label, size: 64, values: function (u, vs) { return vs.map(f); } }, axis)
        ],
        series: series,
        legend: { live: true, markers: { width: 3, dash: function (u, i) { return markers[(i - 1) % markers.length]; } } }
      };
      var u = new uPlot(opts, data, el);
      if (!u.ctx || !u.ctx.canvas || u.ctx.canvas.width === 0) throw new Error('empty canvas');
      drawn++;
      plots.push({ id: c.id, u: u, colors: c.series.map(function (s) { return color(s.color); }) });
      window.addEventListener('resize', function () {
        u.setSize({ width: Math.max(300, el.clientWidth || 600), height: 260 });
      });
    } catch (e) {
      failed.push(c.id);
      note('chart ' + c.id + ': ' + e.message);
    }
  });
  // uPlot lays a chart out after this script: measure once it has.
  setTimeout(function () {
    plots.forEach(function (p) {
      var r = p.u.over.getBoundingClientRect();
      geometry.push({
        id: p.id, x: Math.round(r.left + window.scrollX), y: Math.round(r.top + window.scrollY),
        w: Math.round(r.width), h: Math.round(r.height), colors: p.colors
      });
    });
    root.setAttribute('data-chart-geometry', JSON.stringify(geometry));
    root.setAttribute('data-charts-drawn', String(drawn));
    root.setAttribute('data-charts-failed', failed.join(' '));
    root.setAttribute('data-chart-containers', String(document.querySelectorAll('.chart').length));
    root.setAttribute('data-report-status', 'done');
  }, 0);
})();
`
