package faultserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func TestMain(m *testing.M) {
	ServeIfChild()
	os.Exit(m.Run())
}

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitStat waits (generously) for a server-side count that settles after
// the client's side is done.
func waitStat(t *testing.T, s *Server, name string, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stat(name) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %d: %v", name, want, s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dial opens a WebSocket connection to url. Whatever the server sent
// right behind its handshake response (a push, a fault's frame) may
// already be in the handshake's buffer, on a busy machine especially: the
// connection reads it first.
func dial(t *testing.T, url string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if br != nil {
		return bufferedConn{Conn: c, r: br}
	}
	return c
}

// bufferedConn reads through the handshake's buffered reader.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (b bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// The fault replaces the server's (after+1)th message; the counts say
// what went each way.
func TestCloseAfterEchoes(t *testing.T) {
	s := start(t)
	c := dial(t, s.URL()+"/echo?fault=close&code=4321&after=2")
	for i := range 2 {
		if err := wsutil.WriteClientText(c, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if p, err := wsutil.ReadServerText(c); err != nil || string(p) != "x" {
			t.Fatalf("echo %d: %q, %v", i, p, err)
		}
	}
	if err := wsutil.WriteClientText(c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err := wsutil.ReadServerText(c)
	var ce wsutil.ClosedError
	if !errors.As(err, &ce) || ce.Code != 4321 {
		t.Fatalf("third read: %v, want close 4321", err)
	}
	waitStat(t, s, "client_close_4321", 1)
	st := s.Stats()
	if st["messages_in"] != 3 || st["messages_out"] != 2 || st["close_sent_4321"] != 1 || st["connections_total"] != 1 {
		t.Fatalf("stats %v", st)
	}
}

func TestHostileFrameIsSentVerbatim(t *testing.T) {
	s := start(t)
	c := dial(t, s.URL()+"/echo?fault=frame&frame=close_one_byte&push=1ms")
	got := make([]byte, 3)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if want := Frames["close_one_byte"].Head; string(got) != string(want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}

func TestDropEveryNth(t *testing.T) {
	s := start(t)
	c := dial(t, s.URL()+"/echo?drop=3")
	for i := range 6 {
		if err := wsutil.WriteClientBinary(c, binary.BigEndian.AppendUint32(nil, uint32(i))); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint32
	for range 4 {
		p, err := wsutil.ReadServerBinary(c)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, binary.BigEndian.Uint32(p))
	}
	// Messages 3 and 6 (1-based) are the dropped ones.
	if want := []uint32{0, 1, 3, 4}; len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("echoed %v, want %v", got, want)
	}
	waitStat(t, s, "messages_in", 6)
	if st := s.Stats(); st["dropped"] != 2 || st["messages_in"] != 6 || st["messages_out"] != 4 {
		t.Fatalf("stats %v", st)
	}
}

func TestBadQueryIsRefused(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, _, err := ws.Dial(ctx, s.URL()+"/echo?fault=frame&frame=nope")
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != 400 {
		t.Fatalf("dial: %v, want 400", err)
	}
}

// The child process serves, survives SIGSTOP/SIGCONT, and restarts on the
// port it had after SIGKILL.
func TestProcessKillAndRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := StartProcess(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := p.Addr()
	c := dial(t, "ws://"+addr+"/echo")
	if err := syscall.Kill(p.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := wsutil.WriteClientText(c, []byte("held")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if m, err := wsutil.ReadServerText(c); err != nil || string(m) != "held" {
		t.Fatalf("after SIGCONT: %q, %v", m, err)
	}
	_ = p.Stop(syscall.SIGKILL, 5*time.Second)
	if _, err := wsutil.ReadServerText(c); err == nil {
		t.Fatal("read from a killed server succeeded")
	}
	p2, err := StartProcess(ctx, addr)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	defer p2.Stop(syscall.SIGTERM, 5*time.Second)
	if p2.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", p2.Addr(), addr)
	}
	c2 := dial(t, "ws://"+addr+"/echo")
	if err := wsutil.WriteClientText(c2, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if m, err := wsutil.ReadServerText(c2); err != nil || string(m) != "again" {
		t.Fatalf("after restart: %q, %v", m, err)
	}
}

// after_ms commits the fault on time, without any traffic.
func TestFaultAfterTime(t *testing.T) {
	s := start(t)
	c := dial(t, s.URL()+"/echo?fault=reset&after=1000&after_ms=50")
	_, err := wsutil.ReadServerText(c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v, want a reset", err)
	}
	if s.Stat("reset") != 1 {
		t.Fatalf("stats %v", s.Stats())
	}
}
