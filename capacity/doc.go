// Package capacity finds the highest load a target sustains within an SLO:
// the engine of `wsbench capacity`.
//
// Search steps one load variable (concurrent clients, session arrival
// rate, or total message rate) up from a start level, one fresh run per
// level (warmup ramp, then a hold), and judges each step against the SLO
// on its hold window alone: latency histograms of the hold's intervals
// merged exactly, counters summed over them (see windowReport). It stops
// at the first level that breaks the SLO, then bisects between the last
// passing and the first failing level. A step whose load generator ran
// out of CPU (or calls itself unreliable) ends the search with a lower
// bound, since it measured the generator, not the target. The whole search
// keeps to a time budget: a step starts only when its expected cost fits
// in what is left.
//
// Steps run through a RunFunc, so the same search drives engine.Run in
// this process or a coordinator of several generator processes. Search
// runs one step at a time from the calling goroutine; nothing in the
// package keeps state between searches.
//
// docs/capacity.md explains how to read the result.
package capacity
