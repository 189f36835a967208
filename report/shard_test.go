package report

import (
	"strings"
	"testing"
	"time"
)

func TestCheckShards(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sc := []byte(`{"name":"s","flows":[],"phases":[{"duration":"1s","clients":4}]}`)
	shard := func(i, n int, start time.Time) *Report {
		return &Report{Schema: SchemaVersion, Scenario: sc, Shard: &Shard{Index: i, Count: n, StartAt: start}}
	}
	plain := &Report{Schema: SchemaVersion, Scenario: sc}
	otherPhases := shard(1, 2, at)
	otherPhases.Scenario = []byte(`{"name":"s","flows":[],"phases":[{"duration":"2s","clients":4}]}`)
	for _, tc := range []struct {
		name    string
		rs      []*Report
		want    string // "" for none
		missing bool
	}{
		{"no shards", []*Report{plain, plain}, "", false},
		{"all shards", []*Report{shard(1, 3, at), shard(0, 3, at), shard(2, 3, at)}, "", false},
		{"one missing", []*Report{shard(0, 3, at), shard(2, 3, at)}, "shard 1/3 is missing (2 of 3 given)", true},
		{"two missing", []*Report{shard(0, 3, at)}, "shard 1/3, 2/3 are missing", true},
		{"twice", []*Report{shard(0, 2, at), shard(0, 2, at), shard(1, 2, at)}, "shard 0/2 is given twice (reports 1 and 2)", false},
		{"mixed", []*Report{shard(0, 2, at), plain}, "report 2 is not a shard", false},
		{"other split", []*Report{shard(0, 2, at), shard(1, 3, at)}, "shards of different splits", false},
		{"other run", []*Report{shard(0, 2, at), shard(1, 2, at.Add(time.Second))}, "shards of different runs", false},
		{"other phases", []*Report{shard(0, 2, at), otherPhases}, "different phases", false},
	} {
		err := CheckShards(tc.rs...)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		case err != nil && IsMissingShards(err) != tc.missing:
			t.Errorf("%s: missing %v, want %v", tc.name, IsMissingShards(err), tc.missing)
		}
	}
}

// Merged shards list each shard as a worker and say that their clocks
// were not measured, so one-way latencies are read with care.
func TestDescribeShards(t *testing.T) {
	t.Parallel()
	at := time.Now().UTC()
	var rs []*Report
	for i := range 2 {
		r := &Report{Schema: SchemaVersion, Shard: &Shard{Index: 1 - i, Count: 2, StartAt: at}, Ledger: &Ledger{}}
		r.Counters.MessagesSent = int64(10 * (i + 1))
		r.Environment.Hostname = "h" + string(rune('a'+i))
		rs = append(rs, r)
	}
	m, err := Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	DescribeShards(m, rs)
	if len(m.Workers) != 2 || m.Workers[0].Index != 1 || m.Workers[0].Host != "hb" || m.Workers[1].MessagesSent != 10 {
		t.Fatalf("workers %+v", m.Workers)
	}
	if m.Clock == nil || m.Clock.Method != ClockUnmeasured || m.Clock.OneWayBoundUS != nil || m.Ledger != nil {
		t.Fatalf("clock %+v, ledger %v", m.Clock, m.Ledger)
	}
}
