package scenario

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// The decoder turns the YAML syntax tree of a scenario into the Go types
// by their yaml tags, as goccy/go-yaml's strict decoder would, with four
// differences that are the reason it exists: it goes on past a bad value,
// so that every problem of a file is reported at once; it says what it
// expected in the user's terms ("a whole number"), never in Go's; it
// substitutes ${NAME} in values; and it records where each field was
// written, so that problems found later (by Validate) point at the user's
// line and column, and the short form's fields can be told from the ones
// it expands to.

// position is a 1-based line and column in the scenario file.
type position struct{ line, col int }

// maxDecodeVisits bounds the values a file may expand to through aliases
// (a "billion laughs" file expands exponentially): far more than any
// scenario has, far less than takes noticeable time.
const maxDecodeVisits = 100_000

type decoder struct {
	lookupEnv func(string) (string, bool)
	anchors   map[string][]*ast.AnchorNode // by name, in file order
	visits    int
	ps        Problems
	pos       map[string]position // field path → where its value was written
	failed    []string            // field paths whose value could not be decoded
	masks     map[string]string   // a string with text from the environment → the same, masked
	secrets   map[string]bool     // values of environment variables that went into strings
	envDone   map[ast.Node]bool   // values whose ${...} problems are reported
}

func newDecoder(lookupEnv func(string) (string, bool)) *decoder {
	return &decoder{
		lookupEnv: lookupEnv,
		anchors:   map[string][]*ast.AnchorNode{},
		pos:       map[string]position{},
		masks:     map[string]string{},
		secrets:   map[string]bool{},
		envDone:   map[ast.Node]bool{},
	}
}

// problem records a problem found while reading the file at p.
func (d *decoder) problem(field string, p position, format string, args ...any) {
	d.ps = append(d.ps, Problem{Line: p.line, Col: p.col, Field: field, Msg: fmt.Sprintf(format, args...), excerpt: true})
}

// fail records a problem with the value at field and marks the field as
// failed, so that Validate's consequential complaints about it are dropped.
func (d *decoder) fail(field string, n ast.Node, format string, args ...any) {
	d.problem(field, nodePos(n), format, args...)
	d.failed = append(d.failed, field)
}

// document decodes the body of the file's one YAML document into sc.
func (d *decoder) document(body ast.Node, sc *Scenario) {
	d.collectAnchors(body)
	node, _, ok := d.deref(body, "")
	if !ok {
		return
	}
	switch node.(type) {
	case nil, *ast.NullNode:
		return // comments only: Validate says what is missing
	case *ast.MappingNode:
	default:
		d.problem("", nodePos(node), "expected a mapping of scenario fields (target, clients, duration, …), got %s", describe(node))
		return
	}
	d.value(body, reflect.ValueOf(sc).Elem(), "")
}

// collectAnchors indexes every &anchor of the document, so that an alias
// can be resolved even when its anchor sits in a part that is not decoded.
func (d *decoder) collectAnchors(n ast.Node) {
	walkNodes(n, func(n ast.Node) {
		if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
			name := a.Name.GetToken().Value
			d.anchors[name] = append(d.anchors[name], a)
		}
	})
}

// walkNodes calls f on n and every node below it.
func walkNodes(n ast.Node, f func(ast.Node)) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return
	}
	f(n)
	switch x := n.(type) {
	case *ast.DocumentNode:
		walkNodes(x.Body, f)
	case *ast.MappingNode:
		for _, v := range x.Values {
			walkNodes(v, f)
		}
	case *ast.MappingValueNode:
		walkNodes(x.Key, f)
		walkNodes(x.Value, f)
	case *ast.MappingKeyNode:
		walkNodes(x.Value, f)
	case *ast.SequenceNode:
		for _, v := range x.Values {
			walkNodes(v, f)
		}
	case *ast.AnchorNode:
		walkNodes(x.Value, f)
	case *ast.TagNode:
		walkNodes(x.Value, f)
	}
}

