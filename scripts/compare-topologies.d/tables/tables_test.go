package main

import (
	"math"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
)

func TestRunBase(t *testing.T) {
	for _, tt := range []struct{ c, want string }{
		{"chat-2p-local", "chat-2p-local"},
		{"loop-max-aiohttp-uvloop.2", "loop-max-aiohttp-uvloop"},
		{"loop-max-aiohttp-uvloop.12", "loop-max-aiohttp-uvloop"},
		{"odd.name", "odd.name"},
	} {
		if got := (&run{Case: tt.c}).base(); got != tt.want {
			t.Errorf("base(%q) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

// chatRun is a chat run over processes with the given per-process room
// counters (in, members_peak, out) and wsbench's result for the room.
func chatRun(b report.BroadcastResult, counts ...[3]int64) *run {
	rep := &report.Report{Broadcast: []report.BroadcastResult{b}, Server: &report.ServerObs{}}
	for _, c := range counts {
		rep.Server.Processes = append(rep.Server.Processes, report.ProcessObs{
			Role:  "target",
			Rooms: map[string]map[string]int64{"lobby": {"in": c[0], "members_peak": c[1], "out": c[2]}},
		})
	}
	rep.Server.Processes = append(rep.Server.Processes, report.ProcessObs{Role: "proxy"})
	return &run{Case: "chat-2p-local", Rep: rep}
}

// The servers' view of a room: with local rooms, process 1 (3 members)
// delivered its 10 messages to its 3 members and process 2 (1 member)
// its 2 to its 1; the room had 4 members and 12 messages.
func TestAccountsLocalRooms(t *testing.T) {
	b := report.BroadcastResult{Room: "ws://127.0.0.1:1/broadcast?room=lobby", Published: 12, Expected: 48, Delivered: 32, Lost: 16}
	acc := accounts(chatRun(b, [3]int64{10, 3, 30}, [3]int64{2, 1, 2}))
	if len(acc) != 1 {
		t.Fatalf("accounts %+v", acc)
	}
	a := acc[0]
	if a.Room != "lobby" || a.In != 12 || a.Peak != 4 || a.Out != 32 || a.ServerLost != 16 {
		t.Errorf("account %+v: want room lobby, in 12, members 4, out 32, lost 16", a)
	}
	if want := 32.0 / 48; a.ServerRch != want || a.Placement != want {
		t.Errorf("servers' reach %v, placement %v, want %v for both", a.ServerRch, a.Placement, want)
	}
	if fmtMembers := a.Members; len(fmtMembers) != 2 || fmtMembers[0] != 3 || fmtMembers[1] != 1 {
		t.Errorf("members per process %v", a.Members)
	}
}

// With a bus the servers deliver every message to every member, whatever
// the placement predicts for local rooms.
func TestAccountsBus(t *testing.T) {
	b := report.BroadcastResult{Room: "ws://h/broadcast?room=lobby", Published: 12, Expected: 48, Delivered: 48}
	a := accounts(chatRun(b, [3]int64{10, 3, 36}, [3]int64{2, 1, 12}))[0]
	if a.ServerLost != 0 || a.ServerRch != 1 || a.Placement != 32.0/48 {
		t.Errorf("account %+v: want nothing lost, reach 1, placement 2/3", a)
	}
}

func reps(vals ...float64) []*run {
	var rs []*run
	for _, v := range vals {
		rs = append(rs, &run{Case: "x", Label: strings.Repeat("v", int(v))})
	}
	return rs
}

func TestBestBy(t *testing.T) {
	rs := reps(3, 1, 2, 5)
	value := func(r *run) float64 { return float64(len(r.Label)) }
	for _, tt := range []struct {
		higher bool
		want   float64
	}{{true, 5}, {false, 1}} {
		best, lo, hi, n := bestBy(rs, value, tt.higher)
		if value(best) != tt.want || lo != 1 || hi != 5 || n != 4 {
			t.Errorf("higher %v: best %v, range %v–%v over %d; want %v, 1–5 over 4", tt.higher, value(best), lo, hi, n, tt.want)
		}
	}
	if best, _, _, n := bestBy(nil, value, true); best != nil || n != 0 {
		t.Error("best of nothing")
	}
	nan := func(*run) float64 { return math.NaN() }
	if best, _, _, _ := bestBy(rs, nan, true); best != nil {
		t.Error("runs without a value chose a best")
	}
}

// steadyRun is a run whose steady phase received n messages a second.
func steadyRun(c string, n int64) *run {
	return &run{Case: c, Rep: &report.Report{
		Phases: []report.PhaseResult{{Name: "steady", StartS: 0, EndS: 2}},
		Series: &report.Series{IntervalS: 1, T: []float64{1, 2}, Received: []int64{n, n}},
	}}
}

// A difference is one only above the noise floor and, with repeats, when
// the ranges are apart.
func TestCompareNoise(t *testing.T) {
	for _, tt := range []struct {
		name       string
		a, b       []int64
		meaningful bool
	}{
		{"apart", []int64{1000, 1020}, []int64{1200, 1230}, true},
		{"overlapping ranges", []int64{1000, 1300}, []int64{1200, 1250}, false},
		{"single runs, small", []int64{1000}, []int64{1030}, false},
		{"single runs, large", []int64{1000}, []int64{1100}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &data{byBase: map[string][]*run{}}
			for i, v := range tt.a {
				d.byBase["a"] = append(d.byBase["a"], steadyRun("a"+strings.Repeat(".2", min(i, 1)), v))
			}
			for i, v := range tt.b {
				d.byBase["b"] = append(d.byBase["b"], steadyRun("b"+strings.Repeat(".2", min(i, 1)), v))
			}
			pr := d.compare("a", "b")
			if !pr.exists || pr.meaningful != tt.meaningful {
				t.Errorf("compare %+v: meaningful %v, want %v (%s)", pr, pr.meaningful, tt.meaningful, pr.verdict())
			}
		})
	}
}
