package scenario

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func loadForScale(t *testing.T, src string) *Scenario {
	t.Helper()
	sc, err := Parse("scale.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return sc
}

// phaseShape is a phase as the scale tests compare it.
type phaseShape struct {
	name    string
	dur     time.Duration
	clients int // -1: an open-model phase
}

func shape(sc *Scenario) []phaseShape {
	var out []phaseShape
	for _, p := range sc.Phases {
		c := -1
		if p.Clients != nil {
			c = *p.Clients
		}
		out = append(out, phaseShape{p.Name, p.Duration.D(), c})
	}
	return out
}

func TestScale(t *testing.T) {
	const short = "target: builtin\nclients: 10\nramp_up: 2s\nduration: 10s\nmessage: {size: 100, rate: 5}\n"
	const long = `target: builtin
phases:
  - {name: warm, duration: 10s, clients: 5}
  - {name: peak, duration: 20s, clients: 20}
  - {name: cool, duration: 10s, clients: 3}
flows:
  - name: f
    steps:
      - connect: {path: /echo}
      - echo: {rate: 2}
`
	const open = `target: builtin
phases:
  - {duration: 10s, arrival_rate: 5}
flows:
  - name: f
    steps:
      - connect: {path: /echo}
`
	// Phases written out with the short form's message: the phases scale
	// in proportion, the message's flow is made again with the new rate.
	const mixed = `target: builtin
phases:
  - {name: only, duration: 4s, clients: 4}
message: {size: 100, rate: 5}
`
	rate := func(r float64) *float64 { return &r }
	tests := []struct {
		name     string
		src      string
		scale    Scaling
		phases   []phaseShape
		echoRate float64 // of the first echo step; -1 to skip
		err      string
	}{
		{name: "short: clients", src: short, scale: Scaling{Clients: 3},
			phases: []phaseShape{{"ramp-up", 2 * time.Second, 3}, {"steady", 8 * time.Second, 3}}, echoRate: 5},
		{name: "short: duration keeps the ramp", src: short, scale: Scaling{Duration: 30 * time.Second},
			phases: []phaseShape{{"ramp-up", 2 * time.Second, 10}, {"steady", 28 * time.Second, 10}}, echoRate: 5},
		{name: "short: duration shorter than the ramp", src: short, scale: Scaling{Duration: time.Second},
			phases: []phaseShape{{"ramp-up", 200 * time.Millisecond, 10}, {"steady", 800 * time.Millisecond, 10}}, echoRate: 5},
		{name: "short: rate", src: short, scale: Scaling{Rate: rate(50)},
			phases: []phaseShape{{"ramp-up", 2 * time.Second, 10}, {"steady", 8 * time.Second, 10}}, echoRate: 50},
		{name: "short: everything", src: short, scale: Scaling{Clients: 1, Duration: 5 * time.Second, Rate: rate(0)},
			phases: []phaseShape{{"ramp-up", 2 * time.Second, 1}, {"steady", 3 * time.Second, 1}}, echoRate: 0},
		{name: "short: nothing", src: short, scale: Scaling{},
			phases: []phaseShape{{"ramp-up", 2 * time.Second, 10}, {"steady", 8 * time.Second, 10}}, echoRate: 5},
		{name: "long: clients scale to the peak", src: long, scale: Scaling{Clients: 40},
			phases: []phaseShape{{"warm", 10 * time.Second, 10}, {"peak", 20 * time.Second, 40}, {"cool", 10 * time.Second, 6}}, echoRate: 2},
		{name: "long: clients round to whole clients", src: long, scale: Scaling{Clients: 3},
			phases: []phaseShape{{"warm", 10 * time.Second, 1}, {"peak", 20 * time.Second, 3}, {"cool", 10 * time.Second, 0}}, echoRate: 2},
		{name: "long: duration in proportion", src: long, scale: Scaling{Duration: 4 * time.Second},
			phases: []phaseShape{{"warm", time.Second, 5}, {"peak", 2 * time.Second, 20}, {"cool", time.Second, 3}}, echoRate: 2},
		{name: "long: uneven duration adds up exactly", src: long, scale: Scaling{Duration: time.Second},
			phases: []phaseShape{{"warm", 250 * time.Millisecond, 5}, {"peak", 500 * time.Millisecond, 20}, {"cool", 250 * time.Millisecond, 3}}, echoRate: 2},
		{name: "long: rate has nothing to set", src: long, scale: Scaling{Rate: rate(1)}, err: "rate: applies to the short form's message"},
		{name: "open model: clients", src: open, scale: Scaling{Clients: 5}, err: "clients: no phase has clients"},
		{name: "open model: duration", src: open, scale: Scaling{Duration: 20 * time.Second},
			phases: []phaseShape{{"phase-1", 20 * time.Second, -1}}, echoRate: -1},
		{name: "phases with a message: clients", src: mixed, scale: Scaling{Clients: 8, Rate: rate(1)},
			phases: []phaseShape{{"only", 4 * time.Second, 8}}, echoRate: 1},
		{name: "negative clients", src: short, scale: Scaling{Clients: -1}, err: "clients: must be at least 1"},
		{name: "negative duration", src: short, scale: Scaling{Duration: -time.Second}, err: "duration: must be positive"},
		{name: "negative rate", src: short, scale: Scaling{Rate: rate(-1)}, err: "rate: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sc := loadForScale(t, tt.src)
			orig := sc.Clone()
			err := sc.Scale(tt.scale)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := shape(sc); !reflect.DeepEqual(got, tt.phases) {
				t.Errorf("phases %+v, want %+v", got, tt.phases)
			}
			if tt.echoRate >= 0 {
				if e := sc.Flows[0].Steps[1].Echo; e == nil || e.Rate != tt.echoRate {
					t.Errorf("echo step %+v, want rate %g", e, tt.echoRate)
				}
			}
			if ps := sc.Validate(); len(ps) > 0 {
				t.Errorf("scaled scenario is invalid: %v", ps)
			}
			if tt.scale == (Scaling{}) && !reflect.DeepEqual(sc, orig) {
				t.Error("an empty Scaling changed the scenario")
			}
		})
	}
}

