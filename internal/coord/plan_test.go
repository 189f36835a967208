package coord

import (
	"strings"
	"testing"

	"github.com/wsbench/wsbench/scenario"
)

func planScenario(t *testing.T, target string, clients int) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("plan.yaml", []byte("name: plan\ntarget: "+target+"\nclients: "+itoa(clients)+"\nduration: 10s\n"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func itoa(n int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// Plans fit the machine or say why, before anything starts: workers when
// one process's descriptors do not suffice, the built-in server in
// processes of its own when the generator's process cannot hold its
// ends, a source address per 14,000 connections to one loopback
// destination.
func TestPlanFor(t *testing.T) {
	budget := fdBudget()
	if budget < 10000 {
		t.Skipf("descriptor budget %d: the plans below assume the 20,000 of this kind of machine", budget)
	}
	for _, tc := range []struct {
		name           string
		target         string
		clients, asked int
		workers, procs int
		addrsPerWorker int
		err            string
	}{
		{"small, one process", "ws://127.0.0.1:1", 100, 0, 1, 0, 0, ""},
		{"builtin small: both ends here", "builtin", 5000, 0, 1, 0, 0, ""},
		{"builtin over half the budget: server processes", "builtin", budget/2 + 10, 0, 1, 1, 0, ""},
		{"100,000 against a remote target", "ws://10.0.0.1:80", 100000, 0, (100000 + budget - 1) / budget, 0, 0, ""},
		{"100,000 on loopback: addresses", "ws://127.0.0.1:80", 100000, 0, (100000 + budget - 1) / budget, 0, 2, ""},
		{"too few workers asked", "ws://127.0.0.1:80", 3 * budget, 2, 0, 0, 0, "use at least --workers 3"},
		{"too many workers asked", "ws://127.0.0.1:80", 10, 100, 0, 0, 0, "want 1 to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanFor(planScenario(t, tc.target, tc.clients), tc.asked)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Workers != tc.workers || (p.ServerProcs > 0) != (tc.procs > 0) {
				t.Fatalf("plan %+v: want %d workers, server processes %v", p, tc.workers, tc.procs > 0)
			}
			if tc.addrsPerWorker > 0 && (len(p.SourceAddrs) != p.Workers || len(p.SourceAddrs[0]) != tc.addrsPerWorker) {
				t.Fatalf("source addresses %v, want %d per worker", p.SourceAddrs, tc.addrsPerWorker)
			}
			seen := map[string]bool{}
			for _, addrs := range p.SourceAddrs {
				for _, a := range addrs {
					if seen[a] {
						t.Fatalf("address %s given to two workers", a)
					}
					seen[a] = true
				}
			}
		})
	}
}
