package prometheus

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wsbench/wsbench/metrics"
)

// written is one decoded remote-write request.
type written struct {
	samples  []string         // "name{labels} value", labels sorted, as scrape gives them
	times    map[int64]bool   // the samples' timestamps
	metadata map[string]int64 // family name: type
}

// fields splits a protobuf message into its fields, failing on anything
// malformed.
func fields(t *testing.T, b []byte) (out []struct {
	num protowire.Number
	typ protowire.Type
	raw []byte
	v   uint64
}) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		f := struct {
			num protowire.Number
			typ protowire.Type
			raw []byte
			v   uint64
		}{num: num, typ: typ}
		switch typ {
		case protowire.BytesType:
			f.raw, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(b)
		default:
			t.Fatalf("unexpected wire type %v", typ)
		}
		if n < 0 {
			t.Fatalf("bad field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		out = append(out, f)
	}
	return out
}

// decodeWrite decodes a remote-write 1.0 request as the spec defines it.
func decodeWrite(t *testing.T, body []byte) written {
	t.Helper()
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatalf("snappy: %v", err)
	}
	w := written{times: map[int64]bool{}, metadata: map[string]int64{}}
	for _, f := range fields(t, raw) {
		switch f.num {
		case 1: // timeseries
			var name string
			var labels []string
			var prev string
			for _, sf := range fields(t, f.raw) {
				switch sf.num {
				case 1: // label
					var ln, lv string
					for _, lf := range fields(t, sf.raw) {
						if lf.num == 1 {
							ln = string(lf.raw)
						} else {
							lv = string(lf.raw)
						}
					}
					if ln <= prev {
						t.Fatalf("labels not sorted: %q after %q", ln, prev)
					}
					prev = ln
					if ln == "__name__" {
						name = lv
					} else {
						labels = append(labels, ln+"="+strconv.Quote(lv))
					}
				case 2: // sample
					var v float64
					var ts int64
					for _, xf := range fields(t, sf.raw) {
						if xf.num == 1 {
							v = math.Float64frombits(xf.v)
						} else {
							ts = int64(xf.v)
						}
					}
					sort.Strings(labels)
					w.samples = append(w.samples, fmt.Sprintf("%s{%s} %g", name, strings.Join(labels, ","), v))
					w.times[ts] = true
				}
			}
		case 3: // metadata
			var typ int64
			var fam string
			for _, mf := range fields(t, f.raw) {
				switch mf.num {
				case 1:
					typ = int64(mf.v)
				case 2:
					fam = string(mf.raw)
				}
			}
			w.metadata[fam] = typ
		}
	}
	sort.Strings(w.samples)
	return w
}

