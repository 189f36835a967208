package report

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
)

// validate checks what a report read from a file must hold before
// anything renders, merges, compares or gates it: every latency summary
// backed by a histogram that decodes and holds as many samples as the
// summary says, no negative count anywhere (a negative error count could
// cancel a real one and pass `errors == 0`), and series whose columns fit
// their time axis. It does not decode the per-interval histograms of the
// series (a long run has tens of thousands, a millisecond each); merge
// and windowed thresholds decode those and fail on a bad one.
func (r *Report) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.DurationS < 0 {
		add("duration_s %g is negative", r.DurationS)
	}
	for _, name := range SortedKeys(r.Metrics) {
		if err := checkMetric(r.Metrics[name]); err != nil {
			add("metric %q: %w", name, err)
		}
	}
	if m := r.Generator.ScheduleLag; m != nil {
		if err := checkMetric(m); err != nil {
			add("generator.schedule_lag: %w", err)
		}
	}
	if err := checkCounts(reflect.ValueOf(r.Counters)); err != nil {
		add("counters.%w", err)
	}
	for i, b := range r.Broadcast {
		switch {
		case b.Published < 0 || b.Expected < 0 || b.Delivered < 0 || b.Lost < 0 || b.Duplicates < 0 || b.Reordered < 0 || b.Unexpected < 0:
			add("broadcast[%d]: a negative count", i)
		case b.Delivered > b.Expected || b.Lost != b.Expected-b.Delivered:
			add("broadcast[%d]: delivered %d and lost %d do not add up to expected %d", i, b.Delivered, b.Lost, b.Expected)
		case !(b.Reach >= 0 && b.Reach <= 1) || !(b.Loss >= 0 && b.Loss <= 1):
			add("broadcast[%d]: reach %g or loss %g outside 0..1", i, b.Reach, b.Loss)
		}
	}
	if r.Series != nil {
		if err := r.Series.validate(); err != nil {
			add("series: %w", err)
		}
	}
	return errors.Join(errs...)
}

// checkMetric checks that a latency summary is backed by its histogram.
func checkMetric(m *Metric) error {
	if m == nil {
		return errors.New("null")
	}
	if m.HDR == "" {
		if m.Count != 0 {
			return fmt.Errorf("%d samples summarised but no histogram (hdr): merges and thresholds need it", m.Count)
		}
		return nil
	}
	h, err := m.Histogram()
	if err != nil {
		return err
	}
	if h.TotalCount() != m.Count {
		return fmt.Errorf("the summary says %d samples, the histogram holds %d", m.Count, h.TotalCount())
	}
	return nil
}

// checkCounts reports the first negative int64 in v, a struct of counts
// and maps of counts, by its JSON name.
func checkCounts(v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Int64:
			if f.Int() < 0 {
				return fmt.Errorf("%s: %d is negative", name, f.Int())
			}
		case reflect.Map:
			if f.Type().Elem().Kind() != reflect.Int64 {
				continue
			}
			keys := f.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return cmpString(a.String(), b.String()) })
			for _, k := range keys {
				if n := f.MapIndex(k).Int(); n < 0 {
					return fmt.Errorf("%s[%q]: %d is negative", name, k.String(), n)
				}
			}
		}
	}
	return nil
}

// validate checks the series' shape: a positive interval, a time axis
// that never goes back, no column longer than it, no negative count.
func (s *Series) validate() error {
	n := len(s.T)
	if n > 0 && !(s.IntervalS > 0) {
		return fmt.Errorf("interval_s %g with %d intervals", s.IntervalS, n)
	}
	prev := 0.0
	for i, t := range s.T {
		if !(t >= prev) || math.IsInf(t, 0) {
			return fmt.Errorf("t[%d] = %g: the time axis must start at 0 or later and never go back", i, t)
		}
		prev = t
	}
	column := func(name string, col []int64) error {
		if len(col) > n {
			return fmt.Errorf("%s has %d values for %d intervals", name, len(col), n)
		}
		for i, c := range col {
			if c < 0 {
				return fmt.Errorf("%s[%d] = %d is negative", name, i, c)
			}
		}
		return nil
	}
	v := reflect.ValueOf(*s)
	for i := range v.NumField() {
		name := jsonName(v.Type().Field(i))
		if col, ok := v.Field(i).Interface().([]int64); ok {
			if err := column(name, col); err != nil {
				return err
			}
		}
	}
	if len(s.CPUPercent) > n {
		return fmt.Errorf("cpu_percent has %d values for %d intervals", len(s.CPUPercent), n)
	}
	for _, keyed := range []struct {
		name string
		cols map[string][]int64
	}{{"disconnects_by", s.DisconnectsBy}, {"errors_by", s.ErrorsBy}} {
		for _, k := range SortedKeys(keyed.cols) {
			if err := column(fmt.Sprintf("%s[%q]", keyed.name, k), keyed.cols[k]); err != nil {
				return err
			}
		}
	}
	for _, name := range SortedKeys(s.Latency) {
		ls := s.Latency[name]
		if ls == nil {
			return fmt.Errorf("latency[%q]: null", name)
		}
		for _, c := range []struct {
			col  string
			vals []int64
		}{{"count", ls.Count}, {"p50_us", ls.P50}, {"p90_us", ls.P90}, {"p99_us", ls.P99}, {"max_us", ls.Max}} {
			if err := column(fmt.Sprintf("latency[%q].%s", name, c.col), c.vals); err != nil {
				return err
			}
		}
		if len(ls.HDR) > n {
			return fmt.Errorf("latency[%q].hdr has %d values for %d intervals", name, len(ls.HDR), n)
		}
	}
	return nil
}

func jsonName(f reflect.StructField) string {
	name := f.Tag.Get("json")
	for i := range len(name) {
		if name[i] == ',' {
			return name[:i]
		}
	}
	return name
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
