package scenario

import (
	"fmt"

	"github.com/wsbench/wsbench/threshold"
)

func (v *validator) thresholds() {
	for i, spec := range v.sc.Thresholds {
		f := fmt.Sprintf("thresholds[%d]", i)
		if err := v.checkThresholdSpec(spec); err != nil {
			v.add(f, "%v", err)
		}
		if spec.Window > 0 && spec.Window < v.sc.Interval {
			v.add(f+".window", "%s is shorter than the report interval %s", spec.Window.D(), v.sc.Interval.D())
		}
	}
}

// checkThresholdSpec validates a threshold with its options, which some
// checks depend on (not every metric has a rolling window).
func (v *validator) checkThresholdSpec(spec ThresholdSpec) error {
	t, err := threshold.Parse(spec.Expr)
	if err != nil {
		return err
	}
	t.AbortOnFail, t.Delay, t.Window = spec.AbortOnFail, spec.Delay.D(), spec.Window.D()
	return threshold.Validate(t, threshold.Known(v.sc.MetricNames()))
}

// checkThreshold parses expr and checks that its metric is one this
// scenario records (built-in, counter, or a step's named metric).
func (v *validator) checkThreshold(expr string) error {
	t, err := threshold.Parse(expr)
	if err != nil {
		return err
	}
	return threshold.Validate(t, threshold.Known(v.sc.MetricNames()))
}

// ParsedThresholds returns the scenario's thresholds parsed, with their options.
// The scenario must have been validated. Expr, which reports show, has
// values from the environment masked.
func (sc *Scenario) ParsedThresholds() ([]threshold.Threshold, error) {
	var out []threshold.Threshold
	for i, spec := range sc.Thresholds {
		t, err := threshold.Parse(spec.Expr)
		if err != nil {
			return nil, fmt.Errorf("thresholds[%d]: %w", i, sc.MaskError(err))
		}
		t.Expr = sc.Mask(t.Expr)
		t.AbortOnFail, t.Delay, t.Window = spec.AbortOnFail, spec.Delay.D(), spec.Window.D()
		out = append(out, t)
	}
	return out, nil
}
