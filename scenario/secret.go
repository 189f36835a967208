package scenario

import (
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
)

// Values from the environment are treated as secrets: wsbench cannot tell
// a token from a host name, and a CI log or a report attached to a pull
// request is the wrong place for either to leak. So every string a
// scenario takes from the environment (through ${NAME}) is used as it is
// by the run and shown as *** everywhere wsbench shows it: the scenario
// embedded in reports, `validate --print`, error messages and logs.
// Numbers, durations, sizes and booleans from the environment are load
// settings, not credentials, and stay visible.

// minMaskedLen is the shortest environment value Mask looks for inside
// other text. A shorter one is masked where it was substituted but not
// searched for in free text (masking every "1" or "ab" would make
// messages unreadable without hiding anything worth hiding).
const minMaskedLen = 4

// Mask returns text with every value the scenario took from the
// environment replaced by *** (MaskText). Error messages, logs and the
// report's target go through it.
func (sc *Scenario) Mask(text string) string {
	if sc == nil || sc.meta == nil {
		return text
	}
	m := sc.meta
	for _, real := range m.order {
		text = strings.ReplaceAll(text, real, m.masks[real])
	}
	for _, s := range m.secrets {
		if len(s) >= minMaskedLen {
			text = strings.ReplaceAll(text, s, MaskText)
		}
	}
	return text
}

// HasSecrets reports whether the scenario took any text from the
// environment.
func (sc *Scenario) HasSecrets() bool {
	return sc != nil && sc.meta != nil && len(sc.meta.masks) > 0
}

// Redacted returns the scenario as wsbench shows it (in reports and
// `validate --print`): a deep copy in which every string is masked. Without such strings it returns
// sc itself. The run always uses sc.
func (sc *Scenario) Redacted() *Scenario {
	if !sc.HasSecrets() {
		return sc
	}
	// Mask, not just the strings as substituted: a copy may have derived
	// new ones (a capacity step names itself after the scenario).
	return sc.mapStrings(sc.Mask)
}

// YAML returns the completed scenario as `wsbench validate --print` shows
// it: redacted, and with every $ written $$ so that the text loads back to
// the same scenario (bar the masked values).
func (sc *Scenario) YAML() ([]byte, error) {
	r := sc.Redacted()
	return yaml.Marshal(r.mapStrings(func(s string) string { return strings.ReplaceAll(s, "$", "$$") }))
}

// mapStrings returns a deep copy of sc with f applied to every string.
func (sc *Scenario) mapStrings(f func(string) string) *Scenario {
	out := mapStrings(reflect.ValueOf(sc).Elem(), f)
	cp := out.Interface().(Scenario)
	return &cp
}

// mapStrings deep-copies v, applying f to every string.
func mapStrings(v reflect.Value, f func(string) string) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		if m := f(v.String()); m != v.String() {
			return reflect.ValueOf(m).Convert(v.Type())
		}
	case reflect.Pointer:
		if !v.IsNil() {
			p := reflect.New(v.Type().Elem())
			p.Elem().Set(mapStrings(v.Elem(), f))
			return p
		}
	case reflect.Interface:
		if !v.IsNil() {
			out := reflect.New(v.Type()).Elem()
			out.Set(mapStrings(v.Elem(), f))
			return out
		}
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v) // unexported fields (meta) are shared
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(mapStrings(v.Field(i), f))
			}
		}
		return out
	case reflect.Slice:
		if !v.IsNil() {
			out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for i := range v.Len() {
				out.Index(i).Set(mapStrings(v.Index(i), f))
			}
			return out
		}
	case reflect.Map:
		if !v.IsNil() {
			out := reflect.MakeMapWithSize(v.Type(), v.Len())
			for it := v.MapRange(); it.Next(); {
				out.SetMapIndex(it.Key(), mapStrings(it.Value(), f))
			}
			return out
		}
	}
	return v
}

// ShareLoaded gives sc what Parse loaded for from besides its values: the
// rows of its data files, the values from the environment that must be
// masked, where each field was written. A copy of a scenario made through
// JSON or YAML (as for each level of a capacity search) loses them; the
// copier calls this. A plain struct copy keeps them.
func (sc *Scenario) ShareLoaded(from *Scenario) {
	sc.meta = from.meta
}

// MaskError is Mask for errors: it returns err with its message masked
// and err itself still in the chain (for errors.Is and errors.As), or err
// unchanged when there is nothing to mask.
func (sc *Scenario) MaskError(err error) error {
	if err == nil || !sc.HasSecrets() {
		return err
	}
	if msg := sc.Mask(err.Error()); msg != err.Error() {
		return &maskedError{msg: msg, err: err}
	}
	return err
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }
