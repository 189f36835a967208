package engine

import (
	"context"
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
		run: blocking(func(ctx context.Context, s *session, st *step) error { return s.publish(ctx, st) }),
	})
}

// publish sends marked messages into the connection's broadcast room on an
// absolute schedule and registers each with the ledger.
func (s *session) publish(ctx context.Context, st *step) error {
	p := st.s.Publish
	c := s.c
	if c.member == nil {
		return fmt.Errorf("publish on a connection outside the broadcast ledger")
	}
	s.r.publishing.Add(1)
	defer s.r.publishing.Add(-1)
	op := opcode(p.Binary)
	m := marker{kind: 'b', worker: s.r.worker, conn: c.id}
	maxLag := int64(s.r.sc.Client.MaxLag)
	sch := s.newSchedule(p.Rate, p.Duration, p.Count)
	var sent int64
	var err error
	for i := int64(0); ; i++ {
		due, done, werr := s.nextSend(ctx, sch, i)
		if done {
			err = werr
			break
		}
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
			err = s.lost(c, werr)
			s.dropUnsent(sch, i, 1, err)
			break
		}
		sent++
		s.shard.SentOnSchedule(len(s.buf), wire, lag/1000)
	}
	// The publisher is a member of its own room: waiting for its own
	// messages to come back means the server has fanned them all out
	// before this connection moves on or closes.
	deadline := time.Now().Add(s.r.sc.Client.Drain.D())
	for c.ownBack.Load() < sent && time.Now().Before(deadline) {
		select {
		case <-c.done:
			if err == nil || errors.Is(err, errStopped) {
				// The connection ended while the step waited for its
				// messages: the step did not finish.
				err = c.err
			}
			return err
		case <-s.r.hard.Done():
			return err
		case <-time.After(time.Millisecond):
		}
	}
	return err
}
