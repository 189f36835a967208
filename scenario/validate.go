package scenario

import (
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/wsbench/wsbench/metrics"
	"github.com/wsbench/wsbench/targets/catalog"
	"github.com/wsbench/wsbench/threshold"
)

// Validate reports every problem of a completed scenario at once. The
// problems carry field paths as the user wrote the file (the short form's
// message.rate, not the flow it expands to); Parse adds file positions.
// Values from the environment are masked in the messages.
func (sc *Scenario) Validate() Problems {
	v := &validator{sc: sc}
	v.target()
	v.tls()
	v.phases()
	v.data()
	v.flows()
	v.thresholds()
	v.capacity()
	v.finite(reflect.ValueOf(sc).Elem(), "")
	for i := range v.ps {
		v.ps[i].Field = sc.userField(v.ps[i].Field)
		v.ps[i].Msg = sc.Mask(v.ps[i].Msg)
	}
	return dedupe(v.ps)
}

// userField maps a field path of the completed scenario to the one the
// user wrote: the short form's phases and echo flow are not in the file,
// the fields they came from are.
func (sc *Scenario) userField(f string) string {
	if sc.meta == nil {
		return f
	}
	if !sc.meta.written("flows") && sc.Message != nil && within(f, "flows[0]") {
		if rest, ok := strings.CutPrefix(f, "flows[0].steps[1].echo."); ok {
			switch rest {
			case "rate", "size", "inflight", "binary":
				return "message." + rest
			}
		}
		return "message"
	}
	if !sc.meta.written("phases") && len(sc.Phases) > 0 && within(f, "phases") {
		var i int
		if _, err := fmt.Sscanf(f, "phases[%d]", &i); err == nil && strings.HasSuffix(f, ".duration") &&
			i < len(sc.Phases) && sc.Phases[i].Name == "ramp-up" {
			return "ramp_up"
		}
		if strings.HasSuffix(f, ".duration") {
			return "duration"
		}
		return "clients"
	}
	return f
}

type validator struct {
	sc       *Scenario
	ps       Problems
	captures map[string]bool // every variable the current flow captures, anywhere
}

// notFromEnv reports a name with text from the environment: reports show
// the names of flows, steps, phases and metrics as they are (thresholds
// refer to them), so they cannot hold what must be masked.
func (v *validator) notFromEnv(field, name string) bool {
	if v.sc.HasSecrets() && v.sc.Mask(name) != name {
		v.add(field, "a name cannot take text from the environment: reports show it as it is")
		return false
	}
	return true
}

// written reports whether the file gave field; for a scenario built in
// code, whether the field is set.
func (v *validator) written(field string) bool {
	if v.sc.meta != nil {
		return v.sc.meta.written(field)
	}
	switch field {
	case "clients":
		return v.sc.Clients != 0
	case "duration":
		return v.sc.Duration != 0
	}
	return false
}

func (v *validator) add(field, format string, args ...any) {
	v.ps = append(v.ps, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) target() {
	t := v.sc.Target
	switch {
	case t == "" && v.sc.StartTarget != nil:
	case t == "":
		v.add("target", "missing: give `builtin` (the in-process reference server), a ws:// URL, or start_target")
	case t == "builtin":
	default:
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			v.add("target", "%q is not `builtin` or a ws:// or wss:// URL", t)
		}
	}
	if v.sc.Builtin != nil && t != "builtin" {
		v.add("builtin", "settings for the built-in server, but target is %q", t)
	}
	if st := v.sc.StartTarget; st != nil {
		switch {
		case len(st.Command) == 0 && st.Name == "":
			v.add("start_target", "give name (go, tornado, twisted, websockets, aiohttp) or command")
		case len(st.Command) > 0 && st.Name != "":
			v.add("start_target", "give name or command, not both")
		case st.Name != "" && !catalog.IsKnown(st.Name):
			v.add("start_target.name", "%q: want one of %s", st.Name, catalog.List())
		case len(st.Command) > 0 && (len(st.Args) > 0 || st.PingInterval != nil || st.PingTimeout > 0 || st.MaxMessageSize > 0):
			v.add("start_target", "args and ping/size settings apply to a named target; put them in the command")
		}
		if st.Topology() {
			switch {
			case len(st.Command) > 0:
				v.add("start_target", "processes, bus, proxy, balance, loop and accel apply to a named target")
			case catalog.IsKnown(st.Name):
				for _, p := range st.ScaleOut().Problems() {
					v.add("start_target."+p.Field, "%s", p.Msg)
				}
			}
		}
		if st.StopSignal != "" && st.StopSignal != "TERM" && st.StopSignal != "INT" {
			v.add("start_target.stop_signal", "%q: want TERM or INT", st.StopSignal)
		}
		if t != "" && t != "builtin" {
			v.add("target", "the target comes from start_target: leave target out (or use --target to run against another server)")
		}
	}
	for i, a := range v.sc.Client.SourceAddrs {
		if !strings.HasPrefix(a, "127.") && a != "::1" {
			v.add(fmt.Sprintf("client.source_addrs[%d]", i), "%q: only loopback source addresses are supported", a)
		}
	}
}

func (v *validator) phases() {
	sc := v.sc
	if len(sc.Phases) == 0 {
		// The short form did not expand. Written values are wrong; a
		// missing one is missing; with nothing written at all, say what a
		// load profile is.
		wroteClients, wroteDuration := v.written("clients"), v.written("duration")
		if sc.Clients <= 0 && sc.Duration <= 0 && !wroteClients && !wroteDuration {
			v.add("phases", "no load profile: give clients and duration, or a list of phases")
			return
		}
		switch {
		case sc.Clients <= 0 && (wroteClients || sc.Clients < 0):
			v.add("clients", "must be at least 1")
		case sc.Clients <= 0:
			v.add("clients", "missing: the short form needs clients (at least 1) beside duration, or give phases")
		}
		switch {
		case sc.Duration <= 0 && wroteDuration:
			v.add("duration", "must be longer than zero")
		case sc.Duration <= 0:
			v.add("duration", "missing: the short form needs a duration (longer than zero) beside clients, or give phases")
		}
		return
	}
	if sc.RampUp > 0 && sc.Duration > 0 && sc.RampUp >= sc.Duration {
		v.add("ramp_up", "%s is not shorter than duration %s (duration includes the ramp)", sc.RampUp.D(), sc.Duration.D())
	}
	for i, p := range sc.Phases {
		f := fmt.Sprintf("phases[%d]", i)
		v.notFromEnv(f+".name", p.Name)
		switch {
		case p.Clients == nil && p.ArrivalRate == nil:
			v.add(f, "set clients (closed model) or arrival_rate (open model)")
		case p.Clients != nil && p.ArrivalRate != nil:
			v.add(f, "set clients or arrival_rate, not both")
		case p.Clients != nil && *p.Clients < 0:
			v.add(f+".clients", "must not be negative")
		case p.ArrivalRate != nil && *p.ArrivalRate < 0:
			v.add(f+".arrival_rate", "must not be negative")
		}
	}
	if sc.TotalDuration() <= 0 {
		v.add("phases", "the phases last zero seconds in total")
	}
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedMetricNames are names a step metric must not take, because
// thresholds would not know which one is meant.
var reservedMetricNames = threshold.ReservedNames()

func (v *validator) flows() {
	names := map[string]bool{}
	metricOwner := map[string]string{}
	for i, f := range v.sc.Flows {
		p := fmt.Sprintf("flows[%d]", i)
		switch {
		case f.Name == "":
			v.add(p+".name", "missing")
		case names[f.Name]:
			v.add(p+".name", "%q is used by another flow", f.Name)
		}
		v.notFromEnv(p+".name", f.Name)
		names[f.Name] = true
		if f.Weight < 0 {
			v.add(p+".weight", "must be at least 1")
		}
		if f.OnError != "end" && f.OnError != "reconnect" {
			v.add(p+".on_error", "%q: want end or reconnect", f.OnError)
		}
		if f.Backoff.Factor < 1 {
			v.add(p+".backoff.factor", "must be at least 1")
		}
		if f.Backoff.Jitter < 0 || f.Backoff.Jitter > 1 {
			v.add(p+".backoff.jitter", "must be between 0 and 1")
		}
		if len(f.Steps) == 0 {
			v.add(p+".steps", "a flow needs at least one step")
			continue
		}
		vars := map[string]bool{}
		for _, b := range BuiltinVars {
			vars[b] = true
		}
		for k := range f.Vars {
			if !identRe.MatchString(k) {
				v.add(p+".vars."+k, "variable names use letters, digits and _")
			}
			vars[k] = true
		}
		v.captures = map[string]bool{}
		collectCaptures(f.Steps, v.captures)
		connected := false
		v.steps(p+".steps", f.Steps, vars, &connected, metricOwner)
	}
}

func (v *validator) steps(p string, steps []Step, vars map[string]bool, connected *bool, metricOwner map[string]string) {
	for i := range steps {
		s := &steps[i]
		sp := fmt.Sprintf("%s[%d]", p, i)
		actions := s.Actions()
		if len(actions) == 0 {
			v.add(sp, "no action: give one of %s", strings.Join(StepKindNames(), ", "))
			continue
		}
		if len(actions) > 1 {
			names := make([]string, len(actions))
			for j, k := range actions {
				names[j] = k.String()
			}
			v.add(sp, "one action per step, found %d (%s)", len(actions), strings.Join(names, ", "))
			continue
		}
		kind := actions[0]
		d := kind.def()
		ap := sp + "." + d.name
		if d.needsConn && !*connected {
			v.add(ap, "needs a connection: put a connect step before it")
		}
		named := v.notFromEnv(sp+".name", s.Name)
		if s.Echo != nil && s.Echo.Metric != s.Name {
			named = v.notFromEnv(ap+".metric", s.Echo.Metric) && named
		}
		if m := s.StepMetric(); m != "" && named {
			// The metric is named by the step's name, or by an echo's
			// metric: blame the one the user wrote.
			mf := sp + ".name"
			if s.Echo != nil && s.Echo.Metric != s.Name {
				mf = ap + ".metric"
			}
			switch {
			case !identRe.MatchString(m):
				v.add(mf, "metric name %q: use letters, digits and _", m)
			case slices.Contains(reservedMetricNames, m):
				v.add(mf, "metric name %q is reserved", m)
			case metrics.IsBuiltin(m) && m != d.builtinMetric:
				v.add(mf, "metric name %q is a built-in metric", m)
			}
			if owner, ok := metricOwner[m]; ok && owner != d.name {
				v.add(mf, "metric %q is also recorded by a %s step; give this step another name", m, owner)
			}
			metricOwner[m] = d.name
		}
		if d.validate != nil {
			d.validate(&stepCheck{v: v, s: s, field: ap, vars: vars, connected: connected, metricOwner: metricOwner})
		}
		switch d.conn {
		case connOpens:
			*connected = true
		case connCloses:
			*connected = false
		}
	}
}

// stepCheck is what a step kind's validate function works with: the step,
// the field path of its action, and the checks steps share.
type stepCheck struct {
	v           *validator
	s           *Step
	field       string          // the action's path, e.g. flows[0].steps[2].echo
	vars        map[string]bool // variables known at this step (captures add to it)
	connected   *bool
	metricOwner map[string]string
}

// add reports a problem at the action's field, or at sub below it
// (".rate").
func (c *stepCheck) add(sub, format string, args ...any) {
	c.v.add(c.field+sub, format, args...)
}

// nonNegative reports x < 0 at sub.
func (c *stepCheck) nonNegative(sub string, x float64) {
	if x < 0 {
		c.add(sub, "must not be negative")
	}
}

// template checks the template text at sub: its syntax, and that every
// variable it uses is known here or is a data column.
func (c *stepCheck) template(sub, text string) {
	v, field := c.v, c.field+sub
	t, err := ParseTemplate(text)
	if err != nil {
		v.add(field, "%v", err)
		return
	}
	for _, name := range t.Vars() {
		if src, col, dotted := strings.Cut(name, "."); dotted {
			v.dataRef(field, src, col)
			continue
		}
		if !c.vars[name] {
			known := sortedKeys(c.vars)
			msg := fmt.Sprintf("unknown variable {{%s}}", name)
			switch s := suggest(name, known); {
			case v.captures[name]:
				msg += " here: a later step captures it"
			case s != "":
				msg += "; did you mean {{" + s + "}}?"
			}
			v.add(field, "%s (known: %s)", msg, strings.Join(known, ", "))
		}
	}
}

// payload checks a send or request payload.
func (c *stepCheck) payload(pl *Payload) { c.v.payload(c.field, pl, c.template) }

// match checks a message selector at sub.
func (c *stepCheck) match(sub string, m *Match, required bool) { c.v.match(c.field+sub, m, required) }

// capture checks captured variables and makes them known to later steps.
func (c *stepCheck) capture(capture map[string]string) {
	for name, path := range capture {
		c.v.capture(c.field+".capture."+name, name, path, c.vars)
	}
}

// steps checks steps the action runs in turn, at sub.
func (c *stepCheck) steps(sub string, steps []Step) {
	c.v.steps(c.field+sub, steps, c.vars, c.connected, c.metricOwner)
}

func (v *validator) payload(p string, pl *Payload, tpl func(sub, s string)) {
	n := 0
	if pl.Text != "" {
		n++
		tpl(".text", pl.Text)
	}
	if pl.JSON != nil {
		n++
		walkStrings(pl.JSON, func(s string) { tpl(".json", s) })
	}
	if pl.Size != nil {
		n++
		d := pl.Size
		if d.Fixed < 0 || d.Min < 0 || d.Max < d.Min {
			v.add(p+".size", "sizes must be non-negative with max >= min")
		}
		if d.Dist != "" && d.Dist != "uniform" && d.Dist != "exponential" && d.Dist != "normal" {
			v.add(p+".size.dist", "%q: want uniform, exponential or normal", d.Dist)
		}
	}
	if n != 1 {
		v.add(p, "give exactly one of text, json or size")
	}
}

func (v *validator) match(p string, m *Match, required bool) {
	if required && m.Contains == "" && m.Regex == "" && len(m.JSON) == 0 {
		v.add(p, "give at least one of contains, regex or json")
	}
	if m.Regex != "" {
		if _, err := regexp.Compile(m.Regex); err != nil {
			v.add(p+".regex", "%v", err)
		}
	}
}

func (v *validator) capture(p, name, path string, vars map[string]bool) {
	if !identRe.MatchString(name) {
		v.add(p, "variable names use letters, digits and _")
	}
	if path == "" {
		v.add(p, "give the dotted JSON path to capture")
	}
	vars[name] = true
}

func (v *validator) capacity() {
	cp := v.sc.Capacity
	if cp == nil {
		return
	}
	switch cp.Variable {
	case "clients", "arrival_rate", "message_rate":
	default:
		v.add("capacity.variable", "%q: want clients, arrival_rate or message_rate", cp.Variable)
	}
	if cp.Start <= 0 {
		v.add("capacity.start", "must be more than zero")
	}
	if cp.Max < cp.Start {
		v.add("capacity.max", "must be at least start")
	}
	if cp.Step < 0 || (cp.Step == 0 && cp.Factor <= 1) {
		v.add("capacity", "give step > 0 (linear) or factor > 1 (geometric)")
	}
	for i, s := range cp.SLO {
		if err := v.checkThreshold(s); err != nil {
			v.add(fmt.Sprintf("capacity.slo[%d]", i), "%v", err)
		}
	}
}

// collectCaptures adds the variables steps capture to into.
func collectCaptures(steps []Step, into map[string]bool) {
	WalkSteps(steps, func(s *Step) bool {
		if d := s.Kind().def(); d != nil && d.captures != nil {
			for k := range d.captures(s) {
				into[k] = true
			}
		}
		return true
	})
}

func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case map[string]any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// finite reports every number no schedule or report can use: NaN and the
// infinities, which YAML writes as .nan and .inf. It walks the scenario by
// reflection so that no field, and no number inside a json payload, is
// missed; p is the field path of rv.
func (v *validator) finite(rv reflect.Value, p string) {
	join := func(k string) string {
		if p == "" {
			return k
		}
		return p + "." + k
	}
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := rv.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			v.add(p, "must be a finite number")
		}
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			v.finite(rv.Elem(), p)
		}
	case reflect.Slice:
		for i := range rv.Len() {
			v.finite(rv.Index(i), fmt.Sprintf("%s[%d]", p, i))
		}
	case reflect.Map:
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			v.finite(rv.MapIndex(k), join(fmt.Sprint(k)))
		}
	case reflect.Struct:
		t := rv.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if opts == "inline" {
				v.finite(rv.Field(i), p)
			} else {
				v.finite(rv.Field(i), join(name))
			}
		}
	}
}
