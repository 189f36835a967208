package scenario

import (
	"fmt"
	"strings"
)

// Environment variables in scenario values
//
// A value may take text from the environment: ${NAME} is replaced by the
// variable NAME, ${NAME:-default} by its value or, when it is unset or
// empty, by default (which may itself contain ${...}), and $$ by a single
// $. A $ followed by anything else stays as it is. The replacement
// happens on each YAML value after parsing, so the rest of the file is
// read as written and every later error still points at the value's own
// line and column; keys are never substituted. This ${...} syntax is
// resolved once, when the file is loaded; the {{...}} templates are
// rendered per session while the run goes on, so the two never meet.

// MaskText replaces every value from the environment in what wsbench
// shows of a scenario.
const MaskText = "***"

// envPart is a piece of a value after substitution.
type envPart struct {
	text    string
	fromEnv bool   // text is an environment variable's value
	name    string // the variable, when fromEnv
}

// envResult is one value after substitution.
type envResult struct {
	parts   []envPart
	missing []string // variables without a value or default, in order
}

// real is the value as the run uses it.
func (r envResult) real() string {
	var b strings.Builder
	for _, p := range r.parts {
		b.WriteString(p.text)
	}
	return b.String()
}

// masked is the value with every piece from the environment replaced by
// MaskText.
func (r envResult) masked() string {
	var b strings.Builder
	for _, p := range r.parts {
		if p.fromEnv {
			b.WriteString(MaskText)
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// fromEnv reports whether any text of the value came from the environment.
func (r envResult) fromEnv() bool {
	for _, p := range r.parts {
		if p.fromEnv && p.text != "" {
			return true
		}
	}
	return false
}

// describe names the value in a message without showing what came from
// the environment.
func (r envResult) describe() string {
	if !r.fromEnv() {
		return quoteShort(r.real())
	}
	if len(r.parts) == 1 {
		return "the value of ${" + r.parts[0].name + "}"
	}
	return quoteShort(r.masked()) + " (" + MaskText + " from the environment)"
}

// secrets returns the pieces of the value that came from the environment.
func (r envResult) secrets() []string {
	var out []string
	for _, p := range r.parts {
		if p.fromEnv && p.text != "" {
			out = append(out, p.text)
		}
	}
	return out
}

// needsSubst reports whether s has anything substitution would touch.
func needsSubst(s string) bool { return strings.Contains(s, "$") }

// substitute expands ${NAME}, ${NAME:-default} and $$ in s. A malformed
// reference is an error; a variable that is unset and has no default is
// listed in missing, and its reference is left empty.
func substitute(s string, lookup func(string) (string, bool)) (envResult, error) {
	var r envResult
	err := r.expand(s, lookup, 0)
	return r, err
}

func (r *envResult) lit(s string) {
	if s == "" {
		return
	}
	if n := len(r.parts); n > 0 && !r.parts[n-1].fromEnv {
		r.parts[n-1].text += s
		return
	}
	r.parts = append(r.parts, envPart{text: s})
}

func (r *envResult) expand(s string, lookup func(string) (string, bool), depth int) error {
	if depth > 10 {
		return fmt.Errorf("defaults nested more than 10 deep")
	}
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			r.lit(s)
			return nil
		}
		r.lit(s[:i])
		switch s[i+1] {
		case '$':
			r.lit("$")
			s = s[i+2:]
			continue
		case '{':
		default:
			r.lit("$")
			s = s[i+1:]
			continue
		}
		body, rest, ok := closeBrace(s[i+2:])
		if !ok {
			return fmt.Errorf("%q has ${ without a closing }", s[i:])
		}
		ref := "${" + body + "}"
		name, def, hasDef := body, "", false
		if j := strings.Index(body, ":-"); j >= 0 {
			name, def, hasDef = body[:j], body[j+2:], true
		}
		if !isIdent(name) {
			switch {
			case strings.HasPrefix(name, "env:") && isIdent(name[4:]):
				return fmt.Errorf("%s: write ${%s} (every ${NAME} is read from the environment)", ref, name[4:])
			case name == "":
				return fmt.Errorf("%s: a variable name is missing", ref)
			case strings.ContainsAny(name, ":?=+-"):
				return fmt.Errorf("%s: only ${NAME} and ${NAME:-default} are supported", ref)
			}
			return fmt.Errorf("%s: %q is not a variable name (letters, digits and _, not starting with a digit)", ref, name)
		}
		v, set := lookup(name)
		switch {
		case set && (v != "" || !hasDef):
			r.parts = append(r.parts, envPart{text: v, fromEnv: true, name: name})
		case hasDef:
			if err := r.expand(def, lookup, depth+1); err != nil {
				return err
			}
		default:
			r.missing = append(r.missing, name)
		}
		s = rest
	}
}

// closeBrace finds the } that closes a ${ whose body starts s, counting
// nested ${...} in a default. It returns the body and what follows the }.
func closeBrace(s string) (body, rest string, ok bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return s[:i], s[i+1:], true
			}
			depth--
		}
	}
	return "", "", false
}
