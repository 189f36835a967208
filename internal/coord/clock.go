package coord

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Clock agreement between a remote worker and its coordinator.
//
// One-way latencies (a broadcast published on one machine and received
// on another) subtract times read on two clocks, so their error is the
// clocks' disagreement. A worker measures it NTP-style over its control
// stream: it sends a probe stamped T0 on its clock, the coordinator
// stamps its arrival T1 and its reply T2 on its own, and the worker
// stamps the reply's arrival T3. Whatever the two one-way trips took,
// the worker's clock minus the coordinator's lies within
//
//	offset = ((T0-T1) + (T3-T2)) / 2  ±  rtt/2,  rtt = (T3-T0) - (T2-T1)
//
// (the error is half the trips' difference, at most half their sum).
// Of several probes the one with the smallest round trip gives the
// tightest bound. The worker then runs on the coordinator's clock: its
// run clock starts at the common origin as its own clock shows it
// (origin + offset), so every run time, and every marker timestamp it
// writes, agrees with the other workers' within the bound. Measured
// again at the end of the run, the offset shows how far the clocks
// drifted apart meanwhile, and the bound the report states covers that.

// clockSample is one probe's four timestamps, Unix ns: T0 and T3 on the
// worker's clock, T1 and T2 on the coordinator's.
type clockSample struct{ T0, T1, T2, T3 int64 }

func (s clockSample) rtt() int64 { return (s.T3 - s.T0) - (s.T2 - s.T1) }

// offset is the worker's clock minus the coordinator's.
func (s clockSample) offset() int64 {
	// Halve each difference first: Unix ns differences cannot overflow,
	// their sum could for absurd clocks.
	return (s.T0-s.T1)/2 + (s.T3-s.T2)/2
}

// ClockEstimate is a worker's measured offset to its coordinator's clock.
type ClockEstimate struct {
	// Offset is the worker's clock minus the coordinator's.
	Offset time.Duration `json:"offset_ns"`
	// Bound: the true offset is within Offset ± Bound (half the round
	// trip of the best probe).
	Bound time.Duration `json:"bound_ns"`
	// RTT is the best probe's round trip, Samples how many probes were
	// answered.
	RTT     time.Duration `json:"rtt_ns"`
	Samples int           `json:"samples"`
}

func (e ClockEstimate) String() string {
	return fmt.Sprintf("clock offset %s ± %s (best round trip of %d: %s)", e.Offset, e.Bound, e.Samples, e.RTT)
}

// bestEstimate picks the sample with the smallest round trip. Samples
// whose round trip is negative (a clock stepped during the probe) are
// not evidence of anything and are skipped.
func bestEstimate(samples []clockSample) (ClockEstimate, error) {
	best := -1
	for i, s := range samples {
		if s.rtt() < 0 {
			continue
		}
		if best < 0 || s.rtt() < samples[best].rtt() {
			best = i
		}
	}
	if best < 0 {
		return ClockEstimate{}, errors.New("no clock probe gave a usable round trip")
	}
	s := samples[best]
	rtt := s.rtt()
	return ClockEstimate{Offset: time.Duration(s.offset()), Bound: time.Duration((rtt + 1) / 2), RTT: time.Duration(rtt), Samples: len(samples)}, nil
}

// Probes per estimate: at the start, and at the end to see the drift.
const (
	startProbes = 8
	endProbes   = 5
	// probeTimeout bounds each probe's wait for its reply.
	probeTimeout = 10 * time.Second
)

// measureClock probes the coordinator n times over up and ctl and
// returns the best estimate.
func measureClock(ctx context.Context, up *uplink, ctl *control, n int) (ClockEstimate, error) {
	var samples []clockSample
	timer := time.NewTimer(probeTimeout)
	defer timer.Stop()
	for range n {
		t0 := ctl.now()
		if err := up.frame(frameClock, binary.AppendVarint(nil, t0)); err != nil {
			return ClockEstimate{}, fmt.Errorf("clock probe: %w", err)
		}
		timer.Reset(probeTimeout)
		for {
			select {
			case s := <-ctl.clock:
				if s.T0 != t0 {
					continue // a late reply to an earlier probe
				}
				samples = append(samples, s)
			case <-ctl.gone:
				_, err := ctl.lost()
				return ClockEstimate{}, fmt.Errorf("clock probe: %w", err)
			case <-timer.C:
				return ClockEstimate{}, fmt.Errorf("clock probe: no reply in %s", probeTimeout)
			case <-ctx.Done():
				return ClockEstimate{}, ctx.Err()
			}
			break
		}
	}
	return bestEstimate(samples)
}

// clockReply is the coordinator's answer to a probe stamped t0, which
// arrived at t1 (its clock).
func clockReply(t0, t1 int64) string {
	t2 := time.Now().UnixNano()
	return ctlClock + " " + strconv.FormatInt(t0, 10) + " " + strconv.FormatInt(t1, 10) + " " + strconv.FormatInt(t2, 10)
}

// runBound is the bound on a worker's offset over the whole run: the
// correction applied is the start estimate; at the end the true offset
// is within end ± end.Bound, so with the drift in between (taken as
// steady) the correction was off by at most the larger of the two.
func runBound(start ClockEstimate, end *ClockEstimate) time.Duration {
	if end == nil {
		return start.Bound
	}
	drift := end.Offset - start.Offset
	return max(start.Bound, time.Duration(math.Abs(float64(drift)))+end.Bound)
}
