package engine

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/scenario"
)

// causeDataExhausted: a session found no row left in a data source with
// order unique.
const causeDataExhausted = "data_exhausted"

// dataSet hands each session its rows of the scenario's data files
// (scenario.DataSource): the session binds one row per source its flow
// uses when it starts, and {{source.column}} reads that row. It is safe
// for concurrent use: the rows are read-only and the counters atomic.
type dataSet struct {
	sources []*dataSource
	refs    map[string]dataRef       // "source.column" → where to read
	byFlow  map[*scenario.Flow][]int // sources each flow uses
	seed    uint64
	share   Share // the run's sessions are numbered across its shares
}

type dataSource struct {
	name  string
	t     *scenario.Table
	order string
	by    string
	taken atomic.Int64 // sessions that took a row (by session)
}

type dataRef struct{ src, col int }

// newDataSet prepares the scenario's data sources; nil when it has none.
func newDataSet(sc *scenario.Scenario, seed uint64) (*dataSet, error) {
	if len(sc.Data) == 0 {
		return nil, nil
	}
	d := &dataSet{refs: map[string]dataRef{}, byFlow: map[*scenario.Flow][]int{}, seed: seed}
	index := map[string]int{}
	for _, name := range slices.Sorted(maps.Keys(sc.Data)) {
		ds := sc.Data[name]
		t := sc.Table(name)
		if ds == nil || t == nil || len(t.Rows) == 0 {
			return nil, fmt.Errorf("data source %s: its rows are not loaded (a scenario must come from scenario.Load or Parse; a copy needs ShareLoaded)", name)
		}
		index[name] = len(d.sources)
		for j, c := range t.Columns {
			d.refs[name+"."+c] = dataRef{src: len(d.sources), col: j}
		}
		d.sources = append(d.sources, &dataSource{name: name, t: t, order: ds.Order, by: ds.By})
	}
	for i := range sc.Flows {
		f := &sc.Flows[i]
		for _, name := range f.DataSources() {
			if j, ok := index[name]; ok {
				d.byFlow[f] = append(d.byFlow[f], j)
			}
		}
	}
	return d, nil
}

// bind picks the rows of the sources flow f uses, for a session with the
// given client number; nil when f uses none.
func (d *dataSet) bind(f *scenario.Flow, client int64) ([]int, error) {
	if d == nil || len(d.byFlow[f]) == 0 {
		return nil, nil
	}
	rows := make([]int, len(d.sources))
	for _, i := range d.byFlow[f] {
		s := d.sources[i]
		key := client
		if s.by != scenario.DataByClient {
			// The k-th session of share i of n is the run's
			// (k-1)·n+i+1-th: shares take disjoint rows, and order
			// unique stays unique across worker processes.
			key = s.taken.Add(1)
			if n := int64(d.share.Count); n > 1 {
				key = (key-1)*n + int64(d.share.Index) + 1
			}
		}
		n := int64(len(s.t.Rows))
		switch s.order {
		case scenario.DataUnique:
			if key > n {
				return nil, fmt.Errorf("%s: data source %s has no row left (all %d taken, order unique)", causeDataExhausted, s.name, n)
			}
			rows[i] = int(key - 1)
		case scenario.DataRandom:
			// One draw from a generator seeded by the run's seed, the
			// source and the key: reproducible with the seed, and the same
			// row for the same client.
			rows[i] = int(rand.New(rand.NewPCG(d.seed^uint64(i+1)*0x9e3779b97f4a7c15, uint64(key))).Int64N(n))
		default:
			rows[i] = int((key - 1) % n)
		}
	}
	return rows, nil
}

// value is {{name}} for a session with the given rows, or "" when name is
// not a data column.
func (d *dataSet) value(rows []int, name string) string {
	if d == nil || rows == nil || !strings.Contains(name, ".") {
		return ""
	}
	ref, ok := d.refs[name]
	if !ok {
		return ""
	}
	return d.sources[ref.src].t.Rows[rows[ref.src]][ref.col]
}

// failData ends a session that could not take its rows before it did
// anything: it counts as started and failed, with the cause
// data_exhausted.
func (s *session) failData() error {
	s.shard.Do(func(set *shard.Rec) {
		set.Counters.SessionsStarted++
		set.Counters.SessionsFailed++
	})
	s.countError(causeDataExhausted, s.flow.f.Name+"/data", s.dataErr)
	return s.dataErr
}
