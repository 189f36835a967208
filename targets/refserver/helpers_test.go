package refserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// startServer starts a server on loopback and registers a cleanup that
// shuts it down and checks that none of its goroutines is left.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	s := New(cfg)
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf(
			"Start: %v",
			err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.Shutdown(ctx)
		if err != nil {
			t.Errorf(
				"Shutdown: %v",
				err)
		}
		checkNoLeaks(t)
	})
	return s, addr
}

// checkNoLeaks fails t if goroutines of a Server or conn are still running
// after a short settling time.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	var stacks string
	for range 100 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "refserver.(*Server)") && !strings.Contains(stacks, "refserver.(*conn)") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf(
		"server goroutines left after Shutdown:\n%s",
		stacks)
}

// client is a test WebSocket client built from gobwas/ws primitives.
type client struct {
	nc net.Conn
	r  io.Reader // the Dial's bufio.Reader if it returned one, else nc
}

func (c *client) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *client) Write(p []byte) (int, error) { return c.nc.Write(p) }

// dialErr dials ws://addr+path with a 10-second I/O deadline.
func dialErr(t testing.TB, addr, path string) (*client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, "ws://"+addr+path)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &client{nc: nc, r: nc}
	if br != nil {
		c.r = br
	}
	return c, nil
}

func dial(t testing.TB, addr, path string) *client {
	t.Helper()
	c, err := dialErr(t, addr, path)
	if err != nil {
		t.Fatalf(
			"dial %s: %v",
			path, err)
	}
	return c
}

// send writes one masked, unfragmented message.
func (c *client) send(t testing.TB, op ws.OpCode, p []byte) {
	t.Helper()
	err := wsutil.WriteClientMessage(c, op, p)
	if err != nil {
		t.Fatalf(
			"send: %v",
			err)
	}
}

// sendFrame writes one masked frame.
func (c *client) sendFrame(t testing.TB, op ws.OpCode, fin bool, p []byte) {
	t.Helper()
	f := ws.NewFrame(op, fin, append([]byte(nil), p...))
	err := ws.WriteFrame(c, ws.MaskFrameInPlace(f))
	if err != nil {
		t.Fatalf(
			"send frame: %v",
			err)
	}
}

// recv reads the next data message, answering pings.
func (c *client) recv() ([]byte, ws.OpCode, error) {
	return wsutil.ReadServerData(c)
}

func (c *client) mustRecv(t testing.TB) ([]byte, ws.OpCode) {
	t.Helper()
	p, op, err := c.recv()
	if err != nil {
		t.Fatalf(
			"recv: %v",
			err)
	}
	return p, op
}

// maxTestFrame bounds the frames tests read raw.
const maxTestFrame = 1 << 20

// readFrameFrom reads one frame of at most maxTestFrame payload bytes.
func readFrameFrom(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > maxTestFrame {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes exceeds the test limit", h.Length)
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(r, p)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	return ws.Frame{Header: h, Payload: p}, nil
}

// readFrame reads the next raw frame (server frames are not masked).
func (c *client) readFrame(t testing.TB) ws.Frame {
	t.Helper()
	f, err := readFrameFrom(c)
	if err != nil {
		t.Fatalf(
			"read frame: %v",
			err)
	}
	return f
}

// closeCode reads raw frames until a close frame and returns its status
// code (0 for an empty body), skipping everything else.
func (c *client) closeCode(t testing.TB) ws.StatusCode {
	t.Helper()
	for range 1 << 20 {
		f := c.readFrame(t)
		if f.Header.OpCode != ws.OpClose {
			continue
		}
		if len(f.Payload) < 2 {
			return 0
		}
		code, _ := ws.ParseCloseFrameData(f.Payload)
		return code
	}
	t.Fatalf("no close frame")
	return 0
}

// closedWith reports the close code of a ReadServerData error.
func closedWith(err error) (ws.StatusCode, bool) {
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		return ce.Code, true
	}
	return 0, false
}

// httpGet fetches http://addr+path.
func httpGet(t testing.TB, addr, path string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf(
			"GET %s: %v",
			path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf(
			"GET %s: body: %v",
			path, err)
	}
	return resp.StatusCode, string(body)
}

// httpStats fetches /stats and decodes it.
func httpStats(t testing.TB, addr string) Stats {
	t.Helper()
	code, body := httpGet(t, addr, "/stats")
	if code != http.StatusOK {
		t.Fatalf(
			"/stats: status %d",
			code)
	}
	var st Stats
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&st)
	if err != nil {
		t.Fatalf(
			"/stats %q: %v",
			body, err)
	}
	return st
}

// waitFor polls cond every 10ms for up to 5 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf(
		"timed out waiting for %s",
		what)
}

// rawRequest sends req on a new TCP connection and returns a reader of the
// response stream.
func rawRequest(t testing.TB, addr, req string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf(
			"dial: %v",
			err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(nc, req)
	if err != nil {
		t.Fatalf(
			"write: %v",
			err)
	}
	return nc, bufio.NewReader(nc)
}

func upgradeRequest(path string) string {
	return fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path)
}
