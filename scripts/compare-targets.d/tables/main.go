// Command compare-tables turns the runs of scripts/compare-targets into
// markdown tables (docs/benchmarks.md) and one combined, self-contained
// HTML report.
//
//	compare-tables -dir DIR [-md OUT.md] [-doc docs/benchmarks.md] [-html OUT.html]
//
// DIR is the script's output directory: manifest.tsv lists every run
// (target, case, group, label, JSON and HTML report paths relative to DIR,
// wsbench's exit code, the load average before the run, its wall time) and
// meta.env (KEY=VALUE lines) describes the machine and the versions. Every
// number comes from the runs' JSON reports; steady-state figures are taken
// from the intervals of each run's "steady" phase, with latency percentiles
// from those intervals' HdrHistograms merged exactly.
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
	"strconv"
	"strings"

	"github.com/wsbench/wsbench/report"
)

func main() {
	dir := flag.String("dir", "", "output directory of scripts/compare-targets (manifest.tsv, meta.env, runs/)")
	md := flag.String("md", "", "write the markdown tables here")
	doc := flag.String("doc", "", "also write the markdown here (the committed docs/benchmarks.md)")
	htmlOut := flag.String("html", "", "write the combined HTML report here")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 || (*md == "" && *doc == "" && *htmlOut == "") {
		fmt.Fprintln(os.Stderr, "usage: compare-tables -dir DIR [-md OUT.md] [-doc PATH] [-html OUT.html]")
		os.Exit(2)
	}
	if err := generate(*dir, *md, *doc, *htmlOut); err != nil {
		fmt.Fprintln(os.Stderr, "compare-tables:", err)
		os.Exit(1)
	}
}

func generate(dir, md, doc, htmlOut string) error {
	b, err := load(dir)
	if err != nil {
		return err
	}
	tables := b.tables()
	var buf bytes.Buffer
	if err := writeMarkdown(&buf, b, tables); err != nil {
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
	if htmlOut != "" {
		rel, err := filepath.Rel(filepath.Dir(htmlOut), dir)
		if err != nil {
			rel = dir
		}
		page := multiPage(b, tables, filepath.ToSlash(rel))
		if err := report.WriteFile(htmlOut, func(w io.Writer) error { return report.WriteMultiHTML(w, page) }); err != nil {
			return err
		}
	}
	return nil
}

// run is one wsbench invocation of the comparison.
type run struct {
	Target string // go, tornado, …
	Case   string // echo-r10, echo-max, capacity, tune-…
	Group  string // base or tune
	Label  string // the setting, for tuning runs
	JSON   string // relative to the directory
	HTML   string
	RC     int     // wsbench's exit code (124/137: killed by the time limit)
	Load1  float64 // 1-minute load average just before the run
	WallS  float64
	Busy   float64 // CPU (percent of one CPU) other processes used in the second before the run; NaN: not measured

	Rep *report.Report // nil when the report is missing or unreadable
	Err error
}

// bench is everything the tables are made from.
type bench struct {
	Dir     string
	Meta    map[string]string
	Runs    []*run
	Targets []string // in the order of the manifest
	byKey   map[string]*run
}

func (b *bench) get(target, c string) *run { return b.byKey[target+"/"+c] }

func load(dir string) (*bench, error) {
	b := &bench{Dir: dir, Meta: map[string]string{}, byKey: map[string]*run{}}
	if f, err := os.Open(filepath.Join(dir, "meta.env")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				b.Meta[strings.TrimSpace(k)] = strings.TrimSpace(v)
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
			continue // header
		}
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) < 9 {
			return nil, fmt.Errorf("manifest.tsv:%d: %d fields, want 9", line, len(fs))
		}
		r := &run{Target: fs[0], Case: fs[1], Group: fs[2], Label: fs[3], JSON: fs[4], HTML: fs[5]}
		r.RC, _ = strconv.Atoi(fs[6])
		r.Load1, _ = strconv.ParseFloat(fs[7], 64)
		r.WallS, _ = strconv.ParseFloat(fs[8], 64)
		r.Busy = math.NaN()
		if len(fs) > 9 && fs[9] != "" {
			if v, err := strconv.ParseFloat(fs[9], 64); err == nil {
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
		if _, ok := b.byKey[r.Target+"/"+r.Case]; !ok {
			b.byKey[r.Target+"/"+r.Case] = r
		}
		known := false
		for _, t := range b.Targets {
			known = known || t == r.Target
		}
		if !known {
			b.Targets = append(b.Targets, r.Target)
		}
		b.Runs = append(b.Runs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(b.Runs) == 0 {
		return nil, fmt.Errorf("%s: no runs in manifest.tsv", dir)
	}
	return b, nil
}
