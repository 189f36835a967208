package capacity

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wsbench/wsbench/scenario"
)

// Phase names of a step's load profile.
const (
	phaseWarmup = "warmup"
	phaseHold   = "hold"
)

// stepScenario returns a deep copy of base (which must be completed) set
// to run one step at level: a ramp from zero to the level over warmup,
// then the level held for hold.
//
//   - Clients replaces the phases by a closed profile of level sessions.
//   - ArrivalRate replaces them by an open profile of level arrivals/s.
//   - MessageRate keeps the scenario's concurrency (its largest closed
//     phase) in the same warmup-then-hold shape and scales every
//     rate-bearing step (echo with a rate, publish) by one factor, so that
//     the sessions together send level messages per second.
func stepScenario(base *scenario.Scenario, variable string, level float64, warmup, hold time.Duration) (*scenario.Scenario, error) {
	sc, err := clone(base)
	if err != nil {
		return nil, err
	}
	// The short form has been expanded into phases and flows by Complete;
	// drop it so the copy says only what runs.
	sc.Clients, sc.RampUp, sc.Duration = 0, 0, 0
	sc.Capacity = nil
	sc.Thresholds = nil

	switch variable {
	case Clients:
		n := int(math.Round(level))
		sc.Phases = closedProfile(n, warmup, hold)
	case ArrivalRate:
		sc.Phases = openProfile(level, warmup, hold)
	case MessageRate:
		n := peakClients(base.Phases)
		if n == 0 {
			return nil, errors.New("message_rate needs a closed load profile (phases with clients) to spread the messages over")
		}
		if err := scaleRates(sc.Flows, n, level); err != nil {
			return nil, err
		}
		if sc.Message != nil {
			sc.Message.Rate = level / float64(n)
		}
		sc.Phases = closedProfile(n, warmup, hold)
	default:
		return nil, fmt.Errorf("unknown load variable %q", variable)
	}
	sc.Name = fmt.Sprintf("%s (%s %s)", base.Name, variable, formatLoad(level))
	sc.Complete()
	if ps := sc.Validate(); len(ps) > 0 {
		return nil, fmt.Errorf("step scenario at %s %s: %w", variable, formatLoad(level), ps)
	}
	return sc, nil
}

// clone deep-copies a scenario through JSON, which every field survives.
func clone(sc *scenario.Scenario) (*scenario.Scenario, error) {
	b, err := json.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("copy scenario: %w", err)
	}
	var out scenario.Scenario
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("copy scenario: %w", err)
	}
	out.ShareLoaded(sc) // data rows and the values to mask do not go through JSON
	return &out, nil
}

func closedProfile(n int, warmup, hold time.Duration) []scenario.Phase {
	a, b := n, n
	return []scenario.Phase{
		{Name: phaseWarmup, Duration: scenario.Duration(warmup), Clients: &a},
		{Name: phaseHold, Duration: scenario.Duration(hold), Clients: &b},
	}
}

func openProfile(rate float64, warmup, hold time.Duration) []scenario.Phase {
	a, b := rate, rate
	ps := []scenario.Phase{
		{Name: phaseWarmup, Duration: scenario.Duration(warmup), ArrivalRate: &a},
		{Name: phaseHold, Duration: scenario.Duration(hold), ArrivalRate: &b},
	}
	if warmup == 0 {
		// An open phase of zero length plans no arrivals; without a
		// warmup the hold starts at the full rate at once.
		ps = ps[1:]
	}
	return ps
}

// peakClients returns the largest closed-model level of the phases.
func peakClients(phases []scenario.Phase) int {
	n := 0
	for _, p := range phases {
		if p.Clients != nil {
			n = max(n, *p.Clients)
		}
	}
	return n
}

// scaleRates multiplies the rate of every rate-bearing step (the step
// kinds with a scheduled rate: echo with a rate, publish) by one factor so that clients sessions, picked by flow
// weight, send total messages per second in all. A flow's nominal rate is
// that of its fastest rate-bearing step, since a flow's steps run one
// after another.
func scaleRates(flows []scenario.Flow, clients int, total float64) error {
	totalWeight := 0
	for _, f := range flows {
		totalWeight += max(f.Weight, 1)
	}
	var nominal float64
	for _, f := range flows {
		share := float64(clients) * float64(max(f.Weight, 1)) / float64(totalWeight)
		nominal += share * fastestRate(f.Steps)
	}
	if nominal <= 0 {
		return errors.New("message_rate needs a flow with an echo step that has a rate, or a publish step: there is no rate to scale")
	}
	k := total / nominal
	for i := range flows {
		scaleSteps(flows[i].Steps, k)
	}
	return nil
}

// fastestRate is the highest scheduled message rate of any step, loops
// included.
func fastestRate(steps []scenario.Step) float64 {
	var r float64
	scenario.WalkSteps(steps, func(s *scenario.Step) bool {
		if p := s.Rate(); p != nil {
			r = max(r, *p)
		}
		return true
	})
	return r
}

// scaleSteps multiplies every scheduled rate by k (a closed-loop echo's
// rate is 0 and stays so).
func scaleSteps(steps []scenario.Step, k float64) {
	scenario.WalkSteps(steps, func(s *scenario.Step) bool {
		if p := s.Rate(); p != nil {
			*p *= k
		}
		return true
	})
}
