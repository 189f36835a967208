package scenario

import (
	"fmt"
	"strings"
)

// Template is a string with {{variable}} references, parsed once so a
// session renders it without re-scanning. A variable is a name
// (BuiltinVars, a flow's vars, a captured value) or source.column, a
// column of a data file's row.
type Template struct {
	parts []tplPart
}

type tplPart struct {
	lit string
	v   string // variable name, when lit is not used
}

// BuiltinVars are the variables every template can use.
var BuiltinVars = []string{"session", "client", "flow", "iteration", "seq", "time_ms", "random"}

// ParseTemplate parses s.
func ParseTemplate(s string) (Template, error) {
	var t Template
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			if s != "" {
				t.parts = append(t.parts, tplPart{lit: s})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{lit: s[:i]})
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return t, fmt.Errorf("unclosed {{ in %q", s)
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		if !isVarName(name) {
			return t, fmt.Errorf("bad variable name %q (letters, digits and _ only; a data file's column is {{source.column}})", name)
		}
		t.parts = append(t.parts, tplPart{v: name})
		s = s[i+j+2:]
	}
}

// MustTemplate parses s and panics on error; for templates already validated.
func MustTemplate(s string) Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// Vars returns the variables t refers to.
func (t Template) Vars() []string {
	var vs []string
	for _, p := range t.parts {
		if p.v != "" {
			vs = append(vs, p.v)
		}
	}
	return vs
}

// Static reports whether t has no variables.
func (t Template) Static() bool { return len(t.Vars()) == 0 }

// Render appends t to dst with variables looked up by lookup.
func (t Template) Render(dst []byte, lookup func(name string) string) []byte {
	for _, p := range t.parts {
		if p.v != "" {
			dst = append(dst, lookup(p.v)...)
		} else {
			dst = append(dst, p.lit...)
		}
	}
	return dst
}

// isVarName reports whether s names a template variable: an identifier,
// or source.column for a data file's column.
func isVarName(s string) bool {
	src, col, dotted := strings.Cut(s, ".")
	if dotted {
		return isIdent(src) && isIdent(col)
	}
	return isIdent(s)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
