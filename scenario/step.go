package scenario

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// StepKind is a step's action: which of Step's action fields is set.
//
// Every kind has one entry in the step table, defined in the kind's own
// file (step_<kind>.go) with defineStep: how it is validated and completed,
// whether it needs a connection, what it records. The engine keeps the
// other half of each entry (how a kind is compiled and run) keyed by the
// same StepKind. A new step kind is its field in Step, its constant here,
// one file in this package and one in package engine, plus their tests;
// TestStepTableComplete fails while either half is missing.
type StepKind uint8

// The step kinds, in the order they are listed to users (and in the JSON
// Schema's oneOf).
const (
	KindNone StepKind = iota // no action, or more than one
	KindConnect
	KindSend
	KindEcho
	KindExpect
	KindRequest
	KindSleep
	KindThink
	KindLoop
	KindPing
	KindClose
	KindReconnect
	KindPublish
	KindListen
	numKinds
)

// connEffect is what a step does to the flow's connection, for the check
// that steps needing one come after a connect.
type connEffect uint8

const (
	connKeeps  connEffect = iota
	connOpens             // connect, reconnect
	connCloses            // close
)

// stepDef is the scenario's half of a step kind's entry.
type stepDef struct {
	// name is the action's YAML key (and the kind's name in labels).
	name string
	// needsConn: the step runs on the flow's open connection.
	needsConn bool
	// conn is what the step does to the connection.
	conn connEffect
	// bare: every setting of the action is optional, so it may be written
	// without a value (`- listen:`, which YAML reads as null).
	bare bool
	// builtinMetric is the built-in metric the step may record into by
	// default (echo: rtt, ping: ping); other built-in names are refused.
	builtinMetric string

	// validate reports the action's problems; nil: none possible.
	validate func(c *stepCheck)
	// complete fills the action's defaults; nil: none.
	complete func(s *Step)
	// metric returns the latency metric the step records into, "" for
	// none; service, whether it also records the service view (the round
	// trips from the actual write, metrics.ServiceSuffix).
	metric  func(s *Step) string
	service func(s *Step) bool
	// rate points at the messages per second the step sends on an open
	// schedule (0: not scheduled), for scaling a scenario's message rate;
	// nil for kinds that send no scheduled messages.
	rate func(s *Step) *float64
	// steps returns the steps the action runs in turn (loop); nil for
	// none.
	steps func(s *Step) []Step
	// captures returns the variables the step captures; nil for none.
	captures func(s *Step) map[string]string

	field int // index of the action's field in Step, from name
}

var stepDefs [numKinds]*stepDef

// defineStep enters kind's scenario entry in the table; each kind's file
// calls it from init.
func defineStep(kind StepKind, d *stepDef) {
	if kind <= KindNone || kind >= numKinds {
		panic(fmt.Sprintf("scenario: step kind %d out of range", kind))
	}
	if stepDefs[kind] != nil {
		panic("scenario: step kind " + d.name + " defined twice")
	}
	f, ok := actionField(d.name)
	if !ok {
		panic("scenario: step kind " + d.name + " has no field in Step")
	}
	d.field = f
	stepDefs[kind] = d
}

// actionField returns the index of Step's action field whose YAML key is
// name.
func actionField(name string) (int, bool) {
	t := reflect.TypeFor[Step]()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == name && f.Type.Kind() == reflect.Pointer {
			return i, true
		}
	}
	return 0, false
}

// def returns k's entry; nil for KindNone.
func (k StepKind) def() *stepDef {
	if k <= KindNone || k >= numKinds {
		return nil
	}
	return stepDefs[k]
}

// String returns the kind's YAML key ("" for KindNone).
func (k StepKind) String() string {
	if d := k.def(); d != nil {
		return d.name
	}
	return ""
}

// NeedsConnection reports whether a step of kind k runs on the flow's open
// connection (and fails when there is none).
func (k StepKind) NeedsConnection() bool {
	d := k.def()
	return d != nil && d.needsConn
}

// Kinds returns every step kind, in order.
func Kinds() []StepKind {
	out := make([]StepKind, 0, numKinds-1)
	for k := KindNone + 1; k < numKinds; k++ {
		out = append(out, k)
	}
	return out
}

// StepKindNames returns the step actions as written in YAML, in order.
func StepKindNames() []string {
	var out []string
	for _, k := range Kinds() {
		out = append(out, k.String())
	}
	return out
}

// Actions returns every action set on s, in kind order.
func (s *Step) Actions() []StepKind {
	v := reflect.ValueOf(s).Elem()
	var out []StepKind
	for _, k := range Kinds() {
		if d := k.def(); d != nil && !v.Field(d.field).IsNil() {
			out = append(out, k)
		}
	}
	return out
}

// Kind returns s's action, or KindNone when it has none or several.
func (s *Step) Kind() StepKind {
	if a := s.Actions(); len(a) == 1 {
		return a[0]
	}
	return KindNone
}

// StepMetric returns the latency metric a step records into, or "" for
// steps that record none.
func (s *Step) StepMetric() string {
	if d := s.Kind().def(); d != nil && d.metric != nil {
		return d.metric(s)
	}
	return ""
}

// ServiceMetric reports whether the step also records the service view of
// its metric (open-loop round trips from the actual write).
func (s *Step) ServiceMetric() bool {
	d := s.Kind().def()
	return d != nil && d.service != nil && d.service(s)
}

// Rate points at the messages per second s sends on an open schedule, or
// is nil for a step that sends none. Changing the value changes the step.
func (s *Step) Rate() *float64 {
	if d := s.Kind().def(); d != nil && d.rate != nil {
		return d.rate(s)
	}
	return nil
}

// Steps returns the steps s runs in turn (a loop's), or nil.
func (s *Step) Steps() []Step {
	if d := s.Kind().def(); d != nil && d.steps != nil {
		return d.steps(s)
	}
	return nil
}

// WalkSteps calls f for each step, depth first, each step before the steps
// it runs in turn; f returning false stops the walk, and WalkSteps then
// returns false.
func WalkSteps(steps []Step, f func(s *Step) bool) bool {
	for i := range steps {
		s := &steps[i]
		if !f(s) || !WalkSteps(s.Steps(), f) {
			return false
		}
	}
	return true
}

// bareAction reports whether t is the type of an action that may be
// written without a value.
func bareAction(t reflect.Type) bool { return bareTypes()[t] }

var bareTypes = sync.OnceValue(func() map[reflect.Type]bool {
	st := reflect.TypeFor[Step]()
	m := map[reflect.Type]bool{}
	for _, k := range Kinds() {
		if d := k.def(); d != nil && d.bare {
			m[st.Field(d.field).Type.Elem()] = true
		}
	}
	return m
})
