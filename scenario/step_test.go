package scenario

import (
	"reflect"
	"strings"
	"testing"
)

// TestStepTableComplete fails when a step kind lacks its entry, or an
// action field of Step has no kind: a new kind is its field in Step, its
// constant, and its file (step_<kind>.go) defining the entry.
func TestStepTableComplete(t *testing.T) {
	seen := map[int]StepKind{}
	for _, k := range Kinds() {
		d := k.def()
		if d == nil {
			t.Errorf("step kind %d has no entry: define it in its own file with defineStep", k)
			continue
		}
		if d.name == "" || k.String() != d.name {
			t.Errorf("step kind %d: name %q", k, d.name)
		}
		if other, dup := seen[d.field]; dup {
			t.Errorf("step kinds %v and %v share the field %s", other, k, reflect.TypeFor[Step]().Field(d.field).Name)
		}
		seen[d.field] = k
	}
	st := reflect.TypeFor[Step]()
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Type.Kind() != reflect.Pointer {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		k, ok := seen[i]
		if !ok {
			t.Errorf("Step.%s (%s) is an action without a step kind", f.Name, key)
			continue
		}
		// The entry's field is the one its kind reports for a step that
		// has only that field set.
		var s Step
		reflect.ValueOf(&s).Elem().Field(i).Set(reflect.New(f.Type.Elem()))
		if got := s.Kind(); got != k {
			t.Errorf("a step with only %s set is kind %v, want %v", key, got, k)
		}
	}
}

// TestStepTableProperties pins the per-kind properties other packages
// rely on: which steps need a connection, which may be written bare,
// which record a metric, which send on a schedule.
func TestStepTableProperties(t *testing.T) {
	needsConn := map[StepKind]bool{KindSend: true, KindEcho: true, KindExpect: true, KindRequest: true,
		KindPing: true, KindClose: true, KindPublish: true, KindListen: true}
	rated := map[StepKind]bool{KindEcho: true, KindPublish: true}
	for _, k := range Kinds() {
		if got := k.NeedsConnection(); got != needsConn[k] {
			t.Errorf("%v: needs a connection %v, want %v", k, got, needsConn[k])
		}
		var s Step
		f := reflect.ValueOf(&s).Elem().Field(k.def().field)
		f.Set(reflect.New(f.Type().Elem()))
		if got := s.Rate() != nil; got != rated[k] {
			t.Errorf("%v: rate %v, want %v", k, got, rated[k])
		}
		if (k == KindLoop) != (k.def().steps != nil) {
			t.Errorf("%v: runs steps in turn: %v", k, k.def().steps != nil)
		}
	}
	for _, k := range []StepKind{KindListen, KindPing, KindClose, KindReconnect} {
		if !k.def().bare {
			t.Errorf("%v may be written bare", k)
		}
	}
}

func TestWalkSteps(t *testing.T) {
	d := Duration(1)
	steps := []Step{
		{Connect: &Connect{Path: "/"}},
		{Loop: &Loop{Steps: []Step{{Sleep: &d}, {Loop: &Loop{Steps: []Step{{Ping: &PingStep{}}}}}}}},
		{Close: &CloseStep{}},
	}
	var got []string
	WalkSteps(steps, func(s *Step) bool { got = append(got, s.Kind().String()); return true })
	if want := "connect loop sleep loop ping close"; strings.Join(got, " ") != want {
		t.Errorf("walk %v, want %s", got, want)
	}
	got = nil
	done := WalkSteps(steps, func(s *Step) bool { got = append(got, s.Kind().String()); return s.Sleep == nil })
	if done || strings.Join(got, " ") != "connect loop sleep" {
		t.Errorf("stopped walk %v (%v)", got, done)
	}
}
