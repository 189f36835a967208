package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// The HTML report's sections about the processes of a run: the target
// (what it runs, its processes and their counters, the proxy's spread of
// connections) and the generator's (its findings, its worker processes).

// ---- target ----

type targetView struct {
	Info     []kvRow // what the target says it runs (GET /info)
	Accel    []kvRow // the C accelerations it uses, from Info
	Stats    []serverRow
	Procs    []processRow
	Counters []counterTable // per role: every process's counters
	Rooms    []roomRow
	// RoomsMore counts the room rows left out of Rooms (largest first).
	RoomsMore int
	Proxy     *proxyView
}

type kvRow struct{ Key, Value string }

type processRow struct {
	Name, Role, Addr string
	PID              int
	RSS, PeakRSS     string // "—" when the process did not say
}

// counterTable is the counters of one role's processes side by side.
type counterTable struct {
	Role  string
	Names []string
	Rows  []counterRow
}

type counterRow struct {
	Key   string
	Cells []counterCell
}

// counterCell is one process's counter: its value at the end and, when
// the process also reported it when the load started, the change.
type counterCell struct {
	After, Delta string
}

type roomRow struct {
	Room, Process          string
	Members, Peak, In, Out int64
}

type proxyView struct {
	*ProxyObs
	Rows []proxyRow
}

type proxyRow struct {
	ProxyServerObs
	ShareS string
	Bar    float64 // width in percent of the largest share
}

// maxRoomRows bounds the per-room table: a run can use thousands of
// rooms; the rows with the most deliveries are the ones to read.
const maxRoomRows = 40

// infoOrder is the order of the well-known /info fields; others follow
// alphabetically, the accelerations apart.
var infoOrder = []struct{ key, label string }{
	{"framework", "framework"},
	{"framework_version", "version"},
	{"python", "Python"},
	{"loop", "event loop"},
	{"bus", "message bus"},
	{"accel_requested", "accelerations requested"},
}

func (p *htmlPage) target() {
	s := p.R.Server
	if s == nil {
		return
	}
	v := &targetView{}
	seen := map[string]bool{}
	for _, f := range infoOrder {
		if val, ok := s.Info[f.key]; ok {
			v.Info = append(v.Info, kvRow{f.label, val})
			seen[f.key] = true
		}
	}
	for _, k := range SortedKeys(s.Info) {
		if name, ok := strings.CutPrefix(k, "accel."); ok {
			v.Accel = append(v.Accel, kvRow{name, s.Info[k]})
		} else if !seen[k] {
			v.Info = append(v.Info, kvRow{k, s.Info[k]})
		}
	}
	v.Stats = serverStats(s.Before, s.After)

	byRole := map[string]*counterTable{}
	var roles []string
	for _, pr := range s.Processes {
		v.Procs = append(v.Procs, processRow{Name: pr.Name, Role: pr.Role, Addr: pr.Addr, PID: pr.PID,
			RSS: afterBytes(pr.After, "rss_bytes"), PeakRSS: afterBytes(pr.After, "peak_rss_bytes")})
		t := byRole[pr.Role]
		if t == nil {
			t = &counterTable{Role: pr.Role}
			byRole[pr.Role] = t
			roles = append(roles, pr.Role)
		}
		t.Names = append(t.Names, pr.Name)
	}
	for _, role := range roles {
		t := byRole[role]
		var procs []ProcessObs
		keys := map[string]bool{}
		for _, pr := range s.Processes {
			if pr.Role != role {
				continue
			}
			procs = append(procs, pr)
			for k := range pr.After {
				keys[k] = true
			}
			for k := range pr.Before {
				keys[k] = true
			}
		}
		for _, k := range SortedKeys(keys) {
			if k == "rss_bytes" || k == "peak_rss_bytes" {
				continue // in the processes table
			}
			row := counterRow{Key: k}
			for _, pr := range procs {
				row.Cells = append(row.Cells, counterOf(pr, k))
			}
			t.Rows = append(t.Rows, row)
		}
		if len(t.Rows) > 0 {
			v.Counters = append(v.Counters, *t)
		}
	}
	v.Rooms, v.RoomsMore = roomRows(s.Processes)
	if px := s.Proxy; px != nil {
		pv := &proxyView{ProxyObs: px}
		top := 0.0
		for _, sv := range px.Servers {
			top = math.Max(top, sv.Share)
		}
		for _, sv := range px.Servers {
			row := proxyRow{ProxyServerObs: sv, ShareS: fmtPct(sv.Share)}
			if top > 0 {
				row.Bar = math.Round(1000*sv.Share/top) / 10
			}
			pv.Rows = append(pv.Rows, row)
		}
		v.Proxy = pv
	}
	p.Target = v
}

