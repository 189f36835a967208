package gate

import "github.com/wsbench/wsbench/threshold"

// Threshold is a parsed threshold (package threshold holds the grammar;
// this package evaluates thresholds on runs).
type Threshold = threshold.Threshold

// Parse parses a threshold expression; see package threshold.
func Parse(expr string) (Threshold, error) { return threshold.Parse(expr) }

// LagBudget returns the schedule lag p99 that ts tolerate; see
// threshold.LagBudget.
var LagBudget = threshold.LagBudget
