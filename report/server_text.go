package report

import (
	"fmt"
	"strings"
)

// serverLines describes the target side for the terminal summary: what
// the target says it runs (GET /info), the proxy's spread of connections
// and the processes of a scaled-out target. Nothing for a target that
// offers neither /info nor a topology.
func serverLines(s *ServerObs) []string {
	if s == nil {
		return nil
	}
	var lines []string
	if in := s.Info; in["framework"] != "" {
		line := fmt.Sprintf("Target       %s %s · Python %s · loop %s", in["framework"], in["framework_version"], in["python"], in["loop"])
		for _, k := range SortedKeys(in) {
			if name, ok := strings.CutPrefix(k, "accel."); ok {
				impl, _, _ := strings.Cut(in[k], " ")
				line += fmt.Sprintf(" · %s %s", name, impl)
			}
		}
		lines = append(lines, line)
		if bus := in["bus"]; bus != "" && !strings.HasPrefix(bus, "none") {
			lines = append(lines, "Bus          "+bus)
		}
	}
	if len(s.Processes) > 1 {
		var ps []string
		for _, p := range s.Processes {
			ps = append(ps, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
		}
		lines = append(lines, "Processes    "+strings.Join(ps, " · "))
	}
	if px := s.Proxy; px != nil {
		var ss []string
		for _, sv := range px.Servers {
			ss = append(ss, fmt.Sprintf("%s %d (%.0f%%)", sv.Name, sv.Sessions, 100*sv.Share))
		}
		lines = append(lines, fmt.Sprintf("Proxy        %s, %s: %d connections → %s", px.Software, px.Balance, px.Sessions, strings.Join(ss, " · ")))
	}
	return lines
}
