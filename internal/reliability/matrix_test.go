package reliability

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/faultserver"
	"github.com/wsbench/wsbench/report"
)

const sigterm = syscall.SIGTERM

// faultCases is the fault matrix. Cases that every step kind must report
// alike run all eight kinds, one flow each, so that each kind's errors are
// counted under its own steps; cases whose outcome depends on what the
// kind does run one kind at a time.
func faultCases() []*fcase {
	var cases []*fcase
	cases = append(cases,
		single(&fcase{
			name:   "healthy",
			server: "echoes, broadcasts and pushes as asked (the control case)",
			want: want{exit: 0, end: report.EndCompleted, reports: "no errors, nothing missing or lost; every session stopped by the end; the client's message counts equal the server's",
				check: all(exactTraffic, func(r *result, _ *fcase) error {
					if r.n.RepliesMissing != 0 || lost(r.rep) != 0 {
						return fmt.Errorf("missing %d lost %d on a healthy server", r.n.RepliesMissing, lost(r.rep))
					}
					return nil
				})},
		}, &runSpec{}),
		single(&fcase{
			name:   "refuses_connections",
			server: "nothing listens on the port",
			want: want{exit: 2, end: report.EndFailed, causes: []string{"refused"}, where: "the pre-flight check, before any session",
				reports: "the run does not start; the report says why",
				check: func(r *result, _ *fcase) error {
					if r.n.ErrorsByCause["refused"] != 1 || r.n.SessionsStarted != 0 {
						return fmt.Errorf("errors %v sessions %d", r.n.ErrorsByCause, r.n.SessionsStarted)
					}
					return nil
				}},
		}, &runSpec{refused: true}),
	)
	cases = append(cases, handshakeCases()...)
	cases = append(cases, closeCases()...)
	cases = append(cases,
		single(&fcase{
			name: "eof_without_close_frame", server: "ends the TCP stream (FIN) after its first message, without a close frame",
			query: "fault=eof&after=1",
			want: want{exit: 3, end: report.EndCompleted, causes: []string{"closed"}, eachKind: true, where: "the step holding the connection",
				reports: "closes_by_code 1006 (none); one error per EOF the server sent to a client that was not closing",
				check: all(exactTraffic, func(r *result, _ *fcase) error {
					// A stream the server ended as the run ended may have
					// met a step the end had already stopped: no error.
					if seen := r.stat("eof") - r.statPrefix("eof_then_client_close_"); r.n.Errors() > seen || seen > r.n.Errors()+int64(r.spec.clientCount()) {
						return fmt.Errorf("%d errors, the server ended %d streams the client had not closed", r.n.Errors(), seen)
					}
					return nil
				})},
		}, &runSpec{}),
		single(&fcase{
			name: "reset_under_load", server: "resets (RST) each connection 300 ms into its traffic, 16 clients at up to 100 messages/s each",
			query: "fault=reset&after=1000000&after_ms=300",
			want: want{exit: 3, end: report.EndCompleted, causes: []string{"reset"}, eachKind: true, where: "the step holding the connection",
				reports: "every reset counted once, as reset (never as a clean EOF, even when a write took the RST)",
				check: func(r *result, _ *fcase) error {
					if resets := r.stat("reset"); r.n.Errors() > resets || resets > r.n.Errors()+int64(r.spec.clientCount()) {
						return fmt.Errorf("%d errors for %d resets (some may hit a session the end stopped)", r.n.Errors(), resets)
					}
					return nil
				}},
		}, &runSpec{clients: 16, load: load{rate: 100, size: 64, pause: "10ms"}}),
		single(&fcase{
			name: "killed_and_restarted", server: "a process, killed (SIGKILL) mid-run and restarted on the same port",
			want: want{exit: 3, end: report.EndCompleted, causes: []string{"reset", "closed", "refused"}, eachKind: true,
				where:   "the step holding the connection; refused at connect while the server is down",
				reports: "each open connection ends once, as reset or closed (the kernel resets sockets with unread data); connects are refused until the restart, then succeed",
				check: func(r *result, _ *fcase) error {
					if ended := r.n.ErrorsByCause["reset"] + r.n.ErrorsByCause["closed"]; ended != r.open {
						return fmt.Errorf("%d connections ended by the kill, want %d (the server's open connections)", ended, r.open)
					}
					if r.n.ConnectsOK <= r.open {
						return fmt.Errorf("%d connects: none after the restart", r.n.ConnectsOK)
					}
					return nil
				}},
		}, &runSpec{dur: 4 * time.Second, proc: func(ctx context.Context, r *runSpec, p *process) error {
			err := p.strikeWhenConnected(ctx, int64(r.clientCount()), func(int) error {
				// Stop reports the exit by signal as an error; the child
				// is gone either way.
				_ = p.current().Stop(syscall.SIGKILL, 5*time.Second)
				return nil
			})
			if err != nil {
				return err
			}
			np, err := faultserver.StartProcess(ctx, p.addr)
			if err != nil {
				return err
			}
			p.mu.Lock()
			p.p = np
			p.mu.Unlock()
			return nil
		}}),
		single(&fcase{
			name: "frozen_longer_than_pong_timeout", server: "a process, stopped (SIGSTOP) for 1.4 s, longer than the 600 ms pong timeout, then resumed",
			want: want{exit: 3, end: report.EndCompleted, causes: []string{"pong_timeout", "timeout"}, eachKind: true,
				where:   "the step holding the connection (client heartbeats every 200 ms); timeout at connect while the server is frozen",
				reports: "each open connection fails once with pong_timeout; upgrades time out until the server resumes, then succeed",
				check: func(r *result, _ *fcase) error {
					if got := r.n.ErrorsByCause["pong_timeout"]; got != r.open {
						return fmt.Errorf("%d pong timeouts, want %d (one per connection open when the server froze)", got, r.open)
					}
					if r.n.ConnectsOK <= r.open {
						return fmt.Errorf("%d connects: none after the server resumed", r.n.ConnectsOK)
					}
					return nil
				}},
		}, &runSpec{dur: 4 * time.Second, client: map[string]string{"ping_interval": "200ms", "pong_timeout": "600ms", "connect_timeout": "1s"},
			proc: func(ctx context.Context, r *runSpec, p *process) error {
				return p.strikeWhenConnected(ctx, int64(r.clientCount()), func(pid int) error {
					if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
						return err
					}
					sleepCtx(ctx, 1400*time.Millisecond)
					return syscall.Kill(pid, syscall.SIGCONT)
				})
			}}),
	)
	cases = append(cases, stopReadingCases()...)
	return append(cases, dropCases()...)
}

