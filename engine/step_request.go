package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindRequest, &stepImpl{
		compile: func(cc *compiler, st *step) (err error) {
			rq := st.s.Request
			if st.text, err = scenario.ParseTemplate(rq.Text); err != nil {
				return err
			}
			if r := rq.Reply; r != nil && r.Regex != "" {
				if st.replyRe, err = regexp.Compile(r.Regex); err != nil {
					return err
				}
			}
			if rq.Correlate != "marker" || rq.Reply != nil {
				cc.f.hasInbox = true
			}
			return nil
		},
		run: blocking(func(ctx context.Context, s *session, st *step) error { return s.request(ctx, st) }),
	})
}

// request sends a message and waits for its reply, recording the latency
// from the send under the step's metric.
func (s *session) request(ctx context.Context, st *step) error {
	rq := st.s.Request
	c := s.c
	timeout := s.replyTimeout(rq.Timeout)
	payload, op := s.payload(&rq.Payload, st)
	now := s.r.clock.Now()
	var field, id string
	if f, ok := strings.CutPrefix(rq.Correlate, "json:"); ok {
		field = f
		id = fmt.Sprintf("%d-%d", c.id, s.seq)
		var v map[string]any
		if err := json.Unmarshal(payload, &v); err != nil {
			return fmt.Errorf("request payload is not a JSON object: %w", err)
		}
		v[field] = id
		payload, _ = json.Marshal(v)
	}
	var got chan int64
	if field == "" && rq.Reply == nil {
		got = make(chan int64, 1)
		seq := s.seq
		c.reqMu.Lock()
		if c.reqWait == nil {
			c.reqWait = map[int64]chan int64{}
		}
		c.reqWait[seq] = got
		c.reqMu.Unlock()
		payload = append(appendMarker(nil, marker{kind: 'r', metric: int(st.metric), worker: s.r.worker, conn: c.id, seq: seq, ts: now, sent: now}, 0), payload...)
		defer func() {
			c.reqMu.Lock()
			delete(c.reqWait, seq)
			c.reqMu.Unlock()
		}()
	}
	if err := s.write(op, payload); err != nil {
		return s.lost(c, err)
	}
	if got != nil {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case at := <-got:
			s.shard.Record(st.metric, (at-now)/1000)
			return nil
		case <-t.C:
			s.replyMissing()
			return &timeoutError{cause: causeReplyTimeout}
		case <-c.done:
			s.replyMissing()
			return c.err
		case <-ctx.Done():
		}
		// The run is stopping with the reply in flight: give it the
		// drain time, as echo does, and count it missing if it does not
		// come.
		d := time.NewTimer(s.r.sc.Client.Drain.D())
		defer d.Stop()
		select {
		case at := <-got:
			s.shard.Record(st.metric, (at-now)/1000)
		case <-d.C:
			s.replyMissing()
		case <-c.done:
			s.replyMissing()
		case <-s.r.hard.Done():
			s.replyMissing()
		}
		return s.lost(c, nil)
	}
	matches := func(p []byte) bool {
		if field != "" {
			var v any
			if json.Unmarshal(p, &v) != nil {
				return false
			}
			got, ok := jsonField(v, field)
			if !ok || stringify(got) != id {
				return false
			}
		}
		return rq.Reply == nil || match(p, rq.Reply, st.replyRe)
	}
	reply, err := s.await(ctx, timeout, causeReplyTimeout, matches)
	if errors.Is(err, errStopped) {
		// Stopping with the reply in flight: the drain time, as above.
		if _, derr := s.await(s.r.hard, s.r.sc.Client.Drain.D(), causeReplyTimeout, matches); derr == nil {
			s.shard.Record(st.metric, (s.r.clock.Now()-now)/1000)
			return err
		}
	}
	if err != nil {
		// Timed out, stopped, or the connection ended: no reply.
		s.replyMissing()
		return err
	}
	s.shard.Record(st.metric, (s.r.clock.Now()-now)/1000)
	return s.capture(reply, rq.Capture)
}
