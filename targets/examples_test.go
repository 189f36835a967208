package targets

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// exampleRunTime is how long each example runs in TestExamples.
const exampleRunTime = 2500 * time.Millisecond

// example says how one file of ../scenarios is exercised: what to adjust
// beyond shortening it, which error causes it provokes on purpose (none so
// far: every example is meant to run clean against the built-in server),
// and what its report must show.
type example struct {
	prepare func(t *testing.T, sc *scenario.Scenario)
	causes  []string
	check   func(t *testing.T, rep *report.Report)
}

var examples = map[string]example{
	"quickstart.yaml": {check: func(t *testing.T, rep *report.Report) {
		c := rep.Counters
		if c.MessagesSent == 0 || c.MessagesReceived != c.MessagesSent || c.RepliesMissing != 0 {
			t.Errorf("sent %d, received %d, replies missing %d", c.MessagesSent, c.MessagesReceived, c.RepliesMissing)
		}
		if got := metricCount(rep, "rtt"); got != c.MessagesReceived {
			t.Errorf("rtt samples %d, received %d", got, c.MessagesReceived)
		}
		if c.ConnectsOK != 50 {
			t.Errorf("connects %d, want one per client (50)", c.ConnectsOK)
		}
	}},

	// Run as a plain scenario here; `wsbench capacity` steps its rate.
	"capacity.yaml": {check: func(t *testing.T, rep *report.Report) {
		c := rep.Counters
		if c.MessagesSent == 0 || c.MessagesReceived != c.MessagesSent || c.RepliesMissing != 0 {
			t.Errorf("sent %d, received %d, replies missing %d", c.MessagesSent, c.MessagesReceived, c.RepliesMissing)
		}
		if rep.Server == nil || rep.Server.After["messages_in"]-rep.Server.Before["messages_in"] != c.MessagesSent {
			t.Errorf("server stats %+v, client sent %d", rep.Server, c.MessagesSent)
		}
	}},

	"chat.yaml": {check: func(t *testing.T, rep *report.Report) {
		if len(rep.Broadcast) != 1 {
			t.Fatalf("broadcast results %+v, want one room pattern", rep.Broadcast)
		}
		b := rep.Broadcast[0]
		if !strings.HasSuffix(b.Room, "/broadcast?room=room-{{room}}") || b.Rooms != 2 {
			t.Errorf("room pattern %q over %d rooms, want room-{{room}} over 2", b.Room, b.Rooms)
		}
		if b.Published == 0 || b.Expected == 0 {
			t.Fatalf("nothing to account: %+v", b)
		}
		if b.Reach != 1 || b.Loss != 0 || b.Lost != 0 || b.Duplicates != 0 || b.Reordered != 0 {
			t.Errorf("broadcast %+v, want reach 1 and nothing lost, duplicated or reordered", b)
		}
		if metricCount(rep, "broadcast_delivery") == 0 || metricCount(rep, "broadcast_complete") == 0 {
			t.Errorf("no broadcast latencies")
		}
	}},

	"ticker.yaml": {check: func(t *testing.T, rep *report.Report) {
		c := rep.Counters
		if c.PushReceived == 0 || c.PushGaps != 0 || c.PushOutOfOrder != 0 {
			t.Errorf("push received %d, gaps %d, out of order %d", c.PushReceived, c.PushGaps, c.PushOutOfOrder)
		}
		if metricCount(rep, "push_delay") != c.PushReceived {
			t.Errorf("push_delay samples %d, pushes %d", metricCount(rep, "push_delay"), c.PushReceived)
		}
		// Traders leave after their (shortened) listen and come back as
		// new sessions.
		if c.SessionsStarted <= peakClients(rep) {
			t.Errorf("%d sessions on %d slots: no trader came back", c.SessionsStarted, peakClients(rep))
		}
	}},

	"api.yaml": {check: func(t *testing.T, rep *report.Report) {
		for _, m := range []string{"login", "order", "shipped", "status"} {
			if metricCount(rep, m) == 0 {
				t.Errorf("metric %s missing or empty", m)
			}
		}
		if metricCount(rep, "order") < metricCount(rep, "login") {
			t.Errorf("%d orders for %d logins; each login is followed by orders", metricCount(rep, "order"), metricCount(rep, "login"))
		}
		// Shoppers log out and the slot starts a new one.
		if c := rep.Counters; c.RepliesMissing != 0 || c.SessionsStarted <= peakClients(rep) {
			t.Errorf("replies missing %d, %d sessions on %d slots", c.RepliesMissing, c.SessionsStarted, peakClients(rep))
		}
	}},

	"reconnect-storm.yaml": {check: func(t *testing.T, rep *report.Report) {
		c := rep.Counters
		if c.SessionsIntended == 0 || c.SessionsDropped != 0 {
			t.Errorf("sessions intended %d, dropped %d", c.SessionsIntended, c.SessionsDropped)
		}
		if c.ClosesByCode["4000"] == 0 {
			t.Errorf("no session hung up with 4000: closes %v", c.ClosesByCode)
		}
		if c.ConnectsOK <= c.SessionsStarted {
			t.Errorf("%d connects for %d sessions: nobody reconnected", c.ConnectsOK, c.SessionsStarted)
		}
		if phasesOf(rep, "open") != 5 {
			t.Errorf("phases %+v, want 5 open ones", rep.Phases)
		}
	}},

	"soak.yaml": {
		// Heartbeats every 10-15 s never fire in a short run: beat faster.
		prepare: func(_ *testing.T, sc *scenario.Scenario) {
			sc.Client.PingInterval = scenario.Duration(200 * time.Millisecond)
			sc.Builtin.PingInterval = scenario.Duration(300 * time.Millisecond)
		},
		check: func(t *testing.T, rep *report.Report) {
			c := rep.Counters
			if c.PingsSent == 0 || c.PongsReceived == 0 || c.PongsMissed != 0 || c.ServerPings == 0 {
				t.Errorf("pings sent %d, pongs %d, missed %d, server pings %d", c.PingsSent, c.PongsReceived, c.PongsMissed, c.ServerPings)
			}
			if metricCount(rep, "ping") == 0 || metricCount(rep, "rtt") == 0 {
				t.Errorf("ping %d, rtt %d samples", metricCount(rep, "ping"), metricCount(rep, "rtt"))
			}
			// The scaled echo duration ends inside the run: connections recycle.
			if c.ConnectsOK <= c.SessionsStarted {
				t.Errorf("%d connects for %d sessions: no connection was recycled", c.ConnectsOK, c.SessionsStarted)
			}
			if c.RepliesMissing != 0 {
				t.Errorf("replies missing %d", c.RepliesMissing)
			}
		},
	},

	// The topology examples start real processes (Tornado, aiohttp,
	// redis-server, haproxy); TestTopologyChatReach is the exact check
	// with timing to spare, these check what holds at any speed.
	"topology-chat-local.yaml": {
		prepare: requireTopologyExample,
		check: func(t *testing.T, rep *report.Report) {
			checkTopologyChat(t, rep, false)
		},
	},
	"topology-chat-redis.yaml": {
		prepare: requireTopologyExample,
		check: func(t *testing.T, rep *report.Report) {
			checkTopologyChat(t, rep, true)
		},
	},
	"topology-uvloop.yaml": {
		prepare: requireTopologyExample,
		check: func(t *testing.T, rep *report.Report) {
			c := rep.Counters
			if c.MessagesSent == 0 || c.MessagesReceived != c.MessagesSent || c.RepliesMissing != 0 {
				t.Errorf("sent %d, received %d, replies missing %d", c.MessagesSent, c.MessagesReceived, c.RepliesMissing)
			}
			in := rep.Server.Info
			if in["framework"] != "aiohttp" || in["loop"] != "uvloop.Loop" || !strings.HasPrefix(in["accel.http_parser"], "C ") {
				t.Errorf("server info %v: want aiohttp on uvloop.Loop with its C HTTP parser", in)
			}
		},
	},

	"open-model.yaml": {check: func(t *testing.T, rep *report.Report) {
		c := rep.Counters
		if c.SessionsIntended == 0 || c.SessionsDropped != 0 || c.SessionsStarted != c.SessionsIntended {
			t.Errorf("sessions intended %d, dropped %d, started %d", c.SessionsIntended, c.SessionsDropped, c.SessionsStarted)
		}
		if metricCount(rep, "rtt") == 0 || c.RepliesMissing != 0 {
			t.Errorf("rtt samples %d, replies missing %d", metricCount(rep, "rtt"), c.RepliesMissing)
		}
		if phasesOf(rep, "open") != 3 {
			t.Errorf("phases %+v, want 3 open ones", rep.Phases)
		}
	}},
}