// handshakeCases: servers that never complete the upgrade, in one run
// (every connect fails, so the engine ends the run as failed: target
// unreachable after three short intervals).
func handshakeCases() []*fcase {
	var cases []*fcase
	for _, h := range []struct{ name, query, server, cause, stat, timeout string }{
		{"upgrade_never_answered", "handshake=silent", "accepts TCP and never answers the upgrade", "timeout", "handshake_silent", "500ms"},
		{"upgrade_answered_403", "handshake=status&status=403", "answers the upgrade with 403", "handshake_status_403", "handshake_status_403", ""},
		{"upgrade_answered_503", "handshake=status&status=503", "answers the upgrade with 503", "handshake_status_503", "handshake_status_503", ""},
		{"upgrade_bad_accept", "handshake=bad_accept", "answers 101 with a wrong Sec-WebSocket-Accept", "handshake", "handshake_bad_accept", ""},
	} {
		cases = append(cases, &fcase{
			name: h.name, server: h.server, query: h.query, connectTimeout: h.timeout,
			want: want{exit: 1, end: report.EndFailed, causes: []string{h.cause}, eachKind: true, where: "the connect step",
				reports: "one error per upgrade the server refused (the server counts them too); after three intervals of nothing but failed connects the run ends as failed: target unreachable",
				check: func(r *result, c *fcase) error {
					if got := c.errors(r.n); got != r.stat(h.stat) {
						return fmt.Errorf("%d errors, the server refused %d upgrades", got, r.stat(h.stat))
					}
					if r.n.ConnectsOK != 0 || r.n.ConnectsFailed != r.n.Errors() {
						return fmt.Errorf("connects ok %d failed %d, errors %d", r.n.ConnectsOK, r.n.ConnectsFailed, r.n.Errors())
					}
					return nil
				}},
		})
	}
	return group(&runSpec{interval: "250ms", dur: 3 * time.Second}, cases...)
}

