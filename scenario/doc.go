// Package scenario defines wsbench's YAML scenario language: the load
// profile (phases of a closed or open model), the flows each session runs,
// client settings and thresholds. Load parses a file strictly (unknown
// fields are errors), fills defaults, and validates everything at once,
// each problem with file:line:column and the field it concerns.
//
// The types are pure data; package engine executes them.
package scenario
