package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Options control how ParseWith reads a scenario.
type Options struct {
	// Dir is the directory data files are found in when their path is
	// relative. Empty: the directory of the scenario's file name.
	Dir string
	// LookupEnv resolves ${NAME} in values. Nil: os.LookupEnv.
	LookupEnv func(name string) (string, bool)
}

// Load reads, decodes, completes and validates the scenario file at path,
// with the data files it names. Any error is a Problems (or wraps an I/O
// error reading path).
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return ParseWith(path, data, Options{})
}

// Parse decodes, completes and validates a scenario; name is used in
// error messages, and file paths in the scenario (data files, TLS files)
// are relative to its directory.
func Parse(name string, data []byte) (*Scenario, error) {
	return ParseWith(name, data, Options{})
}

// ParseWith is Parse with options. Every problem of the file is reported
// at once, as a Problems in file order.
func ParseWith(name string, data []byte, o Options) (*Scenario, error) {
	sc, ps := decodeFile(data, o)
	if sc == nil {
		return nil, finish(name, data, ps)
	}
	dir := o.Dir
	if dir == "" {
		dir = filepath.Dir(name)
	}
	for _, p := range sc.loadData(dir) {
		if p.File == "" {
			p.Line, p.Col = sc.meta.locate(p.Field)
		}
		ps = append(ps, p)
	}
	sc.Client.TLS.resolvePaths(filepath.Dir(name))
	sc.Complete()
	for _, p := range sc.Validate() {
		if sc.meta.failedNear(p.Field) {
			continue // a consequence of a value that could not be read
		}
		p.Line, p.Col = sc.meta.locate(p.Field)
		ps = append(ps, p)
	}
	if len(ps) > 0 {
		for i := range ps {
			ps[i].Msg = sc.Mask(ps[i].Msg)
		}
		return nil, finish(name, data, ps)
	}
	return sc, nil
}

// Decode parses the YAML strictly (unknown fields are errors) and
// substitutes ${NAME} from the environment, without reading data files,
// filling defaults or validating.
func Decode(name string, data []byte) (*Scenario, error) {
	sc, ps := decodeFile(data, Options{})
	if len(ps) > 0 {
		return nil, finish(name, data, ps)
	}
	return sc, nil
}

// decodeFile parses and decodes data. The scenario is nil when the file is
// not YAML or holds no single document; otherwise it comes with the
// problems of its values.
func decodeFile(data []byte, o Options) (*Scenario, Problems) {
	if strings.TrimSpace(string(data)) == "" {
		return nil, Problems{{Msg: "the scenario file is empty"}}
	}
	file, err := parseYAML(data)
	if err != nil {
		return nil, Problems{syntaxProblem(data, err)}
	}
	var body ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, null := doc.Body.(*ast.NullNode); null {
			continue
		}
		if body != nil {
			p := nodePos(doc.Body)
			return nil, Problems{{Line: p.line, Col: p.col, Msg: "a second YAML document (after ---): a scenario file holds one", excerpt: true}}
		}
		body = doc.Body
	}
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	d := newDecoder(lookup)
	sc := &Scenario{}
	if body != nil {
		d.document(body, sc)
	}
	sc.meta = d.meta()
	return sc, d.ps
}

// parseYAML parses data into a syntax tree. The parser is third-party
// code fed user input: a panic in it becomes an error.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML parser failed on this file (%v)", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

var (
	yamlPos      = regexp.MustCompile(`^\[(\d+):(\d+)\]\s*(.*)$`)
	definedTwice = regexp.MustCompile(`^mapping key "(.*)" already defined at \[(\d+):\d+\]$`)
)