// closeCases: the server closes with each code, before and after its
// first message; one run for each of before and after.
func closeCases() []*fcase {
	var out []*fcase
	for _, when := range []struct {
		name, server string
		after        int
	}{{"before_first_message", "instead of its first message", 0}, {"after_first_message", "after its first message", 1}} {
		var cases []*fcase
		for _, code := range []int{1000, 1001, 1008, 1011, 4000, 4999} {
			key := fmt.Sprint(code)
			cases = append(cases, &fcase{
				name:   fmt.Sprintf("close_%d_%s", code, when.name),
				server: fmt.Sprintf("closes with %d %s", code, when.server),
				query:  fmt.Sprintf("fault=close&code=%d&after=%d", code, when.after),
				want: want{exit: 3, end: report.EndCompleted, causes: []string{"server_close_" + key}, eachKind: true, where: "the step holding the connection",
					reports: fmt.Sprintf("the sessions fail; closes_by_code %d (server) = the closes the server got answered", code),
					check: func(r *result, c *fcase) error {
						got := r.stat("client_close_" + key)
						if r.n.ClosesByCode[key] != got || got < c.errors(r.n) {
							return fmt.Errorf("client counted %d closes %s, the server got %d answers; %d errors", r.n.ClosesByCode[key], key, got, c.errors(r.n))
						}
						return nil
					}},
			})
		}
		out = append(out, group(&runSpec{}, cases...)...)
	}
	// The message counts are exact across each run.
	for _, c := range out {
		check := c.want.check
		c.want.check = all(exactTraffic, check)
		c.want.reports += "; message counts equal the server's"
	}
	return out
}

// stopReadingCases: the server stops reading (and writing) after its
// second message. What a client notices depends on what it does.
func stopReadingCases() []*fcase {
	wants := map[string]want{
		"echo_open": {exit: 3, causes: []string{"write_timeout"}, where: "echo",
			reports: "the socket's buffers fill, a write blocks for write_timeout and fails the connection; the sends it could not make count in sends_dropped (intended = sent + dropped)",
			check: func(r *result, _ *fcase) error {
				if r.n.SendsDropped == 0 || r.n.SendsIntended != r.n.MessagesSent+r.n.SendsDropped {
					return fmt.Errorf("intended %d sent %d dropped %d", r.n.SendsIntended, r.n.MessagesSent, r.n.SendsDropped)
				}
				return nil
			}},
		"echo_closed": {exit: 3, reports: "the closed loop waits for a reply that never comes: one replies_missing per session at the end",
			check: func(r *result, _ *fcase) error {
				if r.n.RepliesMissing != int64(r.spec.clientCount()) {
					return fmt.Errorf("replies missing %d, want one per client", r.n.RepliesMissing)
				}
				return nil
			}},
		"request": {exit: 3, causes: []string{"reply_timeout"}, where: "request",
			reports: "each request without a reply counts in replies_missing",
			check: func(r *result, _ *fcase) error {
				if r.n.RepliesMissing < r.n.Errors() || r.n.RepliesMissing > r.n.Errors()+int64(r.spec.clientCount()) {
					return fmt.Errorf("replies missing %d for %d reply timeouts", r.n.RepliesMissing, r.n.Errors())
				}
				return nil
			}},
		"publish": {exit: 3, reports: "the broadcasts stop: loss > 0 fails `loss == 0`",
			check: func(r *result, _ *fcase) error {
				if lost(r.rep) == 0 {
					return fmt.Errorf("no broadcast loss: %+v", r.rep.Broadcast)
				}
				return nil
			}},
		"listen": {exit: 0, reports: "nothing the flow asked for failed: the server only went quiet"},
		"expect": {exit: 3, causes: []string{"expect_timeout"}, where: "expect"},
		"ping":   {exit: 3, causes: []string{"pong_timeout"}, where: "ping"},
		"sleep":  {exit: 0, reports: "nothing the flow asked for failed"},
	}
	var out []*fcase
	for _, k := range kindNames() {
		w := wants[k]
		w.end = report.EndCompleted
		spec := &runSpec{clients: 2, dur: 3 * time.Second,
			// The timeouts this case is about, short enough to show
			// within the run.
			client: map[string]string{"write_timeout": "300ms", "reply_timeout": "500ms", "pong_timeout": "300ms"}}
		if k == "echo_open" {
			// 6.4 MiB/s fills the socket's buffers (a few MiB) within the
			// run; one client, as masking costs CPU under the race
			// detector, and a short max_lag, so that a starved generator
			// drops its late sends rather than masking them all in one
			// huge batch.
			spec.load = load{rate: 100, size: 64 << 10, pause: "50ms"}
			spec.clients, spec.dur = 1, 6*time.Second
			spec.client["max_lag"] = "100ms"
		}
		out = append(out, single(&fcase{
			name: "stop_reading/" + k, server: "stops reading (and writing) after its second message",
			query: "fault=stop_reading&after=2", kinds: []string{k}, want: w,
		}, spec))
	}
	return out
}

