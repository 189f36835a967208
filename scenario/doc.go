// Package scenario defines wsbench's YAML scenario language: the load
// profile (phases of a closed or open model), the flows each session runs,
// client settings, data files and thresholds. Load parses a file strictly
// (unknown fields are errors), substitutes ${NAME} from the environment,
// reads the data files it names, fills defaults, and validates everything
// at once, each problem with file:line:column and the field as the user
// wrote it.
//
// The types are data; package engine executes them. Besides its values, a
// parsed Scenario carries what Parse learnt (where each field was written,
// which values came from the environment and must be masked when shown,
// the rows of its data files), shared by copies and never changed after
// Parse returns: a parsed scenario, its Tables included, is safe for
// concurrent reads. Complete and edits (such as the flag overrides of
// `wsbench run`) belong to one goroutine, before the run starts.
package scenario
