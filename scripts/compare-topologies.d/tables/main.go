// Command topology-tables turns the runs of scripts/compare-topologies
// into docs/topologies.md: for each piece of advice (a message bus, a
// proxy, faster libraries and C extensions) the numbers that answer it,
// and a summary that answers it in a sentence.
//
//	topology-tables -dir DIR [-md OUT.md] [-doc docs/topologies.md]
//
// DIR is the script's output directory: manifest.tsv lists every run
// (case, group, label, target, topology, JSON and HTML report paths
// relative to DIR, wsbench's exit code, the load average before the run,
// its wall time, other processes' CPU) and meta.env describes the machine
// and the versions. Every number comes from the runs' JSON reports: the
// client side from wsbench's own measurement, the server side from the
// report's server section (each process's /stats, /stats/rooms and /info,
// haproxy's show stat).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/wsbench/wsbench/report"
)

func main() {
	dir := flag.String("dir", "", "output directory of scripts/compare-topologies (manifest.tsv, meta.env, runs/)")
	md := flag.String("md", "", "write the markdown here")
	doc := flag.String("doc", "", "also write the markdown here (the committed docs/topologies.md)")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 || (*md == "" && *doc == "") {
		fmt.Fprintln(os.Stderr, "usage: topology-tables -dir DIR [-md OUT.md] [-doc PATH]")
		os.Exit(2)
	}
	if err := generate(*dir, *md, *doc); err != nil {
		fmt.Fprintln(os.Stderr, "topology-tables:", err)
		os.Exit(1)
	}
}

func generate(dir, md, doc string) error {
	d, err := load(dir)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := writePage(&buf, d); err != nil {
		return err
	}
	for _, path := range []string{md, doc} {
		if path == "" {
			continue
		}
		if err := report.WriteFile(path, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
			return err
		}
	}
	return nil
}

// run is one wsbench invocation of the comparison.
type run struct {
	Case     string // chat-2p-local, loop-max-aiohttp-uvloop.2, …
	Group    string // chat, fanout, proxy, balance, loop, accel
	Label    string
	Target   string
	Topology string // the start_target settings, KEY=VALUE …
	JSON     string
	HTML     string
	RC       int
	Load1    float64
	WallS    float64
	Busy     float64 // NaN: not measured

	Rep *report.Report
	Err error
}

// base is the case without its repeat suffix (".2", ".3").
func (r *run) base() string {
	if i := strings.LastIndexByte(r.Case, '.'); i > 0 {
		if _, err := strconv.Atoi(r.Case[i+1:]); err == nil {
			return r.Case[:i]
		}
	}
	return r.Case
}

type data struct {
	Dir    string
	Meta   map[string]string
	Runs   []*run
	byBase map[string][]*run
}

// repeats returns the runs of a case, first run first; nil if it did not run.
func (d *data) repeats(base string) []*run { return d.byBase[base] }

// first returns the first run of a case, or nil.
func (d *data) first(base string) *run {
	if rs := d.byBase[base]; len(rs) > 0 {
		return rs[0]
	}
	return nil
}

