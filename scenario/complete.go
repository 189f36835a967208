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

func completeSteps(steps []Step) {
	for i := range steps {
		s := &steps[i]
		switch {
		case s.Echo != nil:
			if s.Echo.Size == 0 {
				s.Echo.Size = DefaultMessageSize
			}
			if s.Echo.Rate == 0 && s.Echo.Inflight == 0 {
				s.Echo.Inflight = 1
			}
			if s.Echo.Metric == "" {
				s.Echo.Metric = s.Name
			}
			if s.Echo.Metric == "" {
				s.Echo.Metric = "rtt"
			}
		case s.Publish != nil:
			if s.Publish.Size == 0 {
				s.Publish.Size = DefaultMessageSize
			}
		case s.Close != nil:
			if s.Close.Code == 0 {
				s.Close.Code = 1000
			}
		case s.Request != nil:
			if s.Request.Correlate == "" {
				s.Request.Correlate = "marker"
			}
		case s.Loop != nil:
			completeSteps(s.Loop.Steps)
		}
	}
}

// StepMetric returns the latency metric a step records into, or "" for
// steps that record none.
func (s *Step) StepMetric() string {
	switch {
	case s.Echo != nil:
		return s.Echo.Metric
	case s.Request != nil:
		return orDefault(s.Name, "request")
	case s.Ping != nil:
		return orDefault(s.Name, "ping")
	case s.Expect != nil:
		return s.Name // only named expects are timed
	}
	return ""
}

// MetricNames returns every latency metric the scenario can record: the
// built-in ones and the ones its steps name, without duplicates.
func (sc *Scenario) MetricNames() []string {
	reg := metrics.NewRegistry()
	var walk func([]Step)
	walk = func(steps []Step) {
		for i := range steps {
			if m := steps[i].StepMetric(); m != "" {
				reg.Add(m)
				if e := steps[i].Echo; e != nil && e.Rate > 0 {
					reg.Add(m + metrics.ServiceSuffix)
				}
			}
			if steps[i].Loop != nil {
				walk(steps[i].Loop.Steps)
			}
		}
	}
	for _, f := range sc.Flows {
		walk(f.Steps)
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