// anchor returns the anchor an alias refers to: the last one of that name
// before the alias.
func (d *decoder) anchor(a *ast.AliasNode) ast.Node {
	if a.Value == nil {
		return nil
	}
	name := a.Value.GetToken().Value
	at := a.GetToken().Position
	var found *ast.AnchorNode
	for _, c := range d.anchors[name] {
		if p := c.GetToken().Position; p.Line < at.Line || (p.Line == at.Line && p.Column < at.Column) {
			found = c
		}
	}
	if found == nil {
		return nil
	}
	return found.Value
}

// deref follows anchors, aliases and tags to the node holding the value.
// tag is the last tag met on the way (!!str …).
func (d *decoder) deref(n ast.Node, field string) (node ast.Node, tag string, ok bool) {
	orig := n
	for range 64 {
		if n == nil || reflect.ValueOf(n).IsNil() {
			return nil, tag, true
		}
		switch x := n.(type) {
		case *ast.DocumentNode:
			n = x.Body
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			tag = x.Start.Value
			switch tag {
			case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!omap", "!!timestamp", "!!binary":
			default:
				d.fail(field, x, "the tag %s is not supported (scenarios use plain YAML values)", tag)
				return nil, tag, false
			}
			n = x.Value
		case *ast.AliasNode:
			t := d.anchor(x)
			if t == nil {
				d.fail(field, x, "the alias %s refers to no &anchor before it", x.GetToken().Value+x.Value.GetToken().Value)
				return nil, tag, false
			}
			n = t
		case *ast.CommentGroupNode:
			return nil, tag, true
		default:
			return n, tag, true
		}
	}
	d.fail(field, orig, "aliases nested too deep")
	return nil, tag, false
}

// nodePos is where the value n starts, as the user sees it.
func nodePos(n ast.Node) position {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return position{}
	}
	switch x := n.(type) {
	case *ast.MappingNode:
		if len(x.Values) > 0 && x.Values[0].Key != nil && !x.IsFlowStyle {
			return nodePos(x.Values[0].Key)
		}
		if x.Start != nil {
			return tokPos(x.Start)
		}
	case *ast.MappingValueNode:
		return nodePos(x.Key)
	case *ast.LiteralNode:
		return tokPos(x.Start)
	case *ast.DocumentNode:
		return nodePos(x.Body)
	}
	return tokPos(n.GetToken())
}

func tokPos(t *token.Token) position {
	if t == nil || t.Position == nil {
		return position{}
	}
	return position{t.Position.Line, t.Position.Column}
}

// join builds the field path of key under path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	durationType    = reflect.TypeFor[Duration]()
	byteSizeType    = reflect.TypeFor[ByteSize]()
	sizeDistType    = reflect.TypeFor[SizeDist]()
	thresholdType   = reflect.TypeFor[ThresholdSpec]()
	nodeUnmarshaler = reflect.TypeFor[yaml.NodeUnmarshaler]()
)

// visit counts a value decoded and reports false once the file has
// expanded to too many; the problem is recorded once.
func (d *decoder) visit(n ast.Node, field string) bool {
	d.visits++
	if d.visits == maxDecodeVisits+1 {
		d.fail(field, n, "the file expands to more than %d values through aliases", maxDecodeVisits)
	}
	return d.visits <= maxDecodeVisits
}

