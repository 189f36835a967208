package threshold

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// Threshold is one parsed threshold. Parse fills the expression's fields;
// the options (AbortOnFail, Delay, Window) come from the scenario file. It
// is plain data: copy it freely.
type Threshold struct {
	Expr   string  // as written, trimmed
	Metric string  // "rtt", "errors", "sends_dropped", "reach", a step metric, …
	Select string  // the [selector]: a step for errors, a room pattern for reach and loss
	Stat   string  // canonical: "p99", "p99.9", "min", "mean", "max", "stddev", "count" or "rate"
	Op     string  // <, <=, >, >=, == or !=
	Limit  float64 // in Unit
	Unit   string  // UnitMicros, UnitRatio, UnitPerSecond or UnitCount

	AbortOnFail bool          // stop the run as soon as the threshold fails (after Delay)
	Delay       time.Duration // no live evaluation before this much run time
	Window      time.Duration // rolling window; zero for the whole run
}

// Units of Threshold.Limit and of report.ThresholdResult, as
// report.FormatValue understands them.
const (
	UnitMicros    = "us"    // latency, microseconds
	UnitRatio     = "ratio" // 0 to 1
	UnitPerSecond = "per_s" // events per second of run time
	UnitCount     = "count" // events
)

// Kind is what sort of metric a threshold is on, which decides how it is
// measured.
type Kind int

// Metric kinds.
const (
	KindLatency Kind = iota // a latency histogram (built in or a step's)
	KindCounter             // one of metrics.CounterList
	KindErrors              // errors of every cause (or of a step)
	KindDropped             // sends and sessions dropped
	KindReach               // broadcast reach
	KindLoss                // broadcast loss
)

// Derived metric names.
const (
	MetricErrors  = "errors"
	MetricDropped = "dropped"
	MetricReach   = "reach"
	MetricLoss    = "loss"
)

// CounterNames returns the counter metrics thresholds accept (the report
// names of metrics.Counters' counts), sorted.
func CounterNames() []string {
	var out []string
	for _, k := range metrics.CounterList() {
		out = append(out, k.Name)
	}
	sort.Strings(out)
	return out
}

// DerivedNames returns the metrics thresholds compute from several
// counters or from the broadcast results.
func DerivedNames() []string {
	return []string{MetricErrors, MetricDropped, MetricReach, MetricLoss}
}

// ReservedNames returns every metric name that is not a latency metric:
// a scenario step must not name its metric any of these.
func ReservedNames() []string {
	return append(DerivedNames(), CounterNames()...)
}

// IsLatency reports whether a threshold on metric is a latency threshold
// (any name that is not a counter or a derived metric).
func IsLatency(metric string) bool { return KindOf(metric) == KindLatency }

// KindOf returns the kind of a threshold on metric.
func KindOf(metric string) Kind {
	switch metric {
	case MetricErrors:
		return KindErrors
	case MetricDropped:
		return KindDropped
	case MetricReach:
		return KindReach
	case MetricLoss:
		return KindLoss
	}
	if _, ok := metrics.LookupCounter(metric); ok {
		return KindCounter
	}
	return KindLatency
}

// ParseError is a threshold expression that does not parse. Offset is the
// byte offset in Expr where the problem is, so a caller that knows where
// the expression sits in a file can point at the column.
type ParseError struct {
	Expr   string
	Offset int
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("threshold %q: %s", e.Expr, e.Msg)
}

const latencyStats = "min, mean, max, stddev, count, or a percentile such as p50, p95, p99, p99.9"

// statsFor lists the statistics valid for a metric, for error messages.
func statsFor(k Kind, selected bool) string {
	switch k {
	case KindLatency:
		return latencyStats
	case KindErrors:
		if selected {
			return "count"
		}
		return "count (default) or rate (a ratio of connects and messages)"
	case KindCounter, KindDropped:
		return "count (default) or rate (per second)"
	case KindReach:
		return "min (default: the worst room) or mean (overall)"
	case KindLoss:
		return "max (default: the worst room) or mean (overall)"
	}
	return ""
}

