package report

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MissingShardsError says which shards of a run a merge lacks.
type MissingShardsError struct {
	Count   int
	Missing []int // indices, from 0
}

func (e *MissingShardsError) Error() string {
	names := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		names[i] = fmt.Sprintf("%d/%d", m, e.Count)
	}
	verb := "is"
	if len(names) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("shard %s %s missing (%d of %d given): the merge would count only part of the run",
		strings.Join(names, ", "), verb, e.Count-len(e.Missing), e.Count)
}

// CheckShards checks that reports carrying a shard (wsbench run --shard,
// a worker's kept report) are the shards of one run: all of them shards,
// of the same count, start and load profile, each index once, and none
// missing (a *MissingShardsError, which a caller may choose to accept).
// Reports without shards pass.
func CheckShards(rs ...*Report) error {
	var first *Report
	firstAt := 0
	for i, r := range rs {
		if r.Shard != nil {
			first, firstAt = r, i
			break
		}
	}
	if first == nil {
		return nil
	}
	fs := first.Shard
	seen := map[int]int{}
	for i, r := range rs {
		s := r.Shard
		switch {
		case s == nil:
			return fmt.Errorf("report %d is shard %d/%d, report %d is not a shard: merge the shards of one run, or reports without shards", firstAt+1, fs.Index, fs.Count, i+1)
		case s.Count != fs.Count:
			return fmt.Errorf("report %d is shard %d/%d, report %d is shard %d/%d: shards of different splits", firstAt+1, fs.Index, fs.Count, i+1, s.Index, s.Count)
		case !s.StartAt.Equal(fs.StartAt):
			return fmt.Errorf("report %d's shard started at %s, report %d's at %s: shards of different runs", firstAt+1, fs.StartAt.Format(time.RFC3339Nano), i+1, s.StartAt.Format(time.RFC3339Nano))
		case s.Index < 0 || s.Index >= s.Count:
			return fmt.Errorf("report %d is shard %d/%d, which cannot be", i+1, s.Index, s.Count)
		}
		if j, dup := seen[s.Index]; dup {
			return fmt.Errorf("shard %d/%d is given twice (reports %d and %d)", s.Index, s.Count, j+1, i+1)
		}
		seen[s.Index] = i
		if !jsonEqual(embeddedScenario(r).Phases, embeddedScenario(first).Phases) {
			return fmt.Errorf("report %d's scenario has different phases from report %d's: every shard runs its share of the same load profile", i+1, firstAt+1)
		}
	}
	var missing []int
	for k := range fs.Count {
		if _, ok := seen[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return &MissingShardsError{Count: fs.Count, Missing: missing}
	}
	return nil
}

// DescribeShards completes the merge of shards rs (checked with
// CheckShards) in merged: each shard's share in Workers, the clock
// agreement across them, and no ledger (the merged report is the whole
// run, not a part of a larger one). Reports without shards leave merged
// as it is.
func DescribeShards(merged *Report, rs []*Report) {
	if len(rs) == 0 || rs[0].Shard == nil {
		return
	}
	merged.Ledger = nil
	merged.Workers = nil
	var bounds []float64
	measured := true
	for _, r := range rs {
		c := &r.Counters
		merged.Workers = append(merged.Workers, WorkerResult{
			Index:            r.Shard.Index + 1,
			Host:             r.Environment.Hostname,
			Exit:             "shard report",
			EndReason:        r.EndReason,
			PeakConnections:  r.Rates.PeakConnections,
			ConnectsOK:       c.ConnectsOK,
			MessagesSent:     c.MessagesSent,
			MessagesReceived: c.MessagesReceived,
			Errors:           c.Errors(),
			Unreliable:       r.Generator.Unreliable,
			MaxRSSBytes:      r.Generator.MaxRSSBytes,
		})
		if r.Clock != nil && r.Clock.Method == ClockMeasured {
			w := &merged.Workers[len(merged.Workers)-1]
			w.ClockOffsetUS, w.ClockBoundUS = r.Clock.OffsetUS, r.Clock.BoundUS
			bounds = append(bounds, r.Clock.BoundUS)
		} else {
			measured = false
		}
	}
	slices.SortFunc(merged.Workers, func(a, b WorkerResult) int { return a.Index - b.Index })
	if !measured {
		merged.Clock = &Clock{Method: ClockUnmeasured, Note: "each shard ran on its host's own clock, so one-way latencies between shards carry the hosts' clock offsets: keep the hosts NTP-synchronised, or use wsbench coordinate, which measures and corrects them"}
		return
	}
	slices.Sort(bounds)
	var b float64
	for _, x := range bounds[max(0, len(bounds)-2):] {
		b += x
	}
	merged.Clock = &Clock{Method: ClockMeasured, OneWayBoundUS: &b, Note: "the shards are workers' reports of a coordinated run; their clocks were measured against the coordinator's"}
}

// IsMissingShards reports whether err says only that shards are missing.
func IsMissingShards(err error) bool {
	var m *MissingShardsError
	return errors.As(err, &m)
}