// serverStats is the target's own counts before and after the run, side
// by side with the change.
func serverStats(before, after map[string]int64) []serverRow {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var rows []serverRow
	for _, k := range SortedKeys(keys) {
		b, bok := before[k]
		a, aok := after[k]
		row := serverRow{Key: k, Before: "—", After: "—", Delta: "—"}
		if bok {
			row.Before = fmtCounter(k, b)
		}
		if aok {
			row.After = fmtCounter(k, a)
		}
		if aok && bok {
			row.Delta = fmtCounter(k, a-b)
		}
		rows = append(rows, row)
	}
	return rows
}

// fmtCounter formats a counter of a process: bytes in binary units, the
// rest as integers.
func fmtCounter(key string, n int64) string {
	if strings.HasSuffix(key, "_bytes") || strings.HasPrefix(key, "bytes_") || key == "used_memory" {
		if n < 0 {
			return "-" + FormatBytes(-n)
		}
		return FormatBytes(n)
	}
	return fmtInt(n)
}

func afterBytes(m map[string]int64, key string) string {
	if v, ok := m[key]; ok {
		return FormatBytes(v)
	}
	return "—"
}

func counterOf(pr ProcessObs, k string) counterCell {
	a, aok := pr.After[k]
	if !aok {
		return counterCell{After: "—"}
	}
	c := counterCell{After: fmtCounter(k, a)}
	if b, bok := pr.Before[k]; bok && a != b {
		d := fmtCounter(k, a-b)
		if a > b {
			d = "+" + d
		}
		c.Delta = d
	}
	return c
}

// roomRows lists every target process's per-room counters, the rooms with
// the most deliveries first, at most maxRoomRows of them.
func roomRows(procs []ProcessObs) ([]roomRow, int) {
	var rows []roomRow
	for _, pr := range procs {
		for _, room := range SortedKeys(pr.Rooms) {
			c := pr.Rooms[room]
			rows = append(rows, roomRow{Room: room, Process: pr.Name, Members: c["members"], Peak: c["members_peak"], In: c["in"], Out: c["out"]})
		}
	}
	// Rooms by their deliveries over every process, then by name; a
	// room's processes stay together, in start order.
	total := map[string]int64{}
	for _, r := range rows {
		total[r.Room] += r.Out
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if total[a.Room] != total[b.Room] {
			return total[a.Room] > total[b.Room]
		}
		return a.Room < b.Room
	})
	if len(rows) > maxRoomRows {
		return rows[:maxRoomRows], len(rows) - maxRoomRows
	}
	return rows, 0
}

// ---- generator ----

type findingRow struct {
	Finding
	Unreliable      bool
	Measured, Limit string
}

// findingRows lists the generator's findings, unreliable ones first; a
// report without findings gets its reasons and notes as rows without a
// rule or measure.
func findingRows(g *Generator) []findingRow {
	unreliable, notes := generatorFindings(g)
	var rows []findingRow
	for _, f := range append(unreliable, notes...) {
		row := findingRow{Finding: f, Unreliable: f.Verdict == VerdictUnreliable, Limit: "—", Measured: "—"}
		if f.Rule != "" {
			row.Measured = f.Measured()
			if l := f.LimitText(); l != "" {
				row.Limit = l
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// ---- workers ----

type workerRow struct {
	WorkerResult
	Trouble  bool
	EndClass string
	RSS      string
}

func (p *htmlPage) workers() {
	for _, w := range p.R.Workers {
		row := workerRow{WorkerResult: w, Trouble: workerTrouble(w), RSS: FormatBytes(w.MaxRSSBytes), EndClass: endClass(w.EndReason)}
		p.Workers = append(p.Workers, row)
	}
	if n := len(p.Workers); n > 0 {
		p.WorkersNote = fmt.Sprintf("The run was split over %d worker processes; the rest of this report is their runs merged.", n)
	}
}

// endClass is the badge colour of an end reason.
func endClass(reason string) string {
	switch reason {
	case EndCompleted:
		return "good"
	case EndInterrupted:
		return "warn"
	}
	return "bad"
}