// Parse parses a threshold expression such as "rtt p99 < 50ms". See the
// package documentation for the grammar. Errors are *ParseError.
func Parse(expr string) (Threshold, error) {
	p := &parser{s: expr}
	t, err := p.parse()
	if err != nil {
		return Threshold{}, err
	}
	t.Expr = strings.TrimSpace(expr)
	return t, nil
}

type parser struct {
	s   string
	pos int
}

func (p *parser) fail(at int, format string, args ...any) error {
	return &ParseError{Expr: p.s, Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdent(c byte) bool      { return isIdentStart(c) || isDigit(c) }
func isOpChar(c byte) bool     { return c == '<' || c == '>' || c == '=' || c == '!' }

// word reads a run of bytes accepted by ok.
func (p *parser) word(ok func(byte) bool) string {
	start := p.pos
	for p.pos < len(p.s) && ok(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *parser) parse() (Threshold, error) {
	var t Threshold
	p.skipSpace()
	if p.pos == len(p.s) {
		return t, p.fail(0, "empty threshold: write METRIC [STAT] OP LIMIT, e.g. \"rtt p99 < 50ms\"")
	}
	metricAt := p.pos
	if !isIdentStart(p.s[p.pos]) {
		return t, p.fail(p.pos, "expected a metric name (letters, digits and _) at %q", p.s[p.pos:])
	}
	t.Metric = p.word(isIdent)
	k := KindOf(t.Metric)

	if p.pos < len(p.s) && p.s[p.pos] == '[' {
		open := p.pos
		end := strings.IndexByte(p.s[open:], ']')
		if end < 0 {
			return t, p.fail(open, "missing ] after %q", p.s[open:])
		}
		t.Select = strings.TrimSpace(p.s[open+1 : open+end])
		p.pos = open + end + 1
		switch {
		case k != KindErrors && k != KindReach && k != KindLoss:
			return t, p.fail(open, "%s takes no [selector]: only errors[STEP], reach[ROOM] and loss[ROOM] do", t.Metric)
		case t.Select == "":
			return t, p.fail(open, "empty [selector] after %s", t.Metric)
		}
	}

	p.skipSpace()
	statAt := p.pos
	var stat string
	if p.pos < len(p.s) && !isOpChar(p.s[p.pos]) {
		stat = p.word(func(c byte) bool { return isIdent(c) || c == '.' })
		if stat == "" {
			return t, p.fail(p.pos, "expected a statistic or an operator after %s, found %q", t.Metric, p.s[p.pos:])
		}
	}
	var err error
	if t.Stat, err = canonicalStat(k, t.Metric, t.Select != "", stat); err != nil {
		at := statAt
		if stat == "" {
			at = metricAt
		}
		return t, p.fail(at, "%v", err)
	}

	p.skipSpace()
	opAt := p.pos
	op := p.word(isOpChar)
	switch op {
	case "<", "<=", ">", ">=", "==", "!=":
		t.Op = op
	case "":
		if p.pos == len(p.s) {
			return t, p.fail(opAt, "missing operator and limit after %q: want one of < <= > >= == !=", strings.TrimSpace(p.s[:opAt]))
		}
		return t, p.fail(opAt, "expected an operator (< <= > >= == !=) at %q", p.s[opAt:])
	case "=":
		return t, p.fail(opAt, "unknown operator \"=\": use == for equality")
	default:
		return t, p.fail(opAt, "unknown operator %q: want one of < <= > >= == !=", op)
	}

	p.skipSpace()
	numAt := p.pos
	if p.pos < len(p.s) && (p.s[p.pos] == '-' || p.s[p.pos] == '+') {
		return t, p.fail(numAt, "the limit must be a plain number without a sign")
	}
	intPart := p.word(isDigit)
	frac := ""
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		p.pos++
		frac = p.word(isDigit)
		if frac == "" {
			return t, p.fail(numAt, "malformed number %q", p.s[numAt:p.pos])
		}
	}
	if intPart == "" && frac == "" {
		if p.pos == len(p.s) {
			return t, p.fail(numAt, "missing limit after %s", t.Op)
		}
		return t, p.fail(numAt, "expected a number after %s, found %q", t.Op, p.s[numAt:])
	}
	num := p.s[numAt:p.pos]
	if v, err := strconv.ParseFloat(num, 64); err != nil || math.IsInf(v, 0) {
		return t, p.fail(numAt, "number %q out of range", num)
	}

	p.skipSpace()
	unitAt := p.pos
	unit := p.word(func(c byte) bool { return c != ' ' && c != '\t' })
	p.skipSpace()
	if p.pos < len(p.s) {
		return t, p.fail(p.pos, "unexpected %q after the limit", p.s[p.pos:])
	}
	if t.Unit, t.Limit, err = limitIn(k, t.Metric, t.Stat, num, unit); err != nil {
		at := unitAt
		if unit == "" {
			at = numAt
		}
		return t, p.fail(at, "%v", err)
	}
	if math.IsInf(t.Limit, 0) {
		return t, p.fail(numAt, "limit %s%s out of range", num, unit)
	}
	return t, nil
}

// canonicalStat checks stat against the metric's Kind and returns its
// canonical spelling, or the default when stat is empty.
func canonicalStat(k Kind, metric string, selected bool, stat string) (string, error) {
	if stat == "" {
		switch k {
		case KindLatency:
			return "", fmt.Errorf("%s is a latency metric: name a statistic (%s)", metric, latencyStats)
		case KindReach:
			return "min", nil
		case KindLoss:
			return "max", nil
		}
		return "count", nil
	}
	s := strings.ToLower(stat)
	bad := func() error {
		return fmt.Errorf("unknown statistic %q for %s: want %s", stat, metric, statsFor(k, selected))
	}
	switch k {
	case KindLatency:
		switch s {
		case "min", "mean", "max", "stddev", "count":
			return s, nil
		case "avg":
			return "mean", nil
		case "median":
			return "p50", nil
		}
		if strings.HasPrefix(s, "p") {
			return canonicalPercentile(stat)
		}
		return "", bad()
	case KindCounter, KindDropped:
		if s == "count" || s == "rate" {
			return s, nil
		}
	case KindErrors:
		if s == "count" || (s == "rate" && !selected) {
			return s, nil
		}
	case KindReach:
		if s == "min" || s == "mean" {
			return s, nil
		}
	case KindLoss:
		if s == "max" || s == "mean" {
			return s, nil
		}
	}
	return "", bad()
}

func canonicalPercentile(stat string) (string, error) {
	digits := stat[1:]
	ok := digits != "" && strings.Count(digits, ".") <= 1 && !strings.HasPrefix(digits, ".") && !strings.HasSuffix(digits, ".")
	for i := 0; ok && i < len(digits); i++ {
		ok = isDigit(digits[i]) || digits[i] == '.'
	}
	if !ok {
		return "", fmt.Errorf("malformed percentile %q: write p followed by a number, e.g. p99 or p99.9", stat)
	}
	q, err := strconv.ParseFloat(digits, 64)
	if err != nil || q <= 0 || q > 100 {
		hint := ""
		switch {
		case q > 100 && !strings.Contains(digits, ".") && strings.HasPrefix(digits, "99"):
			hint = fmt.Sprintf(" (did you mean p99.%s?)", digits[2:])
		case q <= 0:
			hint = " (min is the smallest value)"
		}
		return "", fmt.Errorf("percentile %q out of range: want more than 0 and at most 100%s", stat, hint)
	}
	return "p" + strconv.FormatFloat(q, 'f', -1, 64), nil
}

// Percentile returns the percentile (0 to 100) a statistic such as p99.9
// stands for.
func Percentile(stat string) (float64, bool) {
	if !strings.HasPrefix(stat, "p") {
		return 0, false
	}
	q, err := strconv.ParseFloat(stat[1:], 64)
	return q, err == nil
}

// timeUnits maps a time unit to its size in µs as a power of ten and a
// factor: 1.5s is 1.5e6 µs.
var timeUnits = map[string]struct {
	exp    int
	factor float64
}{"us": {0, 1}, "µs": {0, 1}, "μs": {0, 1}, "ms": {3, 1}, "s": {6, 1}, "m": {6, 60}}

// scaled parses the decimal num multiplied by 10^exp, shifting the decimal
// point in the text so that "99.9" percent is exactly the float64 nearest
// 0.999 and "0.1" ms the one nearest 100 µs.
func scaled(num string, exp int) float64 {
	intPart, frac, _ := strings.Cut(num, ".")
	digits := intPart + frac
	point := len(intPart) + exp
	for point > len(digits) {
		digits += "0"
	}
	for point < 0 {
		digits = "0" + digits
		point++
	}
	v, _ := strconv.ParseFloat("0"+digits[:point]+"."+digits[point:]+"0", 64) // cannot fail: digits only
	return v
}

// limitIn converts a limit written as num with unit into the statistic's
// base unit.
func limitIn(k Kind, metric, stat string, num string, unit string) (string, float64, error) {
	v := scaled(num, 0)
	switch unitOf(k, stat) {
	case UnitMicros:
		u, ok := timeUnits[unit]
		if !ok {
			if unit == "" {
				return "", 0, fmt.Errorf("%s %s is a duration: give the limit a unit (µs, us, ms, s or m), e.g. 50ms", metric, stat)
			}
			return "", 0, fmt.Errorf("unknown time unit %q: want µs, us, ms, s or m", unit)
		}
		return UnitMicros, scaled(num, u.exp) * u.factor, nil
	case UnitRatio:
		switch unit {
		case "%":
			if v > 100 {
				return "", 0, fmt.Errorf("%s %s is a ratio: %s%% is more than 100%%", metric, stat, num)
			}
			return UnitRatio, scaled(num, -2), nil
		case "":
			if v > 1 {
				return "", 0, fmt.Errorf("%s %s is a ratio between 0 and 1: write %s%% or %g", metric, stat, num, scaled(num, -2))
			}
			return UnitRatio, v, nil
		}
		return "", 0, fmt.Errorf("%s %s is a ratio: write the limit as a percentage (0.1%%) or a fraction (0.001), not with %q", metric, stat, unit)
	case UnitPerSecond:
		if unit == "/s" || unit == "" {
			return UnitPerSecond, v, nil
		}
		return "", 0, fmt.Errorf("%s %s is per second: write the limit as 1000/s or 1000, not with %q", metric, stat, unit)
	}
	if unit != "" {
		return "", 0, fmt.Errorf("%s %s is a count: write a plain number, without %q", metric, stat, unit)
	}
	return UnitCount, v, nil
}

// unitOf returns the unit of a statistic of a metric of Kind k.
func unitOf(k Kind, stat string) string {
	switch k {
	case KindLatency:
		if stat == "count" {
			return UnitCount
		}
		return UnitMicros
	case KindReach, KindLoss:
		return UnitRatio
	case KindErrors:
		if stat == "rate" {
			return UnitRatio
		}
	case KindCounter, KindDropped:
		if stat == "rate" {
			return UnitPerSecond
		}
	}
	return UnitCount
}

// String returns the threshold in canonical form: every part spelled out,
// the limit in its base unit. Parse(t.String()) gives t back (without the
// options and Expr).
func (t Threshold) String() string {
	var b strings.Builder
	b.WriteString(t.Metric)
	if t.Select != "" {
		b.WriteString("[" + t.Select + "]")
	}
	b.WriteString(" " + t.Stat + " " + t.Op + " ")
	b.WriteString(strconv.FormatFloat(t.Limit, 'f', -1, 64))
	switch t.Unit {
	case UnitMicros:
		b.WriteString("us")
	case UnitPerSecond:
		b.WriteString("/s")
	}
	return b.String()
}

// Name returns the metric with its selector, as results show it:
// "rtt", "errors[login]".
func (t Threshold) Name() string {
	if t.Select != "" {
		return t.Metric + "[" + t.Select + "]"
	}
	return t.Metric
}

// Validate checks what Parse cannot: that a latency metric exists in the
// scenario (known reports whether the scenario records a latency metric of
// that name; nil accepts any name), that the options make sense, and that
// a windowed threshold's metric has per-interval data. It returns every
// problem, joined.
func Validate(t Threshold, known func(metric string) bool) error {
	var errs []error
	k := KindOf(t.Metric)
	if t.Metric == "" || t.Op == "" || t.Stat == "" || t.Unit == "" {
		errs = append(errs, errors.New("threshold was not made by Parse: metric, statistic, operator or unit missing"))
	}
	if k == KindLatency && t.Metric != "" && known != nil && !known(t.Metric) {
		errs = append(errs, unknownMetric(t.Metric))
	}
	if t.Delay < 0 {
		errs = append(errs, fmt.Errorf("delay %s is negative", t.Delay))
	}
	if t.Window < 0 {
		errs = append(errs, fmt.Errorf("window %s is negative", t.Window))
	}
	if t.Window > 0 {
		switch {
		case k == KindReach || k == KindLoss:
			errs = append(errs, fmt.Errorf("%s cannot have a window: broadcast reach is only known for the whole run", t.Metric))
		case k == KindErrors && t.Select != "":
			errs = append(errs, fmt.Errorf("errors[%s] cannot have a window: errors by step are only counted for the whole run (errors can)", t.Select))
		}
	}
	return errors.Join(errs...)
}

func unknownMetric(name string) error {
	all := append(metrics.BuiltinNames(), ReservedNames()...)
	msg := fmt.Sprintf("unknown metric %q", name)
	if s := closest(name, all); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return fmt.Errorf("%s: want a latency metric (%s, or one a step of this scenario names), errors, dropped, reach, loss, or a counter (%s)",
		msg, strings.Join(metrics.BuiltinNames(), ", "), strings.Join(CounterNames(), ", "))
}

// closest returns the candidate nearest to s by edit distance, if it is
// near enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD > 2 || bestD*3 > len(s) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Known returns a known function for Validate that accepts the given
// latency metric names (a scenario's MetricNames).
func Known(names []string) func(string) bool {
	return func(m string) bool { return slices.Contains(names, m) }
}

// LagBudgetShare is the share of the tightest latency threshold that the
// generator's own schedule lag may take before the run's numbers are
// called unreliable: a send that leaves that late has spent that much of
// the limit before the target saw it.
const LagBudgetShare = 0.10

// LagBudget returns the schedule lag p99 that ts tolerate: LagBudgetShare
// of the tightest upper limit on a latency that includes the generator's
// lateness (round trips, broadcast and named step latencies; not connect,
// handshake, ping or schedule_lag itself), or 0 when there is none.
func LagBudget(ts []Threshold) time.Duration {
	var tightest float64
	for _, t := range ts {
		if KindOf(t.Metric) != KindLatency || t.Stat == "count" || t.Stat == "min" || (t.Op != "<" && t.Op != "<=") {
			continue
		}
		switch t.Metric {
		case "schedule_lag", "connect", "handshake", "ping":
			continue
		}
		if t.Limit > 0 && (tightest == 0 || t.Limit < tightest) {
			tightest = t.Limit
		}
	}
	return time.Duration(LagBudgetShare * tightest * float64(time.Microsecond))
}
