package engine

import (
	"fmt"
	"regexp"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/scenario"
)

// flow is a scenario flow prepared for execution: templates parsed,
// regular expressions compiled, metrics resolved to IDs, so sessions do no
// parsing on the hot path.
type flow struct {
	f        *scenario.Flow
	steps    []*step
	hasInbox bool // some step reads unmarked messages (expect, json request)
	member   bool // connections join the broadcast ledger (publish or listen)
	inflight int  // largest closed-loop echo window, 0 if none
	pings    bool // some step is a ping (its connections need a pong channel)
	// service pairs each open-loop echo metric with its service view
	// (the same round trips measured from the actual write).
	service map[metrics.ID]metrics.ID
}

type step struct {
	s         *scenario.Step
	kind      scenario.StepKind
	impl      *stepImpl
	needsConn bool
	label     string // "flow/name" for errors_by_step
	metric    metrics.ID
	url       scenario.Template // connect: full URL template
	raw       string            // connect: the URL as written, the room pattern
	hdrs      map[string]scenario.Template
	text      scenario.Template
	re        *regexp.Regexp
	replyRe   *regexp.Regexp
	loop      []*step
}

func compileFlow(sc *scenario.Scenario, f *scenario.Flow, base string, reg *metrics.Registry) (*flow, error) {
	cf := &flow{f: f}
	cc := &compiler{f: cf, base: base, reg: reg}
	steps, err := cc.steps(f.Steps, f.Name)
	cf.steps = steps
	return cf, err
}

// steps compiles a list of steps whose labels start with prefix.
func (cc *compiler) steps(in []scenario.Step, prefix string) ([]*step, error) {
	var out []*step
	for i := range in {
		s := &in[i]
		kind := s.Kind()
		impl := implOf(kind)
		if impl == nil {
			return nil, fmt.Errorf("%s: step %d: no runnable action (kind %q)", prefix, i+1, kind)
		}
		st := &step{s: s, kind: kind, impl: impl, needsConn: kind.NeedsConnection(), metric: -1}
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("%s#%d", kind, i+1)
		}
		st.label = prefix + "/" + name
		if m := s.StepMetric(); m != "" {
			st.metric = cc.reg.Add(m)
		}
		if impl.compile != nil {
			if err := impl.compile(cc, st); err != nil {
				return nil, fmt.Errorf("%s: %w", st.label, err)
			}
		}
		out = append(out, st)
	}
	return out, nil
}
