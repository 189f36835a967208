package scenario

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Duration is a time.Duration written as a Go duration string ("1.5s",
// "200ms", "2m") or a bare number of seconds.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML implements yaml.NodeUnmarshaler, so a bad value is
// reported at its own line and column.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	v, err := ParseDuration(scalar(n))
	if err != nil {
		return nodeError(n, err)
	}
	*d = Duration(v)
	return nil
}

// What durations and sizes look like, for messages.
const (
	wantDuration = "a duration such as 500ms, 2s or 1m30s"
	wantByteSize = "a size such as 65536, 64KiB or 1MiB"
)

// goDuration is the syntax of a Go duration; one that matches and still
// does not parse is too long.
var goDuration = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// ParseDuration parses a Go duration or a number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return 0, fmt.Errorf("expected %s, got %q", wantDuration, in)
		case f < 0:
			return 0, fmt.Errorf("expected a duration of 0 or more, got %q", in)
		case f*float64(time.Second) >= math.MaxInt64:
			return 0, fmt.Errorf("%q is too long for a duration (at most about 292 years)", in)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		if goDuration.MatchString(s) {
			return 0, fmt.Errorf("%q is too long for a duration (at most about 292 years)", in)
		}
		return 0, fmt.Errorf("expected %s, got %q", wantDuration, in)
	}
	if v < 0 {
		return 0, fmt.Errorf("expected a duration of 0 or more, got %q", in)
	}
	return v, nil
}

// MarshalJSON writes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	*d = Duration(v)
	return err
}

// ByteSize is a number of bytes, written as a number or with a unit: B,
// KB/KiB, MB/MiB (both meaning powers of 1024, as memory limits do).
type ByteSize int64

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (b *ByteSize) UnmarshalYAML(n ast.Node) error {
	v, err := ParseByteSize(scalar(n))
	if err != nil {
		return nodeError(n, err)
	}
	*b = ByteSize(v)
	return nil
}

// ParseByteSize parses a size with an optional unit.
func ParseByteSize(s string) (int64, error) {
	in := s
	s = strings.TrimSpace(s)
	mult := int64(1)
	lower := strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.mult
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("expected %s, got %q", wantByteSize, in)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", in)
	}
	return n * mult, nil
}

// UnmarshalYAML accepts a plain number (a fixed size) or a mapping.
func (s *SizeDist) UnmarshalYAML(n ast.Node) error {
	if n.Type() != ast.MappingType {
		v, err := strconv.Atoi(scalar(n))
		if err != nil {
			return nodeError(n, fmt.Errorf("want a size in bytes or a mapping with min/max/mean/dist"))
		}
		*s = SizeDist{Fixed: v}
		return nil
	}
	type plain SizeDist
	var p plain
	if err := yaml.NodeToValue(n, &p, yaml.DisallowUnknownField()); err != nil {
		return err
	}
	*s = SizeDist(p)
	return nil
}

// MarshalYAML writes a fixed size as the plain number it was read from
// and anything else as a mapping, so a marshalled scenario reads back the
// same.
func (s SizeDist) MarshalYAML() (any, error) {
	if s.Fixed != 0 && s.Dist == "" {
		return s.Fixed, nil
	}
	type plain SizeDist
	return plain(s), nil
}

// UnmarshalYAML accepts an expression string or a mapping with options.
func (t *ThresholdSpec) UnmarshalYAML(n ast.Node) error {
	if n.Type() != ast.MappingType {
		*t = ThresholdSpec{Expr: scalar(n)}
		return nil
	}
	type plain ThresholdSpec
	var p plain
	if err := yaml.NodeToValue(n, &p, yaml.DisallowUnknownField()); err != nil {
		return err
	}
	*t = ThresholdSpec(p)
	return nil
}

// scalar returns the text of a scalar node (unquoted), or "" for others.
func scalar(n ast.Node) string {
	if sn, ok := n.(ast.ScalarNode); ok {
		if s, ok := sn.GetValue().(string); ok {
			return s
		}
	}
	if tok := n.GetToken(); tok != nil {
		return tok.Value
	}
	return ""
}

// posError is a decoding error that knows where it is.
type posError struct {
	line, col int
	err       error
}

func (e *posError) Error() string { return fmt.Sprintf("[%d:%d] %v", e.line, e.col, e.err) }
func (e *posError) Unwrap() error { return e.err }

func nodeError(n ast.Node, err error) error {
	if tok := n.GetToken(); tok != nil {
		return &posError{line: tok.Position.Line, col: tok.Position.Column, err: err}
	}
	return err
}

// UnmarshalYAML lets an action whose settings are all optional be written
// bare, as `- listen:` or `- close:`: YAML reads those as null, which would
// otherwise leave the step with no action at all.
func (s *Step) UnmarshalYAML(n ast.Node) error {
	type plain Step // no methods, so decoding it does not recurse here
	if err := yaml.NodeToValue(n, (*plain)(s), yaml.DisallowUnknownField()); err != nil {
		return err
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		return nil
	}
	for _, kv := range m.Values {
		if kv.Value.Type() != ast.NullType {
			continue
		}
		switch kv.Key.String() {
		case "listen":
			s.Listen = &Listen{}
		case "ping":
			s.Ping = &PingStep{}
		case "close":
			s.Close = &CloseStep{}
		case "reconnect":
			s.Reconnect = &ReconnectStep{}
		}
	}
	return nil
}