// TestExamples runs every example scenario, shortened to a few seconds,
// against the built-in server, and checks that it runs clean and does
// what it is there to show.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every example for a few seconds")
	}
	files, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			ex, ok := examples[name]
			if !ok {
				t.Fatalf("%s has no entry in examples: say what its run must show", name)
			}
			sc, err := scenario.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			shorten(sc, exampleRunTime)
			// A busy CI machine can stall the generator for more than the
			// default max_lag (1 s); the examples are not about the drop
			// policy, so late sends and arrivals go out late, measured from
			// their intended time, instead of being dropped.
			sc.Client.MaxLag = scenario.Duration(time.Minute)
			if ex.prepare != nil {
				ex.prepare(t, sc)
			}
			if ps := sc.Validate(); len(ps) > 0 {
				t.Fatalf("shortened scenario is invalid:\n%v", ps)
			}
			start := time.Now()
			rep := run(t, sc)
			c := rep.Counters
			t.Logf("%.1fs: %d connects, %d sent, %d received, %d sessions", time.Since(start).Seconds(),
				c.ConnectsOK, c.MessagesSent, c.MessagesReceived, c.SessionsStarted)
			if rep.EndReason != report.EndCompleted {
				t.Errorf("end reason %s (%s)", rep.EndReason, rep.EndDetail)
			}
			for cause, n := range c.ErrorsByCause {
				if !slices.Contains(ex.causes, cause) {
					t.Errorf("%d unexpected errors %s; by step: %v", n, cause, c.ErrorsByStep)
				}
			}
			if c.ConnectsFailed != 0 || c.SessionsFailed != 0 || c.SendsDropped != 0 {
				t.Errorf("connects failed %d, sessions failed %d, sends dropped %d", c.ConnectsFailed, c.SessionsFailed, c.SendsDropped)
			}
			ex.check(t, rep)
		})
	}
}

