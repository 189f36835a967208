package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/report"
)

// shardSpec is run's --shard I/N --start-at TIME: one share of a run that
// several machines generate without a live coordinator. Every shard
// starts at the same instant and runs every N-th slot and arrival of the
// one schedule (engine.Share), so wsbench merge of the N reports is the
// whole run.
type shardSpec struct {
	index, count int
	startAt      time.Time
}

// maxStartLate is how far in the past --start-at may be: a shard that
// starts late runs behind the others' schedule.
const maxStartLate = time.Second

// parseShard reads --shard and --start-at; nil when --shard is absent.
func parseShard(shard, startAt string, now time.Time) (*shardSpec, error) {
	if shard == "" {
		if startAt != "" {
			return nil, fmt.Errorf("--start-at needs --shard")
		}
		return nil, nil
	}
	i, n, ok := strings.Cut(shard, "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || count < 1 || index < 0 || index >= count {
		return nil, fmt.Errorf("--shard %q: want I/N with 0 <= I < N (I counts from 0, as a Kubernetes completion index)", shard)
	}
	if startAt == "" {
		return nil, fmt.Errorf("--shard needs --start-at TIME (RFC 3339, e.g. %s), the same for every shard", now.Add(time.Minute).UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	at, err := time.Parse(time.RFC3339Nano, startAt)
	if err != nil {
		return nil, fmt.Errorf("--start-at %q: want an RFC 3339 time such as %s", startAt, now.Add(time.Minute).UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	if late := now.Sub(at); late > maxStartLate {
		return nil, fmt.Errorf("--start-at %s was %s ago: every shard must start at the same instant, so give one in the future", startAt, late.Round(time.Second))
	}
	return &shardSpec{index: index, count: count, startAt: at}, nil
}

// apply makes eopts run the shard: its share of the schedule, its worker
// number in markers, the common origin and start, and the broadcast
// ledger in the report so that a merge computes reach across shards.
func (s *shardSpec) apply(eopts *engine.Options) {
	eopts.Share = engine.Share{Index: s.index, Count: s.count}
	eopts.Worker = s.index + 1
	eopts.Origin, eopts.StartAt = s.startAt, s.startAt
	eopts.ExportLedger = true
}

func (s *shardSpec) record(rep *report.Report) {
	rep.Shard = &report.Shard{Index: s.index, Count: s.count, StartAt: s.startAt.UTC()}
}
