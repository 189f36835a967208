package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindPublish, &stepImpl{
		compile: func(cc *compiler, _ *step) error {
			cc.f.member = true
			return nil
		},
		parks: true,
		run:   func(s *session, st *step) (stepStatus, error) { return s.publish(st) },
	})
}

// publish sends marked messages into the connection's broadcast room on an
// absolute schedule and registers each with the ledger. Its state is in
// s.sp (phase 1: sending, 2: waiting for its own messages to come back),
// so that it parks between sends far apart (see awaitSend).
func (s *session) publish(st *step) (stepStatus, error) {
	p := st.s.Publish
	c := s.c
	sp := &s.sp
	switch sp.phase {
	case 0:
		if c.member == nil {
			return stepNext, fmt.Errorf("publish on a connection outside the broadcast ledger")
		}
		s.r.publishing.Add(1)
		sp.sch = s.newSchedule(p.Rate, p.Duration, p.Count)
		sp.phase = 1
	case 2:
		return s.publishDrain()
	}
	w := sendWait{}
	defer w.done()
	op := opcode(p.Binary)
	m := marker{kind: 'b', worker: s.r.worker, conn: c.id}
	maxLag := int64(s.r.sc.Client.MaxLag)
	for {
		due, send, status, err := s.awaitSend(&w)
		if !send {
			if status != stepNext {
				return status, nil
			}
			return s.publishEnd(err)
		}
		i := sp.next
		sp.next++
		now := s.r.clock.Now()
		lag := now - due
		if lag > maxLag {
			s.shard.DroppedSend(lag / 1000)
			continue
		}
		m.seq, m.ts, m.sent = i, due, now
		s.buf = appendMarker(s.buf[:0], m, p.Size)
		c.member.room.published(report.PubID{Worker: s.r.worker, Conn: c.id}, i, now)
		wire, werr := c.ws.WriteMessage(op, s.buf)
		if werr != nil {
			// Not sent: no member can be expected to get it.
			c.member.room.unpublished(report.PubID{Worker: s.r.worker, Conn: c.id}, i)
			err := s.lost(c, werr)
			s.dropUnsent(sp.sch, i, 1, err)
			return s.publishEnd(err)
		}
		sp.sent++
		s.shard.SentOnSchedule(len(s.buf), wire, lag/1000)
	}
}

// publishEnd ends a publish step's sending with err and waits for its
// own messages.
func (s *session) publishEnd(err error) (stepStatus, error) {
	s.sp.phase, s.sp.err = 2, err
	return s.publishDrain()
}

// publishDrain waits (at most the scenario's drain time) for the
// publisher's own messages to come back: it is a member of its own room,
// so then the server has fanned them all out before this connection moves
// on or closes. It waits on a goroutine of the session's own.
func (s *session) publishDrain() (stepStatus, error) {
	c := s.c
	if c.ownBack.Load() < s.sp.sent && s.pooled {
		return stepHandoff, nil
	}
	defer s.r.publishing.Add(-1)
	err := s.sp.err
	deadline := time.Now().Add(s.r.sc.Client.Drain.D())
	for c.ownBack.Load() < s.sp.sent && time.Now().Before(deadline) {
		select {
		case <-c.done:
			if err == nil || errors.Is(err, errStopped) {
				// The connection ended while the step waited for its
				// messages: the step did not finish.
				err = c.err
			}
			return stepNext, err
		case <-s.r.hard.Done():
			return stepNext, err
		case <-time.After(time.Millisecond):
		}
	}
	return stepNext, err
}
