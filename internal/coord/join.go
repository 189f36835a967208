package coord

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/engine"
	"github.com/wsbench/wsbench/report"
)

// JoinOptions configure a remote worker.
type JoinOptions struct {
	// Coordinator is the coordinator's host:port.
	Coordinator string
	// Token is the run's shared secret.
	Token string
	// TLS verifies the coordinator (its CA, the server name) and may
	// carry this worker's certificate for mutual TLS. Nil means plain
	// HTTP/2, which the coordinator must have been told to speak too.
	TLS *tls.Config
	// Index is the share to ask for (an Indexed Job's completion index);
	// -1 takes any free one.
	Index int
	// Retry is how long to keep trying to reach a coordinator that is
	// not up yet (0: 2 minutes).
	Retry time.Duration
	// ReportDir is where the worker keeps its partial report when the
	// coordinator is lost during the run ("": the working directory).
	ReportDir string
	// Clock is the worker's wall clock in Unix ns (nil: the system's);
	// tests shift it to play a host whose clock is off.
	Clock func() int64
	Logf  func(format string, args ...any)
}

// JoinResult is what became of a remote worker's share.
type JoinResult struct {
	Index int    // the share it ran, from 0 (-1: none)
	Kept  string // the file its report was kept in when the coordinator could not take it
}

// ErrJoin marks a worker that never got a share: refused, or no
// coordinator to be found. Nothing was measured.
var ErrJoin = errors.New("could not join")

// Join is a remote worker's whole job: it joins the coordinator, measures
// its clock against the coordinator's, waits for its share and the
// common start, runs it, streaming intervals, and sends its report. If
// the coordinator disappears during the run, the worker stops at once
// and keeps its partial report in a local file (JoinResult.Kept), and
// the error says so.
func Join(ctx context.Context, o JoinOptions) (JoinResult, error) {
	res := JoinResult{Index: -1}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	now := o.Clock
	if now == nil {
		now = func() int64 { return time.Now().UnixNano() }
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, up, err := dialCoordinator(ctx, o, logf)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	defer up.Close()
	res.Index, _ = strconv.Atoi(resp.Header.Get(hdrIndex))
	link := &uplink{w: up}
	ctl := newControl(resp.Body, now)

	est, err := measureClock(ctx, link, ctl, startProbes)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrJoin, err)
	}
	host, _ := os.Hostname()
	h, _ := json.Marshal(hello{Protocol: ProtocolVersion, Version: report.Version, Host: host, PID: os.Getpid(), Clock: est})
	if err := link.frame(frameHello, h); err != nil {
		return res, fmt.Errorf("%w: send hello: %v", ErrJoin, err)
	}
	logf("joined %s as worker %d; %s", o.Coordinator, res.Index+1, est)

	var line []byte
	select {
	case line = <-ctl.assign:
	case <-ctl.gone:
		_, err := ctl.lost()
		ctl.mu.Lock()
		why := ctl.cancel
		ctl.mu.Unlock()
		if why != "" {
			return res, fmt.Errorf("%w: the coordinator gave up: %s", ErrJoin, why)
		}
		return res, fmt.Errorf("%w: the coordinator went away before the start: %v", ErrJoin, err)
	case <-ctx.Done():
		return res, fmt.Errorf("%w: %v", ErrJoin, ctx.Err())
	}
	a, sc, err := decodeAssignment(line)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrJoin, err)
	}
	res.Index = a.Index
	logf("share %d of %d, starting at %s (coordinator's clock)", a.Index+1, a.Count, a.Origin.UTC().Format(time.RFC3339Nano))

	// The engine reads the system clock; o.Clock differs from it only
	// in tests, by a fixed skew, which the origin handed to the engine
	// must carry as a real skewed clock would.
	skew := time.Duration(now() - time.Now().UnixNano())
	rep, runErr := runShare(ctx, a, sc, ctl, link, est.Offset-skew, logf)
	rep.Clock = &report.Clock{Method: report.ClockMeasured, OffsetUS: us(est.Offset), BoundUS: us(est.Bound)}

	if lost, why := ctl.lost(); lost {
		logf("lost the coordinator during the run: %v", why)
	} else {
		if end, err := measureClock(ctx, link, ctl, endProbes); err == nil {
			rep.Clock.BoundUS = us(runBound(est, &end))
			b, _ := json.Marshal(end)
			_ = link.frame(frameDrift, b)
			logf("at the end: %s", end)
		}
		if err := link.report(rep); err == nil {
			_ = up.Close() // the report is the last frame
			// The coordinator ends the stream cleanly once it has the
			// report; anything else means it may not have it.
			select {
			case <-ctl.gone:
			case <-time.After(30 * time.Second):
			}
			if _, why := ctl.lost(); errors.Is(why, errStreamEnded) {
				var se *engine.StartError
				if errors.As(runErr, &se) {
					return res, runErr
				}
				return res, nil
			}
		}
	}
	path, err := keepReport(o.ReportDir, a, rep)
	if err != nil {
		return res, fmt.Errorf("lost the coordinator, and could not keep the partial report: %w", err)
	}
	res.Kept = path
	return res, fmt.Errorf("lost the coordinator; the report of share %d of %d is in %s", a.Index+1, a.Count, path)
}