// value decodes n into rv; field is rv's path.
func (d *decoder) value(n ast.Node, rv reflect.Value, field string) {
	if !d.visit(n, field) {
		return
	}
	if field != "" {
		d.pos[field] = nodePos(n)
	}
	node, tag, ok := d.deref(n, field)
	if !ok {
		return
	}
	t := rv.Type()
	switch t {
	case durationType:
		d.duration(node, tag, rv, field)
		return
	case byteSizeType:
		d.byteSize(node, tag, rv, field)
		return
	case sizeDistType:
		d.sizeDist(node, tag, rv, field)
		return
	case thresholdType:
		d.threshold(node, tag, rv, field)
		return
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(nodeUnmarshaler) && t != reflect.TypeFor[Step]() {
		d.custom(node, tag, rv, field)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		// A step action whose settings are all optional may be written
		// bare (`- listen:`, which YAML reads as null): the defaults.
		if isNull(node, tag) && !bareAction(t.Elem()) {
			rv.SetZero()
			return
		}
		// Allocated even when its value turns out bad, so that the shape
		// of the scenario stays (a step with a bad connect is still a
		// connect step) and Validate does not pile up consequences.
		p := reflect.New(t.Elem())
		rv.Set(p)
		if !isNull(node, tag) {
			d.value(n, p.Elem(), field)
		}
	case reflect.Struct:
		d.structValue(node, tag, rv, field)
	case reflect.Slice:
		d.list(node, tag, rv, field)
	case reflect.Map:
		d.mapValue(node, tag, rv, field)
	case reflect.Interface:
		if v, ok := d.generic(n, field); ok && v != nil {
			rv.Set(reflect.ValueOf(v))
		}
	case reflect.String:
		if s, ok := d.text(node, tag, field, "text"); ok {
			rv.SetString(s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.integer(node, tag, rv, field)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.unsigned(node, tag, rv, field)
	case reflect.Float32, reflect.Float64:
		d.float(node, tag, rv, field)
	case reflect.Bool:
		d.boolean(node, tag, rv, field)
	default:
		d.fail(field, node, "this field cannot be read from YAML (%s)", t)
	}
}

func isNull(n ast.Node, tag string) bool {
	if tag == "!!null" {
		return true
	}
	switch n.(type) {
	case nil, *ast.NullNode:
		return true
	}
	return false
}

// scalarText is a scalar's value as text after substitution. env is set
// when ${...} was substituted (a number then takes its type from the
// field); ok is false when the node is not a scalar or substitution failed
// (the problem is recorded).
type scalarText struct {
	text   string
	env    *envResult
	quoted bool
}

func (d *decoder) scalar(n ast.Node, field string) (scalarText, bool) {
	var s scalarText
	switch x := n.(type) {
	case *ast.StringNode:
		s.text = x.Value
		s.quoted = x.Token != nil && (x.Token.Type == token.SingleQuoteType || x.Token.Type == token.DoubleQuoteType)
	case *ast.LiteralNode:
		if x.Value != nil {
			s.text = x.Value.Value
		}
		s.quoted = true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		s.text = n.GetToken().Value
		return s, true
	case *ast.NullNode, nil:
		return s, true
	default:
		return s, false
	}
	if !needsSubst(s.text) {
		return s, true
	}
	r, err := substitute(s.text, d.lookupEnv)
	if err != nil {
		if !d.envDone[n] {
			d.fail(field, n, "%v", err)
		}
		d.envDone[n] = true
		return s, false
	}
	if len(r.missing) > 0 {
		if !d.envDone[n] {
			for _, name := range r.missing {
				d.fail(field, n, "the environment variable %s is not set (set it, or give a default: ${%s:-value})", name, name)
			}
		}
		d.envDone[n] = true
		return s, false
	}
	s.text, s.env = r.real(), &r
	return s, true
}

// keep records that a string value with text from the environment went
// into a field: what wsbench shows of the scenario masks it.
func (d *decoder) keep(s scalarText) {
	if s.env == nil || !s.env.fromEnv() || s.text == "" {
		return
	}
	d.masks[s.text] = s.env.masked()
	for _, v := range s.env.secrets() {
		d.secrets[v] = true
	}
}

// text decodes a scalar as a string; want names the expected value in a
// problem.
func (d *decoder) text(n ast.Node, tag, field, want string) (string, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		if !d.envDone[n] {
			d.fail(field, n, "expected %s, got %s", want, describe(n))
		}
		return "", false
	}
	d.keep(s)
	return s.text, true
}

// numText returns the text to parse for a numeric or boolean field whose
// value YAML did not type: a value from substitution (converted whether it
// was quoted or not, since inside {…} it has to be), or a plain scalar
// that looks like a number YAML could not hold (99999999999999999999).
// Anything else is reported.
func (d *decoder) numText(n ast.Node, tag, field, want string) (string, string, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		if !d.envDone[n] {
			d.fail(field, n, "expected %s, got %s", want, describe(n))
		}
		return "", "", false
	}
	if s.env != nil {
		return strings.TrimSpace(s.text), s.env.describe(), true
	}
	if !s.quoted && tag != "!!str" && yamlFloat.MatchString(s.text) {
		return s.text, s.text, true
	}
	msg := fmt.Sprintf("expected %s, got %s", want, describe(n))
	switch {
	case tag == "!!str":
		msg += " (text, because of !!str)"
	case s.quoted:
		msg += " (text, because of the quotes)"
	}
	d.fail(field, n, "%s", msg)
	return "", "", false
}

const (
	wantInt   = "a whole number"
	wantUint  = "a whole number, 0 or more"
	wantFloat = "a number"
	wantBool  = "true or false"
)

// typed reports whether YAML gave n a type of its own (a number, a
// boolean) that a tag does not override.
func typed(n ast.Node, tag string) bool {
	if tag == "!!str" {
		return false
	}
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode, *ast.BoolNode:
		return true
	}
	return false
}

