package scenario

import "fmt"

func (v *validator) thresholds() {
	for i, t := range v.sc.Thresholds {
		if err := v.checkThreshold(t.Expr); err != nil {
			v.add(fmt.Sprintf("thresholds[%d]", i), "%v", err)
		}
	}
}

// checkThreshold is replaced by the gate-backed check once package gate exists.
func (v *validator) checkThreshold(expr string) error {
	if expr == "" {
		return fmt.Errorf("empty threshold expression")
	}
	return nil
}
