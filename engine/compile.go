package engine

import (
	"fmt"
	"regexp"
	"strings"

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
	// service pairs each open-loop echo metric with its service view
	// (the same round trips measured from the actual write).
	service map[metrics.ID]metrics.ID
}

type step struct {
	s       *scenario.Step
	kind    string
	label   string // "flow/name" for errors_by_step
	metric  metrics.ID
	url     scenario.Template // connect: full URL template
	raw     string            // connect: the URL as written, the room pattern
	hdrs    map[string]scenario.Template
	text    scenario.Template
	re      *regexp.Regexp
	replyRe *regexp.Regexp
	loop    []*step
}

func compileFlow(sc *scenario.Scenario, f *scenario.Flow, base string, reg *metrics.Registry) (*flow, error) {
	cf := &flow{f: f}
	steps, err := compileSteps(cf, f.Steps, f.Name, base, reg)
	cf.steps = steps
	return cf, err
}

func compileSteps(cf *flow, in []scenario.Step, prefix, base string, reg *metrics.Registry) ([]*step, error) {
	var out []*step
	for i := range in {
		s := &in[i]
		kind := s.Kind().String()
		st := &step{s: s, kind: kind, metric: -1}
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("%s#%d", kind, i+1)
		}
		st.label = prefix + "/" + name
		if m := s.StepMetric(); m != "" {
			st.metric = reg.Add(m)
		}
		var err error
		switch {
		case s.Connect != nil:
			raw := s.Connect.URL
			if raw == "" {
				raw = strings.TrimRight(base, "/") + s.Connect.Path
			}
			st.raw = raw
			if st.url, err = scenario.ParseTemplate(raw); err != nil {
				return nil, err
			}
			st.hdrs = map[string]scenario.Template{}
			for k, v := range s.Connect.Headers {
				if st.hdrs[k], err = scenario.ParseTemplate(v); err != nil {
					return nil, err
				}
			}
		case s.Send != nil:
			st.text, err = scenario.ParseTemplate(s.Send.Text)
		case s.Request != nil:
			st.text, err = scenario.ParseTemplate(s.Request.Text)
			if r := s.Request.Reply; r != nil && r.Regex != "" {
				st.replyRe, err = regexp.Compile(r.Regex)
			}
			if s.Request.Correlate != "marker" || s.Request.Reply != nil {
				cf.hasInbox = true
			}
		case s.Expect != nil:
			cf.hasInbox = true
			if s.Expect.Regex != "" {
				st.re, err = regexp.Compile(s.Expect.Regex)
			}
		case s.Echo != nil && s.Echo.Rate == 0:
			cf.inflight = max(cf.inflight, s.Echo.Inflight)
		case s.Echo != nil && st.metric >= 0:
			if cf.service == nil {
				cf.service = map[metrics.ID]metrics.ID{}
			}
			cf.service[st.metric] = reg.Add(reg.Names()[st.metric] + metrics.ServiceSuffix)
		case s.Publish != nil, s.Listen != nil:
			cf.member = true
		case s.Loop != nil:
			st.loop, err = compileSteps(cf, s.Loop.Steps, st.label, base, reg)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.label, err)
		}
		out = append(out, st)
	}
	return out, nil
}
