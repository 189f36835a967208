package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wsbench/wsbench/scenario"
)

func init() {
	defineStep(scenario.KindReconnect, &stepImpl{
		run: blocking(func(ctx context.Context, s *session, st *step) error { return s.reconnect(ctx, st) }),
	})
}

// reconnect closes the connection (if open) and connects again to the
// flow's last connect target, backing off on failure per the flow.
func (s *session) reconnect(ctx context.Context, st *step) error {
	if s.lastConnect == nil {
		return errors.New("reconnect before any connect")
	}
	if d := st.s.Reconnect.Delay.D(); d > 0 && !sleepCtx(ctx, d) {
		return errStopped
	}
	s.closeConn(1000, "")
	var err error
	for attempt := 0; attempt < max(1, s.flow.f.Backoff.MaxAttempts); attempt++ {
		if attempt > 0 {
			s.countError(classify(err), st.label, err)
			if !sleepCtx(ctx, s.backoff(attempt-1)) {
				return errStopped
			}
		}
		if err = s.connect(s.lastConnect); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s: %w", causeReconnect, err)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
