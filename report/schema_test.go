package report

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The JSON Schema of the report (schema.json) is generated from the Go
// types by this test, so it cannot drift from what wsbench writes; run
// `go test ./report -run TestReportSchema -update` after changing a type.
func TestReportSchema(t *testing.T) {
	got, err := json.MarshalIndent(reportSchema(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile("schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("report/schema.json is out of date with the Go types: run go test ./report -run TestReportSchema -update")
	}
}

// TestReportMatchesSchema checks a real report against the schema's
// required keys, so a field renamed in JSON but not in the schema fails.
func TestReportMatchesSchema(t *testing.T) {
	var schema map[string]any
	b, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	r := &Report{Schema: SchemaVersion, Metrics: map[string]*Metric{"rtt": {Count: 1}}}
	r.Counters.Normalize()
	enc, _ := json.Marshal(r)
	var doc map[string]any
	_ = json.Unmarshal(enc, &doc)
	for _, key := range schema["required"].([]any) {
		if _, ok := doc[key.(string)]; !ok {
			t.Errorf("required key %q missing from a written report", key)
		}
	}
	props := schema["properties"].(map[string]any)
	for key := range doc {
		if _, ok := props[key]; !ok {
			t.Errorf("written key %q not in the schema", key)
		}
	}
}

var schemaDocs = map[string]string{
	"schema":      "Report format version; readers refuse versions they do not know.",
	"end_reason":  "completed, interrupted, failed or aborted.",
	"end_detail":  "Why the run ended, for people.",
	"started_at":  "Start of the run (RFC 3339, UTC).",
	"duration_s":  "Run time in seconds, from the start of the load to the last interval.",
	"target":      "The base URL the run connected to.",
	"scenario":    "The scenario as run, after flags and defaults (see scenario/schema.json).",
	"metrics":     "Latency metrics by name (rtt, connect, handshake, ping, push_delay, broadcast_delivery, broadcast_complete, schedule_lag, and named steps); values in microseconds; hdr is the full HdrHistogram (V2 compressed, base64).",
	"counters":    "Event counts; every field adds under merge.",
	"rates":       "Intended against achieved rates per second of run time.",
	"phases":      "When each phase of the load profile ran and the level it reached.",
	"broadcast":   "Fan-out accounting per room pattern; intervals (when present) counts expected and lost deliveries per interval of the message's publish time, interval i covering [i*interval_s, (i+1)*interval_s) since the start.",
	"series":      "Per-interval time series, column-oriented; latency columns come from each interval's own histogram.",
	"thresholds":  "Threshold outcomes.",
	"passed":      "Whether every threshold held; absent when there were none.",
	"generator":   "The load generator's health; unreliable=true means it may have been the bottleneck.",
	"environment": "Where the report was made.",
	"capacity":    "Result of wsbench capacity.",
	"baseline":    "The report this run was judged against.",
	"merged_from": "Inputs of wsbench merge.",
	"server":      "The target's own /stats before and after the run, when it offers them.",
	"tls":         "How wss:// connections were secured; insecure_skip_verify=true means server certificates were not verified.",
	"shard":       "Which share of a split run this report is (run --shard, or a worker's part); merging checks that shards are of one run, each once, and all there.",
	"clock":       "How well the clocks of a run's machines agreed: the bound on one-way latencies measured across them.",
}

func reportSchema() map[string]any {
	s := typeSchema(reflect.TypeOf(Report{}), true)
	s["$schema"] = "http://json-schema.org/draft-07/schema#"
	s["$id"] = "https://github.com/wsbench/wsbench/report/schema.json"
	s["title"] = "wsbench JSON report (" + SchemaVersion + ")"
	props := s["properties"].(map[string]any)
	for k, d := range schemaDocs {
		if p, ok := props[k].(map[string]any); ok {
			p["description"] = d
		}
	}
	props["schema"].(map[string]any)["const"] = SchemaVersion
	return s
}

func typeSchema(t reflect.Type, top bool) map[string]any {
	if t.Kind() == reflect.Pointer {
		return typeSchema(t.Elem(), top)
	}
	switch {
	case t == reflect.TypeOf(time.Time{}):
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(json.RawMessage{}):
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fs := typeSchema(f.Type, false)
			if f.Type.Kind() == reflect.Float64 && name == "actual" {
				fs = map[string]any{"type": []string{"number", "null"}, "description": "null when the metric had no samples"}
			}
			props[name] = fs
			if !strings.Contains(opts, "omitempty") && top {
				required = append(required, name)
			}
		}
		out := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			out["required"] = required
		}
		return out
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), false)}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), false)}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{}
}
