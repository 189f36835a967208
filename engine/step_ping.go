package engine

import (
	"context"
	"time"

	"github.com/wsbench/wsbench/internal/shard"
	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindPing, &stepImpl{
		compile: func(cc *compiler, _ *step) error {
			cc.f.pings = true
			return nil
		},
		run: blocking(func(ctx context.Context, s *session, st *step) error { return s.ping(ctx, st) }),
	})
}

// ping sends a ping and records the time to its pong.
func (s *session) ping(ctx context.Context, st *step) error {
	c := s.c
	select {
	case <-c.pong:
	default:
	}
	if err := c.ws.WritePing(s.pingPayload(pingByStep)); err != nil {
		return s.lost(c, err)
	}
	s.shard.Do(func(set *shard.Rec) { set.Counters.PingsSent++ })
	timeout := st.s.Ping.Timeout.D()
	if timeout == 0 {
		timeout = s.r.sc.Client.PongTimeout.D()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case rtt := <-c.pong:
		s.shard.Do(func(set *shard.Rec) {
			set.Counters.PongsReceived++
			set.Record(st.metric, rtt/1000)
		})
		return nil
	case <-t.C:
		s.shard.Do(func(set *shard.Rec) { set.Counters.PongsMissed++ })
		return &timeoutError{cause: causePongTimeout}
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return s.lost(c, nil)
	}
}
