package scenario

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestSchemaMatchesTypes walks the Go types from Scenario down, by their
// yaml tags, next to the schema, and checks that every object has exactly
// the fields of its Go struct, forbids others, and documents each.
func TestSchemaMatchesTypes(t *testing.T) {
	root := loadSchema(t)
	w := &schemaWalker{t: t, root: root, seen: map[reflect.Type]bool{}}
	w.object("$", reflect.TypeFor[Scenario](), root)
	if w.objects < 20 {
		t.Errorf("walked %d object schemas; the walk lost its way", w.objects)
	}
}

// TestSchemaStepActions checks that the schema's step demands exactly one
// of the actions Validate knows.
func TestSchemaStepActions(t *testing.T) {
	root := loadSchema(t)
	step := root["definitions"].(map[string]any)["Step"].(map[string]any)
	var got []string
	for _, b := range step["oneOf"].([]any) {
		req := b.(map[string]any)["required"].([]any)
		if len(req) != 1 {
			t.Fatalf("step oneOf branch %v: want one required action", b)
		}
		got = append(got, req[0].(string))
	}
	if !slices.Equal(got, StepKindNames()) {
		t.Errorf("step oneOf actions %v, StepKindNames %v", got, StepKindNames())
	}
	var props []string
	for k := range step["properties"].(map[string]any) {
		if k != "name" {
			props = append(props, k)
		}
	}
	sort.Strings(props)
	kinds := slices.Sorted(slices.Values(StepKindNames()))
	if !slices.Equal(props, kinds) {
		t.Errorf("step properties %v, StepKindNames %v", props, kinds)
	}
}

// TestSchemaAcceptsValidScenarios checks every example and every good test
// file against the schema: an editor must not flag a file wsbench accepts.
func TestSchemaAcceptsValidScenarios(t *testing.T) {
	files := append(glob(t, "../scenarios/*.yaml"), glob(t, "testdata/good/*.yaml")...)
	if len(files) < 8 {
		t.Fatalf("found only %d valid scenario files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data); err != nil {
			t.Errorf("%s: wsbench rejects it:\n%v", f, err)
		}
		if err := CheckSchema(data); err != nil {
			t.Errorf("%s: the schema rejects it:\n%v", f, err)
		}
	}
}

// TestSchemaRejects checks that the schema catches the mistakes an editor
// should underline.
func TestSchemaRejects(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field", "target: builtin\nclients: 1\nduration: 1s\nclinets: 2\n", `unknown property "clinets"`},
		{"missing target", "clients: 1\nduration: 1s\n", "0 of the anyOf"},
		{"unknown start_target", "start_target: {name: nginx}\nclients: 1\nduration: 1s\n", "$.start_target.name"},
		{"no load", "target: builtin\n", "anyOf"},
		{"bad duration", "target: builtin\nclients: 1\nduration: 2 s\n", "$.duration"},
		{"negative duration", "target: builtin\nclients: 1\nduration: -1\n", "$.duration"},
		{"bad size unit", "target: builtin\nclients: 1\nduration: 1s\nclient: {max_message_size: 1 TB}\n", "$.client.max_message_size"},
		{"two actions", flowDoc("- connect: {path: /echo}\n    sleep: 1s"), "$.flows[0].steps[0]: 2 of the oneOf"},
		{"no action", flowDoc("- name: nothing"), "$.flows[0].steps[0]: 0 of the oneOf"},
		{"unknown step field", flowDoc("- connect: {path: /echo, room: a}"), `unknown property "room"`},
		{"path without slash", flowDoc("- connect: {path: echo}"), "does not match ^/"},
		{"bad close code", flowDoc("- connect: {path: /echo}\n  - close: {code: 1005}"), "$.flows[0].steps[1].close.code"},
		{"bad on_error", "target: builtin\nclients: 1\nduration: 1s\nflows: [{name: a, on_error: retry, steps: [{sleep: 1s}]}]\n", "$.flows[0].on_error"},
		{"payload twice", flowDoc("- connect: {path: /echo}\n  - send: {text: a, size: 3}"), "$.flows[0].steps[1].send: 2 of the oneOf"},
		{"phase both models", "target: builtin\nphases: [{duration: 1s, clients: 1, arrival_rate: 2}]\n", "$.phases[0]: 2 of the oneOf"},
		{"threshold typo", "target: builtin\nclients: 1\nduration: 1s\nthresholds: [{exp: rtt p99 < 1s}]\n", "$.thresholds[0]"},
		{"bad think dist", flowDoc("- think: {mean: 1s, dist: poisson}"), "$.flows[0].steps[0].think.dist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSchema([]byte(tt.doc))
			if err == nil {
				t.Fatalf("schema accepts:\n%s", tt.doc)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("errors do not mention %q:\n%v", tt.want, err)
			}
		})
	}
}