func (d *decoder) integer(n ast.Node, tag string, rv reflect.Value, field string) {
	if isNull(n, tag) {
		return
	}
	var v int64
	if typed(n, tag) {
		x, ok := n.(*ast.IntegerNode)
		if !ok {
			d.fail(field, n, "expected %s, got %s", wantInt, describe(n))
			return
		}
		switch iv := x.Value.(type) {
		case int64:
			v = iv
		case uint64:
			if iv > math.MaxInt64 {
				d.fail(field, n, "%s is too large", describe(n))
				return
			}
			v = int64(iv)
		}
	} else {
		text, desc, ok := d.numText(n, tag, field, wantInt)
		if !ok {
			return
		}
		var err error
		v, err = strconv.ParseInt(strings.ReplaceAll(text, "_", ""), 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				d.fail(field, n, "%s is too large", desc)
			} else {
				d.fail(field, n, "expected %s, got %s", wantInt, desc)
			}
			return
		}
	}
	if rv.OverflowInt(v) {
		d.fail(field, n, "%d is too large", v)
		return
	}
	rv.SetInt(v)
}

func (d *decoder) unsigned(n ast.Node, tag string, rv reflect.Value, field string) {
	if isNull(n, tag) {
		return
	}
	var v uint64
	if typed(n, tag) {
		x, ok := n.(*ast.IntegerNode)
		if !ok {
			d.fail(field, n, "expected %s, got %s", wantUint, describe(n))
			return
		}
		switch iv := x.Value.(type) {
		case int64:
			if iv < 0 {
				d.fail(field, n, "expected %s, got %d", wantUint, iv)
				return
			}
			v = uint64(iv)
		case uint64:
			v = iv
		}
	} else {
		text, desc, ok := d.numText(n, tag, field, wantUint)
		if !ok {
			return
		}
		var err error
		if v, err = strconv.ParseUint(strings.ReplaceAll(text, "_", ""), 10, 64); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				d.fail(field, n, "%s is too large", desc)
			} else {
				d.fail(field, n, "expected %s, got %s", wantUint, desc)
			}
			return
		}
	}
	if rv.OverflowUint(v) {
		d.fail(field, n, "%d is too large", v)
		return
	}
	rv.SetUint(v)
}

