package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// Problem is one thing wrong with a scenario file, located by line and
// column (1-based; 0 when unknown) and by field path.
type Problem struct {
	File  string
	Line  int
	Col   int
	Field string // e.g. flows[0].steps[2].echo.rate
	Msg   string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one file, in file order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads, decodes, completes and validates the scenario file at path.
// Any error is a Problems (or wraps an I/O error).
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, completes and validates a scenario; name is used in
// error messages, and file paths in the scenario are relative to its
// directory.
func Parse(name string, data []byte) (*Scenario, error) {
	sc, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	sc.Client.TLS.resolvePaths(filepath.Dir(name))
	sc.Complete()
	if ps := sc.Validate(); len(ps) > 0 {
		return nil, locate(name, data, ps)
	}
	return sc, nil
}

// Decode parses the YAML strictly (unknown fields are errors) without
// filling defaults or validating.
func Decode(name string, data []byte) (*Scenario, error) {
	var sc Scenario
	if strings.TrimSpace(string(data)) == "" {
		return nil, Problems{{File: name, Msg: "the scenario file is empty"}}
	}
	if err := unmarshalStrict(data, &sc); err != nil {
		return nil, decodeProblem(name, data, err)
	}
	return &sc, nil
}

// unmarshalStrict decodes data into v, rejecting unknown fields. The YAML
// decoder panics on some malformed input (goccy/go-yaml#735: a tag on a
// scalar where a list belongs, as in `phases: !x 1`); that becomes an
// error here, since a scenario file is user input.
func unmarshalStrict(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed on this file (%v): look for a tag (!) on a value that should be a list or a mapping", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.DisallowUnknownField())
}

var yamlPos = regexp.MustCompile(`^\[(\d+):(\d+)\]\s*(.*)$`)

// decodeProblem turns a go-yaml error (which starts "[line:col] message"
// and is followed by a source excerpt) into a Problem, keeping the excerpt.
func decodeProblem(name string, data []byte, err error) error {
	var pe *posError
	if errors.As(err, &pe) {
		return Problems{{File: name, Line: pe.line, Col: pe.col, Field: keyAtLine(data, pe.line), Msg: pe.err.Error()}}
	}
	full := yaml.FormatError(err, false, true)
	first, excerpt, _ := strings.Cut(full, "\n")
	p := Problem{File: name, Msg: first}
	if m := yamlPos.FindStringSubmatch(first); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Col, _ = strconv.Atoi(m[2])
		p.Msg = m[3]
	}
	if strings.HasPrefix(p.Msg, "unknown field ") {
		p.Field = strings.Trim(strings.TrimPrefix(p.Msg, "unknown field "), `"`)
		p.Msg = "unknown field (check the spelling; the fields are in scenario/schema.json, also printed by `wsbench validate --schema`)"
	}
	if excerpt != "" {
		p.Msg += "\n" + excerpt
	}
	return Problems{p}
}

// locate fills in line and column for problems found by Validate, by
// looking up each field path in the YAML syntax tree; a path that is not in
// the file (a default, or a field the short form implies) falls back to its
// nearest parent that is.
func locate(name string, data []byte, ps Problems) error {
	file, err := parser.ParseBytes(data, 0)
	for i := range ps {
		ps[i].File = name
		if err != nil {
			continue
		}
		for path := ps[i].Field; path != ""; path = parentPath(path) {
			p, perr := yaml.PathString("$." + path)
			if perr != nil {
				continue
			}
			node, ferr := p.FilterFile(file)
			if ferr != nil || node == nil {
				continue
			}
			tok := node.GetToken()
			if tok == nil {
				continue
			}
			ps[i].Line, ps[i].Col = tok.Position.Line, tok.Position.Column
			break
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
	return ps
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// keyAtLine returns the mapping key written on line n (1-based), if any,
// to name the field of a value that failed to decode.
func keyAtLine(data []byte, n int) string {
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	l := strings.TrimSpace(lines[n-1])
	l = strings.TrimPrefix(l, "- ")
	key, _, ok := strings.Cut(l, ":")
	if !ok || strings.ContainsAny(key, " {[\"'") {
		return ""
	}
	return key
}