// Every example scenario and every valid test scenario clones to an equal
// scenario that shares no memory with it.
func TestClone(t *testing.T) {
	files, _ := filepath.Glob("../scenarios/*.yaml")
	good, _ := filepath.Glob("testdata/good/*.yaml")
	files = append(files, good...)
	if len(files) < 5 {
		t.Fatalf("found only %d scenarios", len(files))
	}
	for _, f := range files {
		sc, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		c := sc.Clone()
		if !reflect.DeepEqual(sc, c) {
			t.Errorf("%s: the clone differs", f)
		}
		if p := sharedMemory(reflect.ValueOf(sc), reflect.ValueOf(c), "scenario"); p != "" {
			t.Errorf("%s: the clone shares %s with the original", f, p)
		}
	}
	var nilSc *Scenario
	if nilSc.Clone() != nil {
		t.Error("nil clones to non-nil")
	}
}

func TestCloneKeepsPayloadTypes(t *testing.T) {
	sc := loadForScale(t, `target: builtin
clients: 1
duration: 1s
flows:
  - name: f
    steps:
      - connect: {path: /echo}
      - send: {json: {id: 5, tags: [a, {n: 1}]}}
`)
	c := sc.Clone()
	if !reflect.DeepEqual(sc.Flows[0].Steps[1].Send.JSON, c.Flows[0].Steps[1].Send.JSON) {
		t.Fatalf("payload %#v cloned as %#v", sc.Flows[0].Steps[1].Send.JSON, c.Flows[0].Steps[1].Send.JSON)
	}
	if p := sharedMemory(reflect.ValueOf(sc), reflect.ValueOf(c), "scenario"); p != "" {
		t.Errorf("the clone shares %s", p)
	}
}

// sharedMemory returns the path of the first pointer, map or non-empty
// slice that a and b share, or "".
func sharedMemory(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Pointer, reflect.Map:
		if a.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		if a.Kind() == reflect.Pointer {
			return sharedMemory(a.Elem(), b.Elem(), path)
		}
		iter := a.MapRange()
		for iter.Next() {
			if p := sharedMemory(iter.Value(), b.MapIndex(iter.Key()), path+"["+iter.Key().String()+"]"); p != "" {
				return p
			}
		}
	case reflect.Interface:
		if !a.IsNil() {
			return sharedMemory(a.Elem(), b.Elem(), path)
		}
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for i := range a.Len() {
			if p := sharedMemory(a.Index(i), b.Index(i), path+"[]"); p != "" {
				return p
			}
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				if p := sharedMemory(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
					return p
				}
			}
		}
	}
	return ""
}
