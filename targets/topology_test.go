package targets

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// requireTopology skips the test when Tornado, python3-redis, redis-server
// or haproxy is missing, or fails it under scripts/test, which installs
// them.
func requireTopology(t *testing.T) {
	t.Helper()
	requireTornado(t)
	for _, argv := range [][]string{
		{"/usr/bin/python3", "-c", "import redis.asyncio"},
		{"redis-server", "--version"},
		{"haproxy", "-v"},
	} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err == nil {
			continue
		}
		if os.Getenv("WSBENCH_TEST_REQUIRE_ALL") != "" {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		t.Skipf("%v: %v (run scripts/install-python-targets)", argv, err)
	}
}

// roomCounts adds up the target processes' own counters of one room:
// messages their clients published (in), members at most (peak) and
// deliveries to members (out).
func roomCounts(t *testing.T, rep *report.Report, room string) (in, peak, out int64, perProcess []int64) {
	t.Helper()
	if rep.Server == nil {
		t.Fatal("no server observations in the report")
	}
	for _, p := range rep.Server.Processes {
		if p.Role != "target" {
			continue
		}
		r := p.Rooms[room]
		in, peak, out = in+r["in"], peak+r["members_peak"], out+r["out"]
		perProcess = append(perProcess, r["members_peak"])
	}
	return in, peak, out, perProcess
}

// checkServerAccounting asserts that wsbench's broadcast accounting of
// one room equals what the servers counted: the messages published, the
// deliveries made, and so the deliveries lost, where the servers' view of
// what was expected is every message to every member of the room on any
// process (members stay for the whole run, so the peak is the room).
func checkServerAccounting(t *testing.T, rep *report.Report, b report.BroadcastResult, room string) {
	t.Helper()
	in, peak, out, _ := roomCounts(t, rep, room)
	if b.Unexpected != 0 || b.Duplicates != 0 || b.Reordered != 0 {
		t.Fatalf("%+v: deliveries outside a membership window, duplicated or reordered: the machine was too slow for this scenario's timing", b)
	}
	if b.Published != in || b.Delivered != out || b.Expected != in*peak {
		t.Errorf("wsbench published %d, delivered %d, expected %d; servers: in %d, out %d, members %d (expected %d)",
			b.Published, b.Delivered, b.Expected, in, out, peak, in*peak)
	}
	if serverLost := in*peak - out; b.Lost != serverLost {
		t.Errorf("wsbench lost %d, the servers' counts say %d", b.Lost, serverLost)
	}
}

// The headline experiment of issue 16, small: a chat room whose members
// haproxy spreads over two Tornado processes. With rooms local to each
// process a message reaches only the members on its publisher's process,
// and wsbench's reach and loss say exactly that, matching the servers'
// own counts; with the Redis bus every member gets every message.
func TestTopologyChatReach(t *testing.T) {
	requireTopology(t)
	for _, tt := range []struct {
		name, bus string
	}{
		{"process-local rooms", ""},
		{"redis bus", ", bus: redis"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Everyone connects at once and the writers wait 1.5 s before
			// publishing, so every member is in the room for every message.
			sc := mustScenario(t, fmt.Sprintf(`
name: topology-chat
start_target: {name: tornado, processes: 2, proxy: haproxy%s}
phases:
  - {duration: 0s, clients: 8}
  - {duration: 3s, clients: 8}
flows:
  - name: member
    weight: 3
    steps:
      - connect: {path: "/broadcast?room=chat"}
      - listen: {}
  - name: writer
    weight: 1
    steps:
      - connect: {path: "/broadcast?room=chat"}
      - sleep: 1500ms
      - publish: {rate: 10, size: 64, duration: 1s}
      - listen: {}
`, tt.bus))
			rep := run(t, sc)
			if len(rep.Broadcast) != 1 {
				t.Fatalf("broadcast results %+v", rep.Broadcast)
			}
			b := rep.Broadcast[0]
			in, peak, out, members := roomCounts(t, rep, "chat")
			t.Logf("%+v; servers: in %d, members %v, out %d; proxy %+v", b, in, members, out, rep.Server.Proxy)
			if b.Published == 0 || peak != 8 || len(members) != 2 || members[0] == 0 || members[1] == 0 {
				t.Fatalf("published %d, members per process %v: want 8 members spread over 2 processes", b.Published, members)
			}
			if px := rep.Server.Proxy; px == nil || px.Sessions != 8 || px.Servers[0].Sessions+px.Servers[1].Sessions != 8 {
				t.Errorf("proxy %+v, want its 8 connections", px)
			}
			checkServerAccounting(t, rep, b, "chat")
			switch tt.bus {
			case "":
				if b.Reach >= 1 || b.Lost == 0 {
					t.Errorf("reach %.4f, lost %d with process-local rooms over 2 processes: want below 1", b.Reach, b.Lost)
				}
				if rep.Server.After["bus_published"] != 0 {
					t.Errorf("bus counters without a bus: %v", rep.Server.After)
				}
			default:
				if b.Reach != 1 || b.Lost != 0 {
					t.Errorf("reach %.4f, lost %d through the Redis bus: want every message to every member", b.Reach, b.Lost)
				}
				if a := rep.Server.After; a["bus_published"] != in || a["bus_received"] != 2*in {
					t.Errorf("bus published %d, received %d; want %d and %d (each process gets every message)", a["bus_published"], a["bus_received"], in, 2*in)
				}
				if metricCount(rep, "broadcast_delivery") != b.Delivered || metricCount(rep, "broadcast_complete") == 0 {
					t.Errorf("delivery samples %d for %d deliveries, complete %d", metricCount(rep, "broadcast_delivery"), b.Delivered, metricCount(rep, "broadcast_complete"))
				}
			}
		})
	}
}

func requireTopologyExample(t *testing.T, _ *scenario.Scenario) { requireTopology(t) }

// checkTopologyChat checks a run of topology-chat-local.yaml or
// topology-chat-redis.yaml: per room, what wsbench saw against what the
// servers counted. Deliveries add up whatever the timing (members who
// joined within 50 ms of a message count as unexpected, not missing);
// loss equals the servers' count when no delivery was unexpected.
func checkTopologyChat(t *testing.T, rep *report.Report, bus bool) {
	t.Helper()
	if len(rep.Broadcast) != 2 {
		t.Fatalf("broadcast results %+v, want one per room (lobby, ops)", rep.Broadcast)
	}
	for _, b := range rep.Broadcast {
		room := b.Room[strings.LastIndex(b.Room, "=")+1:]
		in, peak, out, members := roomCounts(t, rep, room)
		t.Logf("room %s: %+v; servers: in %d, members %v, out %d", room, b, in, members, out)
		if b.Published == 0 || b.Published != in || b.Delivered+b.Unexpected != out {
			t.Errorf("room %s: published %d, delivered %d + unexpected %d; servers: in %d, out %d", room, b.Published, b.Delivered, b.Unexpected, in, out)
		}
		if b.Unexpected == 0 && b.Lost != in*peak-out {
			t.Errorf("room %s: lost %d, the servers' counts say %d", room, b.Lost, in*peak-out)
		}
		switch {
		case bus && (b.Reach != 1 || b.Lost != 0):
			t.Errorf("room %s through the bus: reach %.4f, lost %d", room, b.Reach, b.Lost)
		case !bus && len(members) == 2 && members[0] > 0 && members[1] > 0 && b.Reach >= 1:
			t.Errorf("room %s spread over both processes %v with local rooms: reach %.4f", room, members, b.Reach)
		}
	}
}
