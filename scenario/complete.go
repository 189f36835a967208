package scenario

import (
	"strconv"
	"time"

	"github.com/wsbench/wsbench/metrics"
)

// Defaults, documented in README.md ("Scenario reference").
const (
	DefaultInterval       = time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultMaxMessageSize = 16 << 20
	DefaultPongTimeout    = 5 * time.Second
	DefaultMaxLag         = time.Second
	DefaultDrain          = 2 * time.Second
	DefaultReplyTimeout   = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMaxSessions    = 10000
	DefaultMessageSize    = 64
	DefaultEchoPath       = "/echo"
)

// Complete fills defaults and expands the short form into phases and an
// echo flow. It is idempotent.
func (sc *Scenario) Complete() {
	if sc.Name == "" {
		sc.Name = "unnamed"
	}
	if sc.Interval == 0 {
		sc.Interval = Duration(DefaultInterval)
	}
	c := &sc.Client
	setDur(&c.ConnectTimeout, DefaultConnectTimeout)
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	setDur(&c.PongTimeout, DefaultPongTimeout)
	setDur(&c.MaxLag, DefaultMaxLag)
	setDur(&c.Drain, DefaultDrain)
	setDur(&c.ReplyTimeout, DefaultReplyTimeout)
	setDur(&c.WriteTimeout, DefaultWriteTimeout)
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}

	if len(sc.Phases) == 0 && sc.Clients > 0 && sc.Duration > 0 {
		n := sc.Clients
		if sc.RampUp > 0 {
			sc.Phases = append(sc.Phases, Phase{Name: "ramp-up", Duration: sc.RampUp, Clients: &n})
		} else {
			sc.Phases = append(sc.Phases, Phase{Name: "start", Duration: 0, Clients: &n})
		}
		if steady := sc.Duration - sc.RampUp; steady > 0 {
			sc.Phases = append(sc.Phases, Phase{Name: "steady", Duration: steady, Clients: &n})
		}
	}
	if len(sc.Flows) == 0 {
		m := Message{Size: DefaultMessageSize, Rate: 1}
		if sc.Message != nil {
			m = *sc.Message
			if m.Size == 0 {
				m.Size = DefaultMessageSize
			}
		}
		sc.Message = &m
		sc.Flows = []Flow{{
			Name: "echo",
			Steps: []Step{
				{Connect: &Connect{Path: DefaultEchoPath}},
				{Echo: &Echo{Rate: m.Rate, Inflight: m.Inflight, Size: m.Size, Binary: m.Binary}},
			},
		}}
	}
	for i := range sc.Phases {
		if sc.Phases[i].Name == "" {
			sc.Phases[i].Name = "phase-" + strconv.Itoa(i+1)
		}
	}
	for i := range sc.Flows {
		f := &sc.Flows[i]
		if f.Weight == 0 {
			f.Weight = 1
		}
		if f.OnError == "" {
			f.OnError = "end"
		}
		b := &f.Backoff
		setDur(&b.Initial, 100*time.Millisecond)
		setDur(&b.Max, 5*time.Second)
		if b.Factor == 0 {
			b.Factor = 2
		}
		if b.MaxAttempts == 0 {
			b.MaxAttempts = 10
		}
		completeSteps(f.Steps)
	}
	for _, ds := range sc.Data {
		if ds == nil {
			continue
		}
		if ds.Format == "" {
			ds.Format = dataFormat(ds)
		}
		if ds.Order == "" {
			ds.Order = DataSequential
		}
		if ds.By == "" {
			ds.By = DataBySession
		}
	}
	if cp := sc.Capacity; cp != nil {
		setDur(&cp.StepDuration, 10*time.Second)
		setDur(&cp.Warmup, 2*time.Second)
		setDur(&cp.Budget, 10*time.Minute)
		if cp.Step == 0 && cp.Factor == 0 {
			cp.Factor = 2
		}
		if cp.Refine == 0 {
			cp.Refine = 2
		}
	}
}

// completeSteps fills each step's defaults, from its kind's entry.
func completeSteps(steps []Step) {
	WalkSteps(steps, func(s *Step) bool {
		if d := s.Kind().def(); d != nil && d.complete != nil {
			d.complete(s)
		}
		return true
	})
}

// MetricNames returns every latency metric the scenario can record: the
// built-in ones and the ones its steps name, without duplicates.
func (sc *Scenario) MetricNames() []string {
	reg := metrics.NewRegistry()
	for _, f := range sc.Flows {
		WalkSteps(f.Steps, func(s *Step) bool {
			if m := s.StepMetric(); m != "" {
				reg.Add(m)
				if s.ServiceMetric() {
					reg.Add(m + metrics.ServiceSuffix)
				}
			}
			return true
		})
	}
	return append([]string(nil), reg.Names()...)
}

// TotalDuration is the sum of the phases' durations.
func (sc *Scenario) TotalDuration() time.Duration {
	var d time.Duration
	for _, p := range sc.Phases {
		d += p.Duration.D()
	}
	return d
}

func setDur(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