// keepReport writes the report of a share the coordinator could not
// take to dir, under a name that says which share of which run it is.
// wsbench merge combines such files (they carry their shard).
func keepReport(dir string, a *Assignment, rep *report.Report) (string, error) {
	if dir == "" {
		dir = "."
	}
	name := fmt.Sprintf("wsbench-worker-%d-of-%d-%s.json", a.Index, a.Count, a.Origin.UTC().Format("20060102T150405Z"))
	path := filepath.Join(dir, name)
	if err := report.WriteJSONFile(path, rep); err != nil {
		return "", err
	}
	return path, nil
}

// dialCoordinator sends the join request, retrying while the
// coordinator cannot be reached (not started yet, its Service not ready)
// until o.Retry runs out; a refusal is final.
func dialCoordinator(ctx context.Context, o JoinOptions, logf func(string, ...any)) (*http.Response, *io.PipeWriter, error) {
	p := new(http.Protocols)
	scheme := "https"
	if o.TLS != nil {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
		scheme = "http"
	}
	tr := &http.Transport{
		TLSClientConfig:     o.TLS,
		Protocols:           p,
		HTTP2:               &http.HTTP2Config{SendPingTimeout: pingEvery, PingTimeout: pingTimeout},
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	client := &http.Client{Transport: tr}
	retry := o.Retry
	if retry <= 0 {
		retry = 2 * time.Minute
	}
	deadline := time.Now().Add(retry)
	wait := 250 * time.Millisecond
	for {
		// A fresh pipe each time: a failed request closes its body.
		body, up := io.Pipe()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, scheme+"://"+o.Coordinator+joinPath, body)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrJoin, err)
		}
		req.Header.Set("Authorization", "Bearer "+o.Token)
		req.Header.Set(hdrProtocol, strconv.Itoa(ProtocolVersion))
		req.Header.Set("Content-Type", "application/octet-stream")
		if o.Index >= 0 {
			req.Header.Set(hdrIndex, strconv.Itoa(o.Index))
		}
		resp, err := client.Do(req)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				return resp, up, nil
			}
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			up.Close()
			return nil, nil, fmt.Errorf("%w: the coordinator at %s refused: %s (%s)", ErrJoin, o.Coordinator, strings.TrimSpace(string(msg)), resp.Status)
		}
		up.Close()
		if !retryable(err) || time.Now().Add(wait).After(deadline) {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrJoin, o.Coordinator, err)
		}
		logf("coordinator %s not reachable yet (%v); trying again", o.Coordinator, err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w: %v", ErrJoin, ctx.Err())
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// retryable: the coordinator may just not be up yet (refused, no route,
// name not resolvable yet, a timeout). A TLS verification failure or a
// refusal is not going to change by waiting.
func retryable(err error) bool {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return false
	}
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || (errors.As(err, &ne) && ne.Timeout())
}