// syntaxProblem turns a YAML syntax error into a Problem at the place the
// parser tripped, in words a person can act on where the parser's are
// cryptic.
func syntaxProblem(data []byte, err error) Problem {
	p := Problem{excerpt: true}
	var se *yaml.SyntaxError
	if errors.As(err, &se) && se.Token != nil && se.Token.Position != nil {
		tok := se.Token
		p.Line, p.Col, p.Msg = tok.Position.Line, tok.Position.Column, se.Message
		// A plain scalar the parser read on into the next line (because
		// that line is indented too far) ends where it tripped: point
		// there, not at the scalar's first word.
		if origin := strings.TrimRight(tok.Origin, " \t\r\n"); tok.Type == token.StringType && strings.Contains(origin, "\n") {
			lines := strings.Split(origin, "\n")
			p.Line += len(lines) - 1
			p.Col = len([]rune(lines[len(lines)-1])) + 1
		}
	} else {
		first, _, _ := strings.Cut(yaml.FormatError(err, false, false), "\n")
		p.Msg = first
		if m := yamlPos.FindStringSubmatch(first); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Col, _ = strconv.Atoi(m[2])
			p.Msg = m[3]
		}
	}
	p.Msg = syntaxMessage(p.Msg, sourceLine(data, p.Line))
	return p
}

// syntaxMessage rewords the parser's messages that do not say what to do.
func syntaxMessage(msg, line string) string {
	switch {
	case msg == "mapping value is not allowed in this context" || msg == "value is not allowed in this context":
		msg = "a `key:` cannot start here: check the indentation of this line against the lines above"
	case strings.HasPrefix(msg, "found character '\t'") || strings.Contains(msg, "found a tab character"):
		msg = "a tab cannot indent YAML: use spaces"
	case definedTwice.MatchString(msg):
		m := definedTwice.FindStringSubmatch(msg)
		msg = fmt.Sprintf("%q is given twice in this mapping (first on line %s)", m[1], m[2])
	}
	if strings.Contains(line, "${") && (strings.Contains(line, "{") || strings.Contains(line, "[")) {
		msg += `; inside {…} or […], put a value with ${NAME} in quotes: "${NAME}"`
	}
	return "YAML syntax: " + msg
}

func sourceLine(data []byte, n int) string {
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}

// meta is what Parse learnt about a scenario besides its values: where
// each field was written, which values came from the environment, the
// rows of its data files. Copies of a Scenario share it; nothing changes
// it after Parse returns. A scenario built in code has none.
type meta struct {
	pos     map[string]position // field path as written → position of its value
	failed  []string            // fields whose values could not be read
	masks   map[string]string   // string value with text from the environment → masked
	order   []string            // the keys of masks, longest first
	secrets []string            // values of environment variables, longest first
	tables  map[string]*Table   // data source name → its rows
}

func (d *decoder) meta() *meta {
	m := &meta{pos: d.pos, failed: d.failed, masks: d.masks}
	for k := range d.masks {
		m.order = append(m.order, k)
	}
	for s := range d.secrets {
		m.secrets = append(m.secrets, s)
	}
	slices.SortFunc(m.order, longestFirst)
	slices.SortFunc(m.secrets, longestFirst)
	return m
}

// longestFirst orders the values to mask so that a value is replaced
// before any shorter one inside it.
func longestFirst(a, b string) int {
	if len(a) != len(b) {
		return len(b) - len(a)
	}
	return strings.Compare(a, b)
}

// written reports whether the file gave field.
func (m *meta) written(field string) bool {
	if m == nil {
		return false
	}
	_, ok := m.pos[field]
	return ok
}

// failedNear reports whether field is, contains or lies in a field whose
// value could not be read: what Validate says about it then is a
// consequence of that.
func (m *meta) failedNear(field string) bool {
	if m == nil || field == "" {
		return false
	}
	for _, f := range m.failed {
		if within(field, f) || within(f, field) {
			return true
		}
	}
	return false
}

// within reports whether path a is b or lies under it.
func within(a, b string) bool {
	if b == "" {
		return true
	}
	return a == b || (strings.HasPrefix(a, b) && len(a) > len(b) && (a[len(b)] == '.' || a[len(b)] == '['))
}

// locate returns where field was written, or its nearest parent that was
// (a default or a field the short form implies is not in the file).
func (m *meta) locate(field string) (line, col int) {
	if m == nil {
		return 0, 0
	}
	for f := field; f != ""; f = parentPath(f) {
		if p, ok := m.pos[f]; ok {
			return p.line, p.col
		}
	}
	return 0, 0
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}
