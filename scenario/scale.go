package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Clone returns a deep copy of sc: changing the copy (scaling it, sharing
// it among generators, filling in a target) leaves sc as it was. Values
// keep their dynamic types, so a JSON payload's numbers stay the numbers
// the YAML decoder made (a copy through JSON would turn them into
// float64s).
func (sc *Scenario) Clone() *Scenario {
	if sc == nil {
		return nil
	}
	return deepCopy(reflect.ValueOf(sc)).Interface().(*Scenario)
}

// deepCopy copies v, following pointers, slices, maps and interfaces.
// Scenario types have exported fields only; an unexported one would be
// copied shallowly.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(deepCopy(v.Elem()))
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(deepCopy(v.Elem()))
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(deepCopy(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), deepCopy(iter.Value()))
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return out
	}
	return v
}

// Scaling resizes a scenario; a zero field leaves that dimension as it is.
type Scaling struct {
	// Clients is the peak number of concurrent clients. The short form's
	// clients is replaced; the closed-model phases of the long form are
	// scaled in proportion so that the busiest one has Clients.
	Clients int
	// Duration is the total run time. The short form's duration is
	// replaced (a ramp-up that no longer fits becomes a fifth of it); the
	// phases of the long form are stretched or shrunk in proportion.
	Duration time.Duration
	// Rate, when not nil, is the short form's message rate per client per
	// second (0: closed loop). A scenario whose flows are written out has
	// no single rate to set.
	Rate *float64
}

// Scale applies s to the completed scenario sc (as Load returns it) and
// expands the short form again where it changed. It does not validate
// the result; call Validate. Errors name the field of s they concern.
func (sc *Scenario) Scale(s Scaling) error {
	if s.Clients < 0 {
		return errors.New("clients: must be at least 1")
	}
	if s.Duration < 0 {
		return errors.New("duration: must be positive")
	}
	if s.Rate != nil && *s.Rate < 0 {
		return errors.New("rate: must not be negative")
	}
	// Which parts the short form made; only those are made again.
	shortPhases, shortFlows := sc.shortFormPhases(), sc.shortFormFlows()
	if s.Clients > 0 {
		if shortPhases {
			sc.Clients = s.Clients
		} else if err := scalePhaseClients(sc.Phases, s.Clients); err != nil {
			return err
		}
	}
	if s.Duration > 0 {
		if shortPhases {
			sc.Duration = Duration(s.Duration)
			if sc.RampUp >= sc.Duration {
				sc.RampUp = sc.Duration / 5
			}
		} else if err := scalePhaseDurations(sc.Phases, s.Duration); err != nil {
			return err
		}
	}
	if s.Rate != nil {
		if !shortFlows {
			return errors.New("rate: applies to the short form's message; this scenario's flows are written out, so set the rates of their steps")
		}
		sc.Message.Rate = *s.Rate
	}
	if shortPhases && (s.Clients > 0 || s.Duration > 0) {
		sc.Phases = nil
	}
	if shortFlows && s.Rate != nil {
		sc.Flows = nil
	}
	sc.Complete()
	return nil
}

// shortFormPhases reports whether sc's phases are the expansion of its
// short form (clients, ramp_up, duration), not phases written out.
func (sc *Scenario) shortFormPhases() bool {
	if sc.Clients <= 0 || sc.Duration <= 0 {
		return false
	}
	x := &Scenario{Clients: sc.Clients, RampUp: sc.RampUp, Duration: sc.Duration}
	x.Complete()
	return reflect.DeepEqual(x.Phases, sc.Phases)
}

// shortFormFlows reports whether sc's flows are the echo flow its short
// form's message expands to, not flows written out.
func (sc *Scenario) shortFormFlows() bool {
	if sc.Message == nil {
		return false
	}
	m := *sc.Message
	x := &Scenario{Message: &m}
	x.Complete()
	return reflect.DeepEqual(x.Flows, sc.Flows)
}

// scalePhaseClients scales the closed-model phases so the busiest has
// peak clients, rounding each to the nearest whole client.
func scalePhaseClients(phases []Phase, peak int) error {
	most := 0
	for _, p := range phases {
		if p.Clients != nil {
			most = max(most, *p.Clients)
		}
	}
	if most == 0 {
		return fmt.Errorf("clients: no phase has clients above zero to scale (open-model phases set arrival_rate; scale those in the file)")
	}
	for i := range phases {
		if c := phases[i].Clients; c != nil {
			n := (*c*peak + most/2) / most
			phases[i].Clients = &n
		}
	}
	return nil
}

// scalePhaseDurations stretches every phase by the same factor so the
// phases last total together.
func scalePhaseDurations(phases []Phase, total time.Duration) error {
	var old time.Duration
	for _, p := range phases {
		old += p.Duration.D()
	}
	if old <= 0 {
		return errors.New("duration: the phases last zero seconds: nothing to scale")
	}
	f := float64(total) / float64(old)
	var sum time.Duration
	longest := 0
	for i := range phases {
		phases[i].Duration = Duration(float64(phases[i].Duration) * f)
		sum += phases[i].Duration.D()
		if phases[i].Duration > phases[longest].Duration {
			longest = i
		}
	}
	// Rounding leaves the total a few nanoseconds off; the longest phase
	// absorbs it, so the run lasts exactly total.
	phases[longest].Duration += Duration(total - sum)
	return nil
}
