package refserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// benchClient sends a pre-masked frame and reads echoes without
// allocating, so the numbers are dominated by the server and the loopback;
// allocs/op are the server's.
type benchClient struct {
	c     *client
	br    *bufio.Reader
	frame []byte
	buf   []byte
	hdr   [ws.MaxHeaderSize]byte
}

func newBenchClient(b *testing.B, addr string, size int) *benchClient {
	c := dial(b, addr, "/echo")
	c.nc.SetDeadline(time.Time{})
	return &benchClient{
		c:     c,
		br:    bufio.NewReaderSize(c, 64<<10),
		frame: ws.MustCompileFrame(ws.MaskFrame(ws.NewBinaryFrame(make([]byte, size)))),
		buf:   make([]byte, size),
	}
}

func (bc *benchClient) send() error {
	_, err := bc.c.nc.Write(bc.frame)
	return err
}

func (bc *benchClient) recv() error {
	h, err := ws.ReadHeaderBuffer(bc.br, bc.hdr[:])
	if err != nil {
		return err
	}
	if h.OpCode != ws.OpBinary || h.Length != int64(len(bc.buf)) {
		return fmt.Errorf("unexpected %v frame of %d bytes", h.OpCode, h.Length)
	}
	_, err = io.ReadFull(bc.br, bc.buf)
	return err
}

var benchSizes = []int{32, 1024, 16 << 10}

// BenchmarkEcho measures one connection in lockstep: each message waits for
// the previous echo (round-trip bound).
func BenchmarkEcho(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			_, addr := startServer(b, Config{})
			bc := newBenchClient(b, addr, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				err := bc.send()
				if err == nil {
					err = bc.recv()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkEchoParallel measures throughput: GOMAXPROCS*4 connections with
// up to 32 messages in flight each.
func BenchmarkEchoParallel(b *testing.B) {
	const window = 32
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			_, addr := startServer(b, Config{})
			b.SetBytes(int64(size))
			b.SetParallelism(4)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				bc := newBenchClient(b, addr, size)
				inflight := 0
				for pb.Next() {
					err := bc.send()
					inflight++
					for err == nil && inflight >= window {
						err = bc.recv()
						inflight--
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
				for ; inflight > 0; inflight-- {
					err := bc.recv()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkHandshake measures accepting, upgrading and registering one
// connection (dial, 101, close), the cost a connection storm pays per
// connection.
func BenchmarkHandshake(b *testing.B) {
	_, addr := startServer(b, Config{PingInterval: 20 * time.Second})
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		nc, _, _, err := ws.Dial(ctx, "ws://"+addr+"/echo")
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		nc.Close()
	}
}

// BenchmarkBroadcast measures one message fanned out to 100 members of a
// room, until every member has read it.
func BenchmarkBroadcast(b *testing.B) {
	const members = 100
	_, addr := startServer(b, Config{})
	cs := make([]*benchClient, members)
	for i := range cs {
		c := dial(b, addr, "/broadcast?room=bench")
		c.nc.SetDeadline(time.Time{})
		cs[i] = &benchClient{c: c, br: bufio.NewReaderSize(c, 64<<10), buf: make([]byte, 64)}
	}
	frame := ws.MustCompileFrame(ws.MaskFrame(ws.NewBinaryFrame(make([]byte, 64))))
	for b.Loop() {
		if _, err := cs[0].c.nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			if err := c.recv(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
}