// yamlFloat is the YAML 1.2 core schema's float (and integer).
var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9_]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$`)

func (d *decoder) float(n ast.Node, tag string, rv reflect.Value, field string) {
	if isNull(n, tag) {
		return
	}
	var v float64
	if typed(n, tag) {
		switch x := n.(type) {
		case *ast.IntegerNode:
			switch iv := x.Value.(type) {
			case int64:
				v = float64(iv)
			case uint64:
				v = float64(iv)
			}
		case *ast.FloatNode:
			v = x.Value
		case *ast.InfinityNode:
			v = x.Value
		case *ast.NanNode:
			v = math.NaN()
		default:
			d.fail(field, n, "expected %s, got %s", wantFloat, describe(n))
			return
		}
	} else {
		text, desc, ok := d.numText(n, tag, field, wantFloat)
		if !ok {
			return
		}
		switch strings.ToLower(text) {
		case ".inf", "+.inf":
			v = math.Inf(1)
		case "-.inf":
			v = math.Inf(-1)
		case ".nan":
			v = math.NaN()
		default:
			if !yamlFloat.MatchString(text) {
				d.fail(field, n, "expected %s, got %s", wantFloat, desc)
				return
			}
			var err error
			if v, err = strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64); err != nil {
				d.fail(field, n, "%s is out of range", desc)
				return
			}
		}
	}
	rv.SetFloat(v)
}

func (d *decoder) boolean(n ast.Node, tag string, rv reflect.Value, field string) {
	if isNull(n, tag) {
		return
	}
	if typed(n, tag) {
		x, ok := n.(*ast.BoolNode)
		if !ok {
			d.fail(field, n, "expected %s, got %s", wantBool, describe(n))
			return
		}
		rv.SetBool(x.Value)
		return
	}
	text, desc, ok := d.numText(n, tag, field, wantBool)
	if !ok {
		return
	}
	switch text {
	case "true", "True", "TRUE":
		rv.SetBool(true)
	case "false", "False", "FALSE":
		rv.SetBool(false)
	default:
		d.fail(field, n, "expected %s, got %s", wantBool, desc)
	}
}

// special reads a scalar for a field with its own syntax (durations,
// sizes) and parses it; null leaves the zero value. A value with text
// from the environment is not shown in the problem.
func (d *decoder) special(n ast.Node, tag, field, want string, parse func(string) (int64, error)) (int64, bool) {
	if isNull(n, tag) {
		return 0, false
	}
	s, ok := d.scalar(n, field)
	if !ok {
		if !d.envDone[n] {
			d.fail(field, n, "expected %s, got %s", want, describe(n))
		}
		return 0, false
	}
	v, err := parse(s.text)
	if err != nil {
		if s.env != nil && s.env.fromEnv() {
			d.fail(field, n, "expected %s, got %s", want, s.env.describe())
		} else {
			d.fail(field, n, "%v", err)
		}
		return 0, false
	}
	return v, true
}

func (d *decoder) duration(n ast.Node, tag string, rv reflect.Value, field string) {
	if v, ok := d.special(n, tag, field, wantDuration, func(s string) (int64, error) {
		v, err := ParseDuration(s)
		return int64(v), err
	}); ok {
		rv.SetInt(v)
	}
}

func (d *decoder) byteSize(n ast.Node, tag string, rv reflect.Value, field string) {
	if v, ok := d.special(n, tag, field, wantByteSize, ParseByteSize); ok {
		rv.SetInt(v)
	}
}

const wantSizeDist = "a size in bytes or a mapping with min, max, mean, stddev and dist"

// sizeDist reads a fixed size (a whole number) or a distribution.
func (d *decoder) sizeDist(n ast.Node, tag string, rv reflect.Value, field string) {
	if m, ok := n.(*ast.MappingNode); ok && tag != "!!str" {
		d.structValue(m, tag, rv, field)
		return
	}
	if _, isSeq := n.(*ast.SequenceNode); isSeq {
		d.fail(field, n, "expected %s, got %s", wantSizeDist, describe(n))
		return
	}
	if isNull(n, tag) {
		return
	}
	var v int
	if x, ok := n.(*ast.IntegerNode); ok && tag != "!!str" {
		iv, err := strconv.ParseInt(fmt.Sprint(x.Value), 10, 32)
		if err != nil {
			d.fail(field, n, "%s is too large", describe(n))
			return
		}
		v = int(iv)
	} else {
		text, desc, ok := d.numText(n, tag, field, wantSizeDist)
		if !ok {
			return
		}
		var err error
		if v, err = strconv.Atoi(strings.ReplaceAll(text, "_", "")); err != nil {
			d.fail(field, n, "expected %s, got %s", wantSizeDist, desc)
			return
		}
	}
	rv.Set(reflect.ValueOf(SizeDist{Fixed: v}))
}

// threshold reads an expression or a mapping with one and its options.
func (d *decoder) threshold(n ast.Node, tag string, rv reflect.Value, field string) {
	switch n.(type) {
	case *ast.MappingNode:
		d.structValue(n, tag, rv, field)
		return
	case *ast.SequenceNode:
		d.fail(field, n, "expected a threshold such as `rtt p99 < 50ms`, or a mapping with expr, got a list")
		return
	}
	if s, ok := d.text(n, tag, field, "a threshold such as `rtt p99 < 50ms`"); ok {
		rv.Set(reflect.ValueOf(ThresholdSpec{Expr: s}))
	}
}

// custom decodes a type with its own UnmarshalYAML (a field type added
// without a case here): it gets the node, with ${...} substituted.
func (d *decoder) custom(n ast.Node, tag string, rv reflect.Value, field string) {
	if s, ok := n.(*ast.StringNode); ok && needsSubst(s.Value) {
		st, ok := d.scalar(n, field)
		if !ok {
			return
		}
		d.keep(st)
		tok := *s.Token
		tok.Value = st.text
		n = ast.String(&tok)
	}
	if n == nil {
		return
	}
	u := rv.Addr().Interface().(yaml.NodeUnmarshaler)
	if err := u.UnmarshalYAML(n); err != nil {
		d.fail(field, n, "%v", err)
	}
}

// fieldInfo is a struct field as YAML names it.
type fieldInfo struct {
	name  string
	index []int
}

type structInfo struct {
	fields []fieldInfo // in declaration order
	byName map[string]fieldInfo
}

var structInfos sync.Map // reflect.Type → *structInfo

// fieldsOf lists the YAML fields of struct type t, inline ones included.
func fieldsOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]fieldInfo{}}
	var add func(t reflect.Type, index []int)
	add = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			idx := append(slices.Clone(index), i)
			if name == "-" {
				continue
			}
			if opts == "inline" || (f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct) {
				add(f.Type, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fi := fieldInfo{name: name, index: idx}
			si.fields = append(si.fields, fi)
			si.byName[name] = fi
		}
	}
	add(t, nil)
	structInfos.Store(t, si)
	return si
}

func (si *structInfo) names() []string {
	out := make([]string, len(si.fields))
	for i, f := range si.fields {
		out[i] = f.name
	}
	return out
}

// entry is one key: value of a mapping, merge keys (<<) expanded.
type entry struct {
	key   string
	keyAt ast.Node
	value ast.Node
}

// entries lists a mapping's keys and values: the ones written, then the
// ones merged in with << that are not written (an earlier merged mapping
// wins over a later one). ok is false when the mapping is broken (the
// problems are recorded).
func (d *decoder) entries(m *ast.MappingNode, field string, depth int) ([]entry, bool) {
	var own, merged []entry
	ok := true
	for _, mv := range m.Values {
		if mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			src, _, dok := d.deref(mv.Value, field)
			if !dok {
				ok = false
				continue
			}
			var maps []*ast.MappingNode
			switch x := src.(type) {
			case *ast.MappingNode:
				maps = append(maps, x)
			case *ast.SequenceNode:
				for _, e := range x.Values {
					if em, _, _ := d.deref(e, field); em != nil {
						if mm, isMap := em.(*ast.MappingNode); isMap {
							maps = append(maps, mm)
							continue
						}
					}
					d.fail(field, e, "<< merges mappings, got %s", describe(e))
					ok = false
				}
			default:
				d.fail(field, mv.Value, "<< merges a mapping or a list of mappings, got %s", describe(src))
				ok = false
			}
			if depth > 16 {
				d.fail(field, mv.Value, "merges nested too deep")
				return nil, false
			}
			for _, mm := range maps {
				es, eok := d.entries(mm, field, depth+1)
				ok = ok && eok
				merged = append(merged, es...)
			}
			continue
		}
		key, kok := d.key(mv.Key, field)
		if !kok {
			ok = false
			continue
		}
		own = append(own, entry{key: key, keyAt: mv.Key, value: mv.Value})
	}
	have := map[string]bool{}
	for _, e := range own {
		have[e.key] = true
	}
	for _, e := range merged {
		if !have[e.key] {
			have[e.key] = true
			own = append(own, e)
		}
	}
	return own, ok
}

// key returns a mapping key's text. Keys are taken as written: ${...} is
// substituted in values only.
func (d *decoder) key(k ast.MapKeyNode, field string) (string, bool) {
	n, _, ok := d.deref(k, field)
	if !ok {
		return "", false
	}
	var s string
	switch x := n.(type) {
	case *ast.StringNode:
		s = x.Value
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode, *ast.InfinityNode, *ast.NanNode:
		s = x.GetToken().Value
	default:
		d.fail(field, k, "a key must be plain text, got %s", describe(n))
		return "", false
	}
	if strings.Contains(s, "${") {
		d.fail(join(field, s), k, "${...} is substituted in values, not in keys")
		return "", false
	}
	return s, true
}

func (d *decoder) structValue(n ast.Node, tag string, rv reflect.Value, field string) {
	si := fieldsOf(rv.Type())
	if isNull(n, tag) {
		return
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.fail(field, n, "expected %s, got %s", wantStruct(rv.Type(), si), describe(n))
		return
	}
	es, _ := d.entries(m, field, 0)
	for _, e := range es {
		if d.visits > maxDecodeVisits {
			return
		}
		kf := join(field, e.key)
		f, known := si.byName[e.key]
		if !known {
			d.unknownField(e, kf, si)
			continue
		}
		d.value(e.value, rv.FieldByIndex(f.index), kf)
	}
}

func (d *decoder) unknownField(e entry, field string, si *structInfo) {
	names := si.names()
	msg := "unknown field"
	if s := suggest(e.key, names); s != "" {
		msg += "; did you mean " + s + "?"
		// The value was probably meant for s: what Validate would say
		// about s missing is a consequence of the misspelling.
		d.failed = append(d.failed, join(parentPath(field), s))
	} else {
		msg += "; the fields here are " + strings.Join(names, ", ")
	}
	d.problem(field, nodePos(e.keyAt), "%s", msg)
}

// wantStruct names what a struct field expects.
func wantStruct(t reflect.Type, si *structInfo) string {
	if t == reflect.TypeFor[Step]() {
		return "a step: a mapping with one action (" + strings.Join(StepKindNames()[:4], ", ") + ", …)"
	}
	names := si.names()
	if len(names) > 3 {
		names = append(names[:3:3], "…")
	}
	return "a mapping with the fields " + strings.Join(names, ", ")
}

func (d *decoder) list(n ast.Node, tag string, rv reflect.Value, field string) {
	if isNull(n, tag) {
		rv.SetZero()
		return
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.fail(field, n, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(rv.Type(), len(seq.Values), len(seq.Values))
	for i, e := range seq.Values {
		if d.visits > maxDecodeVisits {
			return
		}
		d.value(e, out.Index(i), field+"["+strconv.Itoa(i)+"]")
	}
	rv.Set(out)
}

func (d *decoder) mapValue(n ast.Node, tag string, rv reflect.Value, field string) {
	if isNull(n, tag) {
		return
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.fail(field, n, "expected a mapping, got %s", describe(n))
		return
	}
	if rv.Type().Key().Kind() != reflect.String {
		d.fail(field, n, "this field cannot be read from YAML (%s)", rv.Type())
		return
	}
	out := reflect.MakeMap(rv.Type())
	es, _ := d.entries(m, field, 0)
	for _, e := range es {
		v := reflect.New(rv.Type().Elem()).Elem()
		kf := join(field, e.key)
		if rv.Type().Elem().Kind() == reflect.String {
			// Values of string maps (vars, headers) may be written as
			// numbers or booleans; only lists and mappings are wrong.
			ev, etag, eok := d.deref(e.value, kf)
			d.pos[kf] = nodePos(e.value)
			if !eok {
				continue
			}
			s, sok := d.text(ev, etag, kf, "text, a number or true/false")
			if !sok {
				continue
			}
			v.SetString(s)
		} else {
			d.value(e.value, v, kf)
		}
		out.SetMapIndex(reflect.ValueOf(e.key).Convert(rv.Type().Key()), v)
	}
	rv.Set(out)
}

// generic decodes n as a plain value (a json payload or match): mappings,
// lists, strings, numbers, booleans and null. A value from substitution
// written without quotes takes the type its text has, as if written in
// place; quoted, it stays text.
func (d *decoder) generic(n ast.Node, field string) (any, bool) {
	if !d.visit(n, field) {
		return nil, false
	}
	node, tag, ok := d.deref(n, field)
	if !ok {
		return nil, false
	}
	if isNull(node, tag) {
		return nil, true
	}
	switch x := node.(type) {
	case *ast.MappingNode:
		es, eok := d.entries(x, field, 0)
		out := make(map[string]any, len(es))
		for _, e := range es {
			if d.visits > maxDecodeVisits {
				return nil, false
			}
			v, vok := d.generic(e.value, join(field, e.key))
			eok = eok && vok
			out[e.key] = v
		}
		return out, eok
	case *ast.SequenceNode:
		out := make([]any, len(x.Values))
		ok := true
		for i, e := range x.Values {
			if d.visits > maxDecodeVisits {
				return nil, false
			}
			v, vok := d.generic(e, field+"["+strconv.Itoa(i)+"]")
			ok = ok && vok
			out[i] = v
		}
		return out, ok
	case *ast.IntegerNode:
		if tag == "!!str" {
			return x.GetToken().Value, true
		}
		return x.Value, true
	case *ast.FloatNode:
		if tag == "!!str" {
			return x.GetToken().Value, true
		}
		return x.Value, true
	case *ast.InfinityNode:
		return x.Value, true
	case *ast.NanNode:
		return math.NaN(), true
	case *ast.BoolNode:
		if tag == "!!str" {
			return x.GetToken().Value, true
		}
		return x.Value, true
	}
	s, ok := d.scalar(node, field)
	if !ok {
		if !d.envDone[node] {
			d.fail(field, node, "expected a YAML value, got %s", describe(node))
		}
		return nil, false
	}
	if s.env != nil && !s.quoted && tag != "!!str" {
		t := strings.TrimSpace(s.text)
		if v, err := strconv.ParseInt(t, 10, 64); err == nil {
			return v, true
		}
		if yamlFloat.MatchString(t) {
			if v, err := strconv.ParseFloat(t, 64); err == nil {
				return v, true
			}
		}
		switch t {
		case "true", "True", "TRUE":
			return true, true
		case "false", "False", "FALSE":
			return false, true
		}
	}
	d.keep(s)
	return s.text, true
}

// describe says what a node holds, for "expected …, got …".
func describe(n ast.Node) string {
	switch x := n.(type) {
	case nil:
		return "nothing"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode:
		return "nothing"
	case *ast.StringNode:
		return quoteShort(x.Value)
	case *ast.LiteralNode:
		if x.Value != nil {
			return quoteShort(x.Value.Value)
		}
	case *ast.AnchorNode:
		return describe(x.Value)
	case *ast.TagNode:
		return describe(x.Value)
	case *ast.AliasNode:
		return "an alias"
	}
	if t := n.GetToken(); t != nil {
		return t.Value
	}
	return "something else"
}

func quoteShort(s string) string {
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return strconv.Quote(s)
}

// suggest returns the name in names closest to s by edit distance, if it
// is close enough to be a likely misspelling, or the one name s is a
// prefix of.
func suggest(s string, names []string) string {
	best, bestD := "", math.MaxInt
	for _, n := range names {
		if dist := editDistance(strings.ToLower(s), strings.ToLower(n)); dist < bestD {
			best, bestD = n, dist
		}
	}
	limit := 1
	if len(s) >= 5 {
		limit = 2
	}
	if len(s) >= 9 {
		limit = 3
	}
	if bestD <= limit {
		return best
	}
	var prefixed []string
	for _, n := range names {
		if len(s) >= 3 && strings.HasPrefix(strings.ToLower(n), strings.ToLower(s)) {
			prefixed = append(prefixed, n)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// editDistance is the Damerau–Levenshtein distance (optimal string
// alignment) between a and b: insertions, deletions, substitutions and
// swaps of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
