package scenario

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
)

// Schema is the JSON Schema (draft-07) of the scenario format, for
// editors: with the modeline
//
//	# yaml-language-server: $schema=../scenario/schema.json
//
// yaml-language-server completes fields and flags mistakes as you type.
// The schema is a convenience; Validate is the authority, and it also
// checks what a schema cannot (templates, regular expressions, step order).
// schema_test.go keeps the schema and the Go types in step.
//
//go:embed schema.json
var Schema []byte

// CheckSchema checks a YAML document against Schema and returns every
// place it does not conform, or nil. It is a test helper: it understands
// exactly the JSON Schema keywords schema.json uses (and reports any other
// keyword as an error rather than ignoring it), so tests can check that the
// example scenarios, the schema and the parser agree without a JSON Schema
// library.
func CheckSchema(doc []byte) error {
	var root map[string]any
	if err := json.Unmarshal(Schema, &root); err != nil {
		return fmt.Errorf("schema.json: %w", err)
	}
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	d := json.NewDecoder(strings.NewReader(string(js)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("yaml as json: %w", err)
	}
	sv := &schemaValidator{root: root}
	sv.check("$", root, v)
	if len(sv.errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(sv.errs, "\n"))
}

type schemaValidator struct {
	root map[string]any
	errs []string
}

// annotations are keywords that do not constrain a value.
var annotations = []string{"$schema", "title", "description", "definitions", "default", "examples"}

// check validates v at path against schema s, appending to sv.errs.
func (sv *schemaValidator) check(path string, s map[string]any, v any) {
	if ref, ok := s["$ref"].(string); ok {
		target, err := sv.resolve(ref)
		if err != nil {
			sv.errs = append(sv.errs, fmt.Sprintf("%s: %v", path, err))
			return
		}
		sv.check(path, target, v)
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	obj, isObj := v.(map[string]any)
	for _, k := range keys {
		kw := s[k]
		switch k {
		case "$ref", "properties", "additionalProperties", "propertyNames":
			// $ref is done above; the object keywords below.
		case "type":
			if !typeMatches(kw, v) {
				sv.fail(path, "want type %v, got %s", kw, jsonType(v))
				return
			}
		case "enum":
			if !slices.ContainsFunc(kw.([]any), func(e any) bool { return jsonEqualValue(e, v) }) {
				sv.fail(path, "%s is not one of %v", show(v), kw)
			}
		case "const":
			if !jsonEqualValue(kw, v) {
				sv.fail(path, "want %v", kw)
			}
		case "pattern":
			if str, ok := v.(string); ok && !regexp.MustCompile(kw.(string)).MatchString(str) {
				sv.fail(path, "%q does not match %s", str, kw)
			}
		case "minLength":
			if str, ok := v.(string); ok && len([]rune(str)) < toInt(kw) {
				sv.fail(path, "shorter than %v", kw)
			}
		case "minimum", "maximum", "exclusiveMinimum":
			n, ok := number(v)
			if !ok {
				continue
			}
			limit, _ := number(kw)
			if (k == "minimum" && n < limit) || (k == "maximum" && n > limit) || (k == "exclusiveMinimum" && n <= limit) {
				sv.fail(path, "%v violates %s %v", show(v), k, kw)
			}
		case "required":
			if !isObj {
				continue
			}
			for _, r := range kw.([]any) {
				if _, ok := obj[r.(string)]; !ok {
					sv.fail(path, "missing %s", r)
				}
			}
		case "minItems":
			if arr, ok := v.([]any); ok && len(arr) < toInt(kw) {
				sv.fail(path, "fewer than %v items", kw)
			}
		case "items":
			if arr, ok := v.([]any); ok {
				for i, e := range arr {
					sv.check(fmt.Sprintf("%s[%d]", path, i), kw.(map[string]any), e)
				}
			}
		case "allOf":
			for _, b := range kw.([]any) {
				sv.check(path, b.(map[string]any), v)
			}
		case "anyOf", "oneOf":
			n := 0
			for _, b := range kw.([]any) {
				if sv.matches(path, b.(map[string]any), v) {
					n++
				}
			}
			if n == 0 || (k == "oneOf" && n > 1) {
				sv.fail(path, "%d of the %s alternatives match", n, k)
			}
		default:
			if !slices.Contains(annotations, k) {
				sv.fail(path, "schema keyword %q is not supported by CheckSchema", k)
			}
		}
	}
	if isObj {
		sv.checkObject(path, s, obj)
	}
}

func (sv *schemaValidator) checkObject(path string, s map[string]any, obj map[string]any) {
	props, _ := s["properties"].(map[string]any)
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if pn, ok := s["propertyNames"].(map[string]any); ok {
			sv.check(path+"."+k+" (name)", pn, k)
		}
		if ps, ok := props[k]; ok {
			sv.check(path+"."+k, ps.(map[string]any), obj[k])
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				sv.fail(path, "unknown property %q", k)
			}
		case map[string]any:
			sv.check(path+"."+k, ap, obj[k])
		}
	}
}

// matches reports whether v conforms to s without recording errors.
func (sv *schemaValidator) matches(path string, s map[string]any, v any) bool {
	sub := &schemaValidator{root: sv.root}
	sub.check(path, s, v)
	return len(sub.errs) == 0
}

func (sv *schemaValidator) fail(path, format string, args ...any) {
	sv.errs = append(sv.errs, path+": "+fmt.Sprintf(format, args...))
}

func (sv *schemaValidator) resolve(ref string) (map[string]any, error) {
	name, ok := strings.CutPrefix(ref, "#/definitions/")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	defs, _ := sv.root["definitions"].(map[string]any)
	d, ok := defs[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q: no such definition", ref)
	}
	return d, nil
}

func typeMatches(kw, v any) bool {
	if list, ok := kw.([]any); ok {
		return slices.ContainsFunc(list, func(t any) bool { return typeMatches(t, v) })
	}
	t := jsonType(v)
	return kw == t || (kw == "number" && t == "integer")
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) && !strings.ContainsAny(x.String(), ".eE") {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

func toInt(v any) int {
	f, _ := number(v)
	return int(f)
}

func jsonEqualValue(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	return a == b
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
