package prometheus

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/metrics"
)

// The documentation lists what is exported: it must name every counter,
// and name nothing that is not exported (in its text, its queries and the
// Grafana dashboard).
func TestDocsInStep(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/prometheus.md")
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	known := map[string]bool{Prefix + "open_connections": true, Prefix + "generator_cpu_seconds_total": true, Prefix + "run_info": true}
	for _, c := range metrics.CounterList() {
		known[CounterName(c.Name)] = true
		if !strings.Contains(string(doc), "`"+CounterName(c.Name)+"`") {
			t.Errorf("docs/prometheus.md does not list %s", CounterName(c.Name))
		}
	}
	for _, f := range metrics.FamilyList() {
		known[CounterName(f.Name)] = true
		if !strings.Contains(string(doc), "`"+CounterName(f.Name)+"` | `"+familyLabel(f.Name)+"`") {
			t.Errorf("docs/prometheus.md does not list %s with its label %s", CounterName(f.Name), familyLabel(f.Name))
		}
	}
	for _, n := range append(metrics.BuiltinNames(), "rtt"+metrics.ServiceSuffix, "request") {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			known[HistogramName(n)+suffix] = true
		}
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/prometheus.md does not name the latency metric %s", n)
		}
	}
	name := regexp.MustCompile(`wsbench_[a-z_]+`)
	for _, m := range name.FindAllString(string(doc)+string(dash), -1) {
		if !known[m] {
			t.Errorf("the docs name %s, which is not exported", m)
		}
	}
	if len(d.Panels) == 0 {
		t.Error("the dashboard has no panels")
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" || !name.MatchString(tg.Expr) {
				t.Errorf("dashboard query %q", tg.Expr)
			}
		}
	}
}