func flowDoc(steps string) string {
	return "target: builtin\nclients: 1\nduration: 1s\nflows:\n- name: f\n  steps:\n  " + steps + "\n"
}

// TestExamplesHaveModeline checks that every example tells
// yaml-language-server where the schema is.
func TestExamplesHaveModeline(t *testing.T) {
	const modeline = "# yaml-language-server: $schema=../scenario/schema.json\n"
	for _, f := range glob(t, "../scenarios/*.yaml") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), modeline) {
			t.Errorf("%s does not start with %q", f, modeline)
		}
	}
}

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(Schema, &root); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	return root
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

type schemaWalker struct {
	t       *testing.T
	root    map[string]any
	seen    map[reflect.Type]bool
	objects int
}

// object checks the struct type typ against the object schema s.
func (w *schemaWalker) object(path string, typ reflect.Type, s map[string]any) {
	if w.seen[typ] {
		return
	}
	w.seen[typ] = true
	w.objects++
	if ap, ok := s["additionalProperties"].(bool); !ok || ap {
		w.t.Errorf("%s (%s): the schema must say additionalProperties: false", path, typ.Name())
	}
	props, _ := s["properties"].(map[string]any)
	fields := yamlFields(typ)
	for name, ft := range fields {
		ps, ok := props[name].(map[string]any)
		if !ok {
			w.t.Errorf("%s.%s: field of %s missing from the schema", path, name, typ.Name())
			continue
		}
		if w.description(ps) == "" {
			w.t.Errorf("%s.%s: no description in the schema", path, name)
		}
		w.field(path+"."+name, ft, ps)
	}
	for name := range props {
		if _, ok := fields[name]; !ok {
			w.t.Errorf("%s.%s: in the schema but not a field of %s", path, name, typ.Name())
		}
	}
}

// field follows a field's type (through pointers, slices and maps) to the
// structs inside it and checks each against the matching object schema.
func (w *schemaWalker) field(path string, typ reflect.Type, s map[string]any) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Struct:
		obj := w.find(s, func(c map[string]any) bool { return c["properties"] != nil })
		if obj == nil {
			w.t.Errorf("%s: %s is a struct, the schema has no object for it", path, typ.Name())
			return
		}
		w.object(path, typ, obj)
	case reflect.Slice:
		arr := w.find(s, func(c map[string]any) bool { return c["items"] != nil })
		if arr == nil {
			if typ.Elem().Kind() == reflect.Struct {
				w.t.Errorf("%s: %s is a list, the schema has no array for it", path, typ)
			}
			return
		}
		w.field(path+"[]", typ.Elem(), w.deref(arr["items"].(map[string]any)))
	}
}

// find returns the first schema within s (itself, its $ref, its anyOf and
// oneOf alternatives) that satisfies ok.
func (w *schemaWalker) find(s map[string]any, ok func(map[string]any) bool) map[string]any {
	s = w.deref(s)
	if ok(s) {
		return s
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		alts, _ := s[k].([]any)
		for _, a := range alts {
			if c := w.find(a.(map[string]any), ok); c != nil {
				return c
			}
		}
	}
	return nil
}

// deref resolves a $ref; sibling keywords other than description are not
// expected next to one.
func (w *schemaWalker) deref(s map[string]any) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name := strings.TrimPrefix(ref, "#/definitions/")
	d, ok := w.root["definitions"].(map[string]any)[name].(map[string]any)
	if !ok {
		w.t.Fatalf("$ref %s: no such definition", ref)
	}
	for k := range s {
		if k != "$ref" && k != "description" {
			w.t.Errorf("$ref %s has sibling keyword %q, which draft-07 ignores", ref, k)
		}
	}
	return w.deref(d)
}

// description returns the description of s or of what it refers to.
func (w *schemaWalker) description(s map[string]any) string {
	if d, ok := s["description"].(string); ok {
		return d
	}
	if _, ok := s["$ref"]; ok {
		return w.description(w.deref(s))
	}
	return ""
}

// yamlFields returns typ's fields by YAML name, with inline structs
// flattened and `yaml:"-"` fields left out.
func yamlFields(typ reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range typ.Fields() {
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported():
			continue
		case slices.Contains(strings.Split(opts, ","), "inline"):
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