func load(dir string) (*data, error) {
	d := &data{Dir: dir, Meta: map[string]string{}, byBase: map[string][]*run{}}
	if f, err := os.Open(filepath.Join(dir, "meta.env")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				d.Meta[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		f.Close()
	}
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) < 10 {
			return nil, fmt.Errorf("manifest.tsv:%d: %d fields, want at least 10", line, len(fs))
		}
		r := &run{Case: fs[0], Group: fs[1], Label: fs[2], Target: fs[3], Topology: fs[4], JSON: fs[5], HTML: fs[6]}
		r.RC, _ = strconv.Atoi(fs[7])
		r.Load1, _ = strconv.ParseFloat(fs[8], 64)
		r.WallS, _ = strconv.ParseFloat(fs[9], 64)
		r.Busy = math.NaN()
		if len(fs) > 10 && fs[10] != "" {
			if v, err := strconv.ParseFloat(fs[10], 64); err == nil {
				r.Busy = v
			}
		}
		r.Rep, r.Err = report.ReadJSONFile(filepath.Join(dir, r.JSON))
		if r.Err != nil {
			r.Rep = nil
			if errors.Is(r.Err, os.ErrNotExist) {
				r.Err = fmt.Errorf("no report (wsbench exited %d)", r.RC)
			}
		}
		d.Runs = append(d.Runs, r)
		d.byBase[r.base()] = append(d.byBase[r.base()], r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(d.Runs) == 0 {
		return nil, fmt.Errorf("%s: no runs in manifest.tsv", dir)
	}
	return d, nil
}

// --- numbers taken from one report ------------------------------------

// metric returns a whole-run latency metric, or nil.
func metric(r *run, name string) *report.Metric {
	if r == nil || r.Rep == nil {
		return nil
	}
	if m := r.Rep.Metrics[name]; m != nil && m.Count > 0 {
		return m
	}
	return nil
}

// pct formats a percentile of a metric ("—" without data).
func pct(m *report.Metric, p string) string {
	if m == nil {
		return "—"
	}
	switch p {
	case "p50":
		return report.FormatUS(m.P50US)
	case "p90":
		return report.FormatUS(m.P90US)
	case "p99":
		return report.FormatUS(m.P99US)
	case "max":
		return report.FormatUS(m.MaxUS)
	}
	return "?"
}

// targetProcs are the report's target processes (for one process without
// bus or proxy, the report has none: the server section is that process).
func targetProcs(r *run) []report.ProcessObs {
	var out []report.ProcessObs
	if r == nil || r.Rep == nil || r.Rep.Server == nil {
		return nil
	}
	for _, p := range r.Rep.Server.Processes {
		if p.Role == "target" {
			out = append(out, p)
		}
	}
	return out
}

// process returns the report's process with the given role, if any.
func process(r *run, role string) *report.ProcessObs {
	if r == nil || r.Rep == nil || r.Rep.Server == nil {
		return nil
	}
	for i, p := range r.Rep.Server.Processes {
		if p.Role == role {
			return &r.Rep.Server.Processes[i]
		}
	}
	return nil
}

// info returns a /info field of the (first) target process.
func info(r *run, key string) string {
	if r == nil || r.Rep == nil || r.Rep.Server == nil {
		return ""
	}
	return r.Rep.Server.Info[key]
}

// steadyRate is received messages per second over the steady phase (the
// last phase, or the one named steady), drain included, from the series.
func steadyRate(r *run) float64 {
	if r == nil || r.Rep == nil || r.Rep.Series == nil || len(r.Rep.Phases) == 0 {
		return math.NaN()
	}
	ph := r.Rep.Phases[len(r.Rep.Phases)-1]
	for _, p := range r.Rep.Phases {
		if p.Name == "steady" {
			ph = p
		}
	}
	s := r.Rep.Series
	tol := min(s.IntervalS/4, 0.02)
	var n int64
	start := math.NaN()
	for i := range s.T {
		from := 0.0
		if i > 0 {
			from = s.T[i-1]
		}
		if from < ph.StartS-tol {
			continue
		}
		if math.IsNaN(start) {
			start = from
		}
		n += s.Received[i]
	}
	if math.IsNaN(start) || len(s.T) == 0 || s.T[len(s.T)-1] <= start {
		return math.NaN()
	}
	return float64(n) / (s.T[len(s.T)-1] - start)
}

// bestBy returns the run with the best value of a case's repeats (the
// highest if higher is better, else the lowest), with the lowest and
// highest value; runs without a value are left out. On a shared machine
// other work only ever slows a run down, so the best of N is the least
// disturbed estimate, where a median of two would be the worse one.
func bestBy(rs []*run, value func(*run) float64, higher bool) (best *run, lo, hi float64, n int) {
	lo, hi = math.NaN(), math.NaN()
	for _, r := range rs {
		v := value(r)
		if math.IsNaN(v) {
			continue
		}
		n++
		if n == 1 || v < lo {
			lo = v
			if !higher {
				best = r
			}
		}
		if n == 1 || v > hi {
			hi = v
			if higher {
				best = r
			}
		}
	}
	return best, lo, hi, n
}

// --- formatting ------------------------------------------------------

func num(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return commas(int64(math.Round(v)))
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func reach(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func percent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%+.0f%%", 100*v)
}

// span formats the range of repeats ("a–b (n runs)"), or "" for one run.
func span(lo, hi float64, n int) string {
	if n < 2 {
		return "1 run"
	}
	return fmt.Sprintf("%s–%s (%d runs)", num(lo), num(hi), n)
}

func us(v int64) string { return report.FormatUS(v) }

// table is a markdown table with footnotes about the runs it shows.
type table struct {
	cols  []string
	rows  [][]string
	notes notes
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(t.cols, " | "), strings.Repeat("---|", len(t.cols)))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
	for _, n := range t.notes.lines {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(t.notes.lines) > 0 {
		fmt.Fprintln(w)
	}
}

// Cell markers, explained in the caveats.
const (
	markUnreliable = "⚠" // the generator said it was the bottleneck
	markTrouble    = "✗" // errors, dropped sends, missing replies, an early end, no report
)

// notes collects what went wrong in the runs a table shows, once per run.
type notes struct {
	seen  map[*run]bool
	lines []string
}

// mark returns s with the markers of r's problems, and notes them.
func (n *notes) mark(s string, r *run) string {
	if r == nil {
		return s
	}
	var why []string
	var marks string
	if r.RC == 124 || r.RC == 137 {
		why = append(why, "stopped by the script's time limit")
		marks = markTrouble
	}
	if rep := r.Rep; rep == nil {
		why = append(why, fmt.Sprint(r.Err))
		marks = markTrouble
	} else {
		if rep.Generator.Unreliable {
			why = append(why, "generator unreliable ("+strings.Join(rep.Generator.Reasons, "; ")+")")
			marks += markUnreliable
		}
		c := &rep.Counters
		var trouble []string
		if rep.EndReason != report.EndCompleted {
			trouble = append(trouble, "ended "+rep.EndReason+" ("+rep.EndDetail+")")
		}
		if e := c.Errors(); e > 0 {
			trouble = append(trouble, fmt.Sprintf("%d errors (%s)", e, topCounts(c.ErrorsByCause)))
		}
		if c.SendsDropped > 0 {
			trouble = append(trouble, fmt.Sprintf("%d sends dropped", c.SendsDropped))
		}
		if c.SessionsDropped > 0 {
			trouble = append(trouble, fmt.Sprintf("%d arrivals dropped", c.SessionsDropped))
		}
		if c.RepliesMissing > 0 {
			trouble = append(trouble, fmt.Sprintf("%d replies missing", c.RepliesMissing))
		}
		if len(trouble) > 0 {
			marks += markTrouble
			why = append(why, trouble...)
		}
	}
	if len(why) == 0 {
		return s
	}
	if n.seen == nil {
		n.seen = map[*run]bool{}
	}
	if !n.seen[r] {
		n.seen[r] = true
		n.lines = append(n.lines, fmt.Sprintf("%s (%s): %s", r.Case, r.Label, strings.Join(why, "; ")))
	}
	return s + " " + marks
}

func topCounts(m map[string]int64) string {
	keys := report.SortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var parts []string
	for i, k := range keys {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%d × %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}