// receiver is a remote-write server on loopback that keeps what it gets;
// answer decides each response (nil: 204).
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	got    []written
	answer func(n int) int // by request number, from 1
	url    string
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{t: t, answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Content-Encoding") != "snappy" || req.Header.Get("Content-Type") != "application/x-protobuf" ||
			req.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
			t.Errorf("headers %v", req.Header)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Error(err)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, decodeWrite(t, body))
		n := len(r.got)
		r.mu.Unlock()
		code := http.StatusNoContent
		if r.answer != nil {
			code = r.answer(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/api/v1/write"
	return r
}

func (r *receiver) requests() []written {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// TestRemoteWriteIsTheScrape: what a remote write pushes after an interval
// is what a scrape then shows, sample for sample, at the interval's end.
func TestRemoteWriteIsTheScrape(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e, err := New(Options{Scenario: "s", Labels: map[string]string{"run": "7"}, Target: "builtin"})
	if err != nil {
		t.Fatal(err)
	}
	url, err := e.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.RemoteWrite(rcv.url); err != nil {
		t.Fatal(err)
	}
	start := time.UnixMilli(1_700_000_000_000)
	e.Start(start)
	names := []string{"rtt", "connect"}
	for k := int64(1); k <= 3; k++ {
		if err := e.Interval(fullInterval(k, names), nil); err != nil {
			t.Fatal(err)
		}
	}
	scraped := scrape(t, url)
	if notes := e.Finish(context.Background(), 0, time.Minute); len(notes) != 0 {
		t.Fatalf("notes: %v", notes)
	}
	got := rcv.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want one per interval", len(got))
	}
	for i, w := range got {
		if want := start.Add(time.Duration(i+1) * time.Second).UnixMilli(); len(w.times) != 1 || !w.times[want] {
			t.Errorf("request %d: timestamps %v, want the interval's end %d", i+1, w.times, want)
		}
	}
	last := got[2]
	if !slices.Equal(last.samples, scraped) {
		t.Errorf("the last write and the scrape differ:\nwrite:\n%s\nscrape:\n%s", strings.Join(last.samples, "\n"), strings.Join(scraped, "\n"))
	}
	for fam, typ := range map[string]int64{CounterName("messages_sent"): 1, Prefix + "open_connections": 2, HistogramName("rtt"): 3} {
		if last.metadata[fam] != typ {
			t.Errorf("metadata of %s: type %d, want %d", fam, last.metadata[fam], typ)
		}
	}
}

// TestRemoteWriteSlowServer: a server that does not answer never delays
// Interval; the queue keeps the newest QueueLen intervals and counts the
// ones it dropped, and they are sent once the server answers.
func TestRemoteWriteSlowServer(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	rcv := newReceiver(t, func(n int) int {
		if n == 1 {
			arrived <- struct{}{}
			<-release
		}
		return http.StatusNoContent
	})
	e, _ := New(Options{Scenario: "s"})
	if err := e.RemoteWrite(rcv.url); err != nil {
		t.Fatal(err)
	}
	if err := e.Interval(fullInterval(1, []string{"rtt"}), nil); err != nil {
		t.Fatal(err)
	}
	<-arrived // the first write is in flight and stays there
	extra := 15
	total := 1 + QueueLen + extra
	for k := int64(2); k <= int64(total); k++ {
		if err := e.Interval(fullInterval(k, []string{"rtt"}), nil); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	notes := e.Finish(context.Background(), 0, time.Minute)
	want := fmt.Sprintf("%d of %d intervals written (%d dropped from the full queue)", 1+QueueLen, total, extra)
	if len(notes) != 1 || !strings.Contains(notes[0], want) {
		t.Fatalf("notes %q, want one saying %q", notes, want)
	}
	got := rcv.requests()
	if len(got) != 1+QueueLen {
		t.Fatalf("%d requests, want %d", len(got), 1+QueueLen)
	}
	// The oldest were dropped: the second request is interval 2+extra, and
	// the last one has the run's final count.
	// fullInterval(k) counts k × (its place in CounterList) messages sent.
	m := slices.IndexFunc(metrics.CounterList(), func(c metrics.Counter) bool { return c.Name == "messages_sent" }) + 1
	final := fmt.Sprintf(`wsbench_messages_sent_total{scenario="s"} %d`, m*total*(total+1)/2)
	if !slices.Contains(got[len(got)-1].samples, final) {
		t.Errorf("the last write lacks %q", final)
	}
	second := fmt.Sprintf(`wsbench_messages_sent_total{scenario="s"} %d`, m*(2+extra)*(3+extra)/2)
	if !slices.Contains(got[1].samples, second) {
		t.Errorf("the second write lacks %q: the oldest were not the ones dropped", second)
	}
}

func TestRemoteWriteRefusedAndRetried(t *testing.T) {
	t.Parallel()
	// Request 1 is refused (400: not retried), request 2 fails once with a
	// 503 and is retried as request 3.
	rcv := newReceiver(t, func(n int) int {
		switch n {
		case 1:
			return http.StatusBadRequest
		case 2:
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	var logged []string
	var mu sync.Mutex
	e, _ := New(Options{Scenario: "s", Logf: func(f string, a ...any) {
		mu.Lock()
		logged = append(logged, fmt.Sprintf(f, a...))
		mu.Unlock()
	}})
	if err := e.RemoteWrite(rcv.url); err != nil {
		t.Fatal(err)
	}
	for k := int64(1); k <= 2; k++ {
		// Each interval waits for the previous one's fate, so the request
		// numbers above are the intervals'.
		if err := e.Interval(fullInterval(k, []string{"rtt"}), nil); err != nil {
			t.Fatal(err)
		}
		for len(rcv.requests()) < int(k) {
			time.Sleep(time.Millisecond)
		}
	}
	notes := e.Finish(context.Background(), 0, time.Minute)
	want := "1 of 2 intervals written (1 refused by the server); 2 attempts failed, the last: server answered 503"
	if len(notes) != 1 || !strings.Contains(notes[0], want) {
		t.Fatalf("notes %q, want %q", notes, want)
	}
	if n := len(rcv.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	// Logging is rate-limited: the first problem only.
	if len(logged) != 1 || !strings.Contains(logged[0], "400") {
		t.Errorf("logged %q, want the first problem only", logged)
	}
}

// TestRemoteWriteServerDown: nothing listens; Finish gives up after its
// flush time and says so, and the URL's password is never shown.
func TestRemoteWriteServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logged []string
	var mu sync.Mutex
	e, _ := New(Options{Scenario: "s", Logf: func(f string, a ...any) {
		mu.Lock()
		logged = append(logged, fmt.Sprintf(f, a...))
		mu.Unlock()
	}})
	if err := e.RemoteWrite("http://user:hunter2@" + addr + "/api/v1/write"); err != nil {
		t.Fatal(err)
	}
	for k := int64(1); k <= 3; k++ {
		if err := e.Interval(fullInterval(k, []string{"rtt"}), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Once a write has failed, give up on the rest at once.
	w := e.writers[0]
	for failed := 0; failed == 0; time.Sleep(time.Millisecond) {
		w.mu.Lock()
		failed = w.failures
		w.mu.Unlock()
	}
	notes := e.Finish(context.Background(), 0, time.Millisecond)
	if len(notes) != 1 || !strings.Contains(notes[0], "0 of 3 intervals written (3 still unsent at the end)") || !strings.Contains(notes[0], "refused") {
		t.Fatalf("notes %q", notes)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range append(notes, logged...) {
		if strings.Contains(s, "hunter2") {
			t.Errorf("the password shows: %q", s)
		}
	}
}

func TestCheckRemoteWriteURL(t *testing.T) {
	t.Parallel()
	for u, ok := range map[string]bool{
		"http://127.0.0.1:9090/api/v1/write": true, "https://u:p@example.com/push": true,
		"127.0.0.1:9090": false, "ftp://x/y": false, "http://": false, "http://[::1": false,
	} {
		if err := CheckRemoteWriteURL(u); (err == nil) != ok {
			t.Errorf("CheckRemoteWriteURL(%q) = %v, want ok %v", u, err, ok)
		}
	}
}

// TestRemoteWriteSeveralRuns: a capacity search gives the exporter one run
// after another; the values add up and every series goes forward in time,
// even when an interval ends before the previous one (a coordinator's
// short last interval).
func TestRemoteWriteSeveralRuns(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	e, _ := New(Options{Scenario: "s"})
	if err := e.RemoteWrite(rcv.url); err != nil {
		t.Fatal(err)
	}
	run1 := time.UnixMilli(1_700_000_000_000)
	e.Start(run1)
	_ = e.Interval(fullInterval(1, []string{"rtt"}), nil)
	short := fullInterval(1, []string{"rtt"})
	short.Start, short.End = time.Second, time.Second-100*time.Millisecond
	_ = e.Interval(short, nil)
	e.Close(nil)
	e.Start(run1.Add(time.Minute))
	_ = e.Interval(fullInterval(1, []string{"rtt"}), nil)
	e.Close(nil)
	if notes := e.Finish(context.Background(), 0, time.Minute); len(notes) != 0 {
		t.Fatal(notes)
	}
	got := rcv.requests()
	var times []int64
	for _, w := range got {
		for ts := range w.times {
			times = append(times, ts)
		}
	}
	want := []int64{run1.UnixMilli() + 1000, run1.UnixMilli() + 1001, run1.UnixMilli() + 61_000}
	if !slices.Equal(times, want) {
		t.Errorf("timestamps %v, want %v", times, want)
	}
	m := slices.IndexFunc(metrics.CounterList(), func(c metrics.Counter) bool { return c.Name == "messages_sent" }) + 1
	if final := fmt.Sprintf(`wsbench_messages_sent_total{scenario="s"} %d`, 3*m); !slices.Contains(got[2].samples, final) {
		t.Errorf("the last write lacks %q", final)
	}
}
