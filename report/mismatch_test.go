package report

import (
	"strings"
	"testing"
)

func TestScenarioMismatch(t *testing.T) {
	t.Parallel()
	with := func(scenario string) *Report {
		return &Report{Schema: SchemaVersion, Scenario: []byte(scenario), Metrics: map[string]*Metric{}}
	}
	const (
		chat      = `{"name":"chat","phases":[{"clients":10}],"flows":[{"name":"f","steps":[{"echo":{}}]}]}`
		chatShare = `{"name":"chat","phases":[{"clients":5}],"flows":[{"name":"f","steps":[{"echo":{}}]}]}`
		chatEdit  = `{"name":"chat","phases":[{"clients":10}],"flows":[{"name":"f","steps":[{"sleep":"1s"}]}]}`
		ticker    = `{"name":"ticker","phases":[{"clients":10}],"flows":[]}`
	)
	tests := []struct {
		name    string
		a, b    string
		merge   string // ScenarioMismatch's error, "" for none
		compare string // Compare's warning, "" for none
	}{
		{name: "same", a: chat, b: chat},
		{name: "different names", a: chat, b: ticker,
			merge: `different scenarios ("chat", "ticker")`, compare: `DIFFERENT SCENARIOS: base ran "chat", new ran "ticker"`},
		{name: "same name, other flows", a: chat, b: chatEdit,
			merge: `report 2's scenario "chat" has different flows`, compare: `DIFFERENT SCENARIOS: new's scenario "chat" has other flows`},
		{name: "a generator's share", a: chat, b: chatShare,
			compare: `different load: new ran scenario "chat" with other phases`},
		{name: "no scenario", a: chat, b: ``,
			merge: `different scenarios ("chat", (no scenario))`, compare: `new ran (no scenario)`},
	}
	for _, tt := range tests {
		a, b := with(tt.a), with(tt.b)
		err := ScenarioMismatch(a, b)
		if (err == nil) != (tt.merge == "") || err != nil && !strings.Contains(err.Error(), tt.merge) {
			t.Errorf("%s: ScenarioMismatch %v, want %q", tt.name, err, tt.merge)
		}
		c := Compare([]*Report{a}, []*Report{b}, CompareOptions{})
		got := strings.Join(c.Warnings, "\n")
		if (got == "") != (tt.compare == "") || !strings.Contains(got, tt.compare) {
			t.Errorf("%s: Compare warnings %q, want %q", tt.name, got, tt.compare)
		}
	}
}
