package launch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// DefaultStartTimeout bounds Start when its context has no deadline.
const DefaultStartTimeout = 30 * time.Second

// outputLimit is how much of a child's output a Process keeps (the tail).
const outputLimit = 64 << 10

// Process is a target server running as a child process, started by
// Start. Its methods are safe for concurrent use.
type Process struct {
	addr string
	cmd  *exec.Cmd
	out  *tailBuffer

	done    chan struct{} // closed once the child has exited
	waitErr error         // the child's exit status; set before done closes

	stopOnce sync.Once
	stopErr  error
	cleanup  func() // removes files StartKnown wrote for the child
}

// Start starts argv as a child process and waits until it is ready:
// it has printed a `LISTENING host:port` line on stdout and answers
// GET /healthz with 200. The child inherits this process's environment plus
// env ("KEY=VALUE" entries, which win over inherited ones). Everything the
// child prints on stdout and stderr is kept (the last 64 KiB) for Output
// and for error messages.
//
// ctx bounds only the start-up (DefaultStartTimeout if it has no deadline);
// once Start returns, the child runs until Stop. If start-up fails,
// the child is killed and the error includes its output.
func Start(ctx context.Context, argv []string, env []string) (*Process, error) {
	if len(argv) == 0 {
		return nil, errors.New("start target: empty command")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	p := &Process{out: &tailBuffer{limit: outputLimit}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.out
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}

	listening := make(chan string, 1)
	go func() {
		// Wait may only run once stdout has been read to the end.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.out, line)
			if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING "); ok {
				select {
				case listening <- addr:
				default: // only the first line counts
				}
			}
		}
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()

	fail := func(format string, args ...any) (*Process, error) {
		_ = p.cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("start %s: %s%s", argv[0], fmt.Sprintf(format, args...), p.outputSuffix())
	}
	select {
	case p.addr = <-listening:
	case <-p.done:
		return fail("exited before printing LISTENING (%v)", p.waitErr)
	case <-ctx.Done():
		return fail("no LISTENING line: %v", ctx.Err())
	}
	if _, _, err := net.SplitHostPort(p.addr); err != nil {
		return fail("bad LISTENING line %q: %v", p.addr, err)
	}
	if err := p.waitHealthy(ctx); err != nil {
		return fail("%v", err)
	}
	return p, nil
}

// waitHealthy polls /healthz until it answers 200.
func (p *Process) waitHealthy(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	url := "http://" + p.addr + "/healthz"
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("exited while waiting for /healthz (%v)", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("GET %s not ready: %v (last: %v)", url, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addr returns the host:port the target printed in its LISTENING line.
func (p *Process) Addr() string { return p.addr }

// URL returns the target's WebSocket base URL, "ws://" + Addr().
func (p *Process) URL() string { return "ws://" + p.addr }

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done returns a channel that is closed once the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Output returns the tail of what the child printed on stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

func (p *Process) outputSuffix() string {
	out := strings.TrimSpace(p.Output())
	if out == "" {
		return " (no output)"
	}
	return "; output:\n" + out
}

// Stop sends sig (typically syscall.SIGTERM) to the child and waits up to
// timeout for it to exit; if it does not, Stop kills it (that PID only, not
// its process group). It returns nil only if the child exited with status 0.
// Stop may be called more than once and returns the first call's result; if
// the child had already exited, Stop just reports how.
func (p *Process) Stop(sig os.Signal, timeout time.Duration) error {
	p.stopOnce.Do(func() {
		p.stopErr = p.stop(sig, timeout)
		if p.cleanup != nil {
			p.cleanup()
		}
	})
	return p.stopErr
}

func (p *Process) stop(sig os.Signal, timeout time.Duration) error {
	select {
	case <-p.done:
		return p.exitError("had already exited")
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		select {
		case <-p.done: // exited in the meantime
			return p.exitError("had already exited")
		default:
			return fmt.Errorf("signal target (pid %d): %w", p.Pid(), err)
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.exitError(fmt.Sprintf("after %v", sig))
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("target (pid %d) did not exit within %s of %v and was killed%s", p.Pid(), timeout, sig, p.outputSuffix())
	}
}

func (p *Process) exitError(when string) error {
	if p.waitErr == nil {
		return nil
	}
	return fmt.Errorf("target (pid %d) %s: %w%s", p.Pid(), when, p.waitErr, p.outputSuffix())
}

// tailBuffer is an io.Writer keeping roughly the last limit bytes written.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte
	limit int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.limit {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.limit:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > b.limit {
		return "…" + string(b.buf[len(b.buf)-b.limit:])
	}
	return string(b.buf)
}