// dropCases: the server accepts every message and silently drops every
// 10th one received.
func dropCases() []*fcase {
	missingIsDropped := func(r *result, c *fcase) error {
		if r.n.RepliesMissing != r.stat("dropped") || r.stat("dropped") == 0 {
			return fmt.Errorf("replies missing %d, server dropped %d", r.n.RepliesMissing, r.stat("dropped"))
		}
		return exactTraffic(r, c)
	}
	nothingDropped := func(r *result, c *fcase) error {
		if r.stat("dropped") != 0 || r.n.RepliesMissing != 0 {
			return fmt.Errorf("dropped %d missing %d: the flow sends no data messages", r.stat("dropped"), r.n.RepliesMissing)
		}
		return exactTraffic(r, c)
	}
	wants := map[string]want{
		"echo_open":   {exit: 3, reports: "replies_missing = the messages the server dropped", check: missingIsDropped},
		"echo_closed": {exit: 3, reports: "replies_missing = the messages the server dropped (the step waits its drain time for each before it goes on)", check: missingIsDropped},
		"request": {exit: 3, causes: []string{"reply_timeout"}, where: "request",
			reports: "replies_missing = the messages the server dropped", check: missingIsDropped},
		"publish": {exit: 3, reports: "broadcast lost = the messages the server dropped",
			check: func(r *result, c *fcase) error {
				if lost(r.rep) != r.stat("dropped") || r.stat("dropped") == 0 {
					return fmt.Errorf("lost %d, server dropped %d", lost(r.rep), r.stat("dropped"))
				}
				return exactTraffic(r, c)
			}},
		"listen": {exit: 0, reports: "the flow sends nothing to drop", check: nothingDropped},
		"expect": {exit: 0, reports: "the flow sends nothing to drop", check: nothingDropped},
		"ping":   {exit: 0, reports: "pings are control frames, not messages: nothing to drop", check: nothingDropped},
		"sleep":  {exit: 0, reports: "the flow sends nothing to drop", check: nothingDropped},
	}
	var out []*fcase
	for _, k := range kindNames() {
		w := wants[k]
		w.end = report.EndCompleted
		out = append(out, single(&fcase{
			name: "drops_every_10th_message/" + k, server: "accepts every message and silently drops every 10th",
			query: "drop=10", kinds: []string{k}, want: w,
		}, &runSpec{clients: 2, dur: 3 * time.Second, client: map[string]string{"reply_timeout": "1s"},
			// Ten requests (the tenth is dropped) well within the run.
			load: load{rate: 20, size: 64, pause: "20ms"}}))
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// TestFaultMatrix runs every fault case: one parallel subtest per case.
func TestFaultMatrix(t *testing.T) { runCases(t, faultCases()) }