// shorten scales a scenario in time so that its phases last total: the
// phases, and the durations that shape a flow (sleep, think, listen, echo,
// publish and loop durations, reconnect delays), all by the same factor,
// so a long example still goes through every step of its flows. Rates,
// counts, timeouts and backoff stay as written. A scenario already
// shorter than total is left alone.
func shorten(sc *scenario.Scenario, total time.Duration) {
	old := sc.TotalDuration()
	if old <= total {
		return
	}
	f := float64(total) / float64(old)
	scale := func(d *scenario.Duration) { *d = scenario.Duration(float64(*d) * f) }
	for i := range sc.Phases {
		scale(&sc.Phases[i].Duration)
	}
	scale(&sc.Duration)
	scale(&sc.RampUp)
	for i := range sc.Flows {
		shortenSteps(sc.Flows[i].Steps, scale)
	}
}

func shortenSteps(steps []scenario.Step, scale func(*scenario.Duration)) {
	for i := range steps {
		s := &steps[i]
		switch {
		case s.Sleep != nil:
			scale(s.Sleep)
		case s.Think != nil:
			scale(&s.Think.Min)
			scale(&s.Think.Max)
			scale(&s.Think.Mean)
			scale(&s.Think.StdDev)
		case s.Listen != nil:
			scale(&s.Listen.Duration)
		case s.Echo != nil:
			scale(&s.Echo.Duration)
		case s.Publish != nil:
			scale(&s.Publish.Duration)
		case s.Reconnect != nil:
			scale(&s.Reconnect.Delay)
		case s.Loop != nil:
			scale(&s.Loop.Duration)
			shortenSteps(s.Loop.Steps, scale)
		}
	}
}

func TestShorten(t *testing.T) {
	sc := mustScenario(t, `
target: builtin
phases:
  - {duration: 10s, clients: 2}
  - {duration: 30s, arrival_rate: 5}
flows:
  - name: f
    steps:
      - connect: {path: /echo}
      - loop:
          duration: 20s
          steps:
            - echo: {rate: 4, duration: 8s}
            - think: {min: 4s, max: 8s}
      - sleep: 4s
`)
	shorten(sc, 4*time.Second)
	got := fmt.Sprint(sc.Phases[0].Duration.D(), sc.Phases[1].Duration.D(), sc.TotalDuration())
	if got != "1s 3s 4s" {
		t.Errorf("phases %s", got)
	}
	st := sc.Flows[0].Steps
	l := st[1].Loop
	got = fmt.Sprint(l.Duration.D(), l.Steps[0].Echo.Duration.D(), l.Steps[1].Think.Min.D(), l.Steps[1].Think.Max.D(), st[2].Sleep.D())
	if got != "2s 800ms 400ms 800ms 400ms" {
		t.Errorf("step durations %s", got)
	}
	if l.Steps[0].Echo.Rate != 4 {
		t.Errorf("rate changed to %v", l.Steps[0].Echo.Rate)
	}
}

func metricCount(rep *report.Report, name string) int64 {
	if m := rep.Metrics[name]; m != nil {
		return m.Count
	}
	return 0
}

// peakClients is the largest closed-model level of the run's phases.
func peakClients(rep *report.Report) int64 {
	var n float64
	for _, p := range rep.Phases {
		if p.Model == "closed" {
			n = max(n, p.Target)
		}
	}
	return int64(n)
}

func phasesOf(rep *report.Report, model string) int {
	n := 0
	for _, p := range rep.Phases {
		if p.Model == model {
			n++
		}
	}
	return n
}
