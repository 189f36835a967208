package engine

import (
	"strings"
	"testing"

	"github.com/wsbench/wsbench/metrics"
)

// A step that fails to compile fails its flow, whatever the step compiles
// after the failing part: a request's bad text template is not forgotten
// because its reply pattern is fine (it once was). Validation catches
// these first; compileFlow must not rely on it.
func TestCompileErrorsAreKept(t *testing.T) {
	for _, tt := range []struct {
		name, text, regex, want string
	}{
		{"bad template, good pattern", "{{unclosed", "ok", "unclosed {{"},
		{"good template, bad pattern", "hi {{client}}", "(", "missing closing )"},
		{"bad both", "{{unclosed", "(", "unclosed {{"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := mustScenario(t, `
name: compile
target: ws://127.0.0.1:1
clients: 1
duration: 1s
flows:
  - name: api
    steps:
      - connect: {path: /echo}
      - request: {text: "hi", reply: {regex: "ok"}}
`)
			f := &sc.Flows[0]
			rq := f.Steps[1].Request
			rq.Text, rq.Reply.Regex = tt.text, tt.regex
			_, err := compileFlow(sc, f, "ws://127.0.0.1:1", metrics.NewRegistry())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("compile: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
