package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// startService starts argv as a child process that does not speak the
// contract's start-up protocol (redis-server, haproxy) and returns once
// ready returns nil. extra become the child's file descriptors 3, 4, …
// (a listening socket haproxy binds with "fd@3"). The Process it returns
// works like one from Start: Output, Done, Stop, Memory; its Addr is addr.
//
// If ready fails, the child exits, or ctx ends first, the child is killed
// and the error carries its output.
func startService(ctx context.Context, argv []string, extra []*os.File, addr string, ready func(ctx context.Context) error) (*Process, error) {
	if len(argv) == 0 {
		return nil, errors.New("start service: empty command")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	p := &Process{addr: addr, out: &tailBuffer{limit: outputLimit}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.ExtraFiles = extra
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()

	readyErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { readyErr <- ready(rctx) }()
	var err error
	select {
	case err = <-readyErr:
		if err == nil {
			return p, nil
		}
	case <-p.done:
		err = fmt.Errorf("exited before it was ready (%v)", p.waitErr)
	case <-ctx.Done():
		err = fmt.Errorf("not ready: %w", ctx.Err())
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil, fmt.Errorf("start %s: %w%s", argv[0], err, p.outputSuffix())
}

// freePort returns a TCP port on host that was free a moment ago. For
// programs that cannot be told to pick their own (redis-server, whose
// port 0 means "no TCP"): the caller retries if it was taken since.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// poll calls try every interval until it returns nil or ctx ends, and
// then returns try's last error with ctx's.
func poll(ctx context.Context, interval time.Duration, try func(ctx context.Context) error) error {
	for {
		err := try(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// readAllLimit reads r to the end, at most limit bytes.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("more than %d bytes", limit)
	}
	return b, err
}

func itoa(n int) string { return strconv.Itoa(n) }
