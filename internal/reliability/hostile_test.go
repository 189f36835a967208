package reliability

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/faultserver"
	"github.com/wsbench/wsbench/report"
)

// closeCause is the cause wsbench counts for each close code it fails a
// connection with.
var closeCause = map[int]string{1002: "protocol", 1007: "invalid_utf8", 1009: "message_too_big"}

// healthyFlow runs beside every hostile flow: its exchange must go on,
// unstalled and complete, while the hostile connections fail.
const healthyFlow = `  - name: healthy
    weight: 1
    steps:
      - connect: {path: /echo}
      - echo: {rate: 20, size: 64, metric: healthy}
`

// hostileCases: a listen flow meets each hostile frame as the first thing
// the server sends it, all frames in one run, beside a healthy echo flow.
func hostileCases() []*fcase {
	var cases []*fcase
	for _, name := range faultserver.FrameNames() {
		h := faultserver.Frames[name]
		code, cause := h.Code, closeCause[h.Code]
		cases = append(cases, &fcase{
			name: name, server: h.Doc,
			query: "fault=frame&frame=" + name, kinds: []string{"listen"},
			want: want{exit: 3, end: report.EndCompleted, causes: []string{cause}, eachKind: true, where: fmt.Sprint(code),
				check: func(r *result, c *fcase) error {
					// Every close the client sent after the frame reached
					// the server; each is an error, except where the run's
					// end had stopped the step before the frame arrived.
					closes := r.stat(fmt.Sprintf("frame_%s_then_client_close_%d", name, code))
					if errs := c.errors(r.n); closes < errs || closes > errs+int64(r.spec.clientCount()) {
						return fmt.Errorf("%d errors; the server received %d closes %d after the frame", errs, closes, code)
					}
					return nil
				}},
		})
	}
	// A 1 MiB message limit: the streams that fill it get there sooner.
	cases = group(&runSpec{extraFlows: healthyFlow, client: map[string]string{"max_message_size": "1MiB"}}, cases...)
	// The healthy connections were not stalled by the hostile ones: every
	// echo they sent came back, none is missing, none erred, and the
	// close codes the client counted are the ones the server received.
	for _, c := range cases {
		c.want.check = all(c.want.check, exactTraffic, func(r *result, _ *fcase) error {
			m := r.rep.Metrics["healthy"]
			if m == nil || m.Count == 0 || m.Count != r.n.MessagesSent || r.n.RepliesMissing != 0 || errorsOf(r.n, "healthy/") != 0 {
				return fmt.Errorf("healthy flow: metric %+v, sent %d, missing %d, errors %d", m, r.n.MessagesSent, r.n.RepliesMissing, errorsOf(r.n, "healthy/"))
			}
			for _, code := range []int{1002, 1007, 1009} {
				if got, want := r.n.ClosesByCode[fmt.Sprint(code)], r.stat(fmt.Sprintf("client_close_%d", code)); got != want {
					return fmt.Errorf("client counted %d closes %d, the server received %d", got, code, want)
				}
			}
			return nil
		})
	}
	return cases
}

// TestHostileFrames runs every hostile frame: one subtest each.
func TestHostileFrames(t *testing.T) { runCases(t, hostileCases()) }

// TestHostileStreamMemory streams the two hostile frames that could make a
// client buffer without end (a header claiming 1 GiB followed by the
// gigabyte, and a fragmented message that never ends, up to 1 GiB) at a
// client with a 4 MiB message limit, and samples the heap meanwhile. The
// client must refuse each stream, and the heap's peak stay within 32 MiB of
// the peak of the same run against a healthy server, where a client that
// believed the header or kept the fragments would go on reading, and
// growing, by hundreds of megabytes. It runs alone, so the heap is its
// runs'.
func TestHostileStreamMemory(t *testing.T) {
	const limit = 32 << 20
	spec := func() *runSpec {
		return &runSpec{clients: 1, dur: 2 * time.Second, client: map[string]string{"max_message_size": "4MiB"}}
	}
	control := single(&fcase{name: "control", kinds: []string{"listen"}}, spec())
	base, r := peakHeap(control)
	if r.rep == nil || r.n.Errors() != 0 {
		t.Fatalf("control run: %v, errors %v", r.err, r.n.ErrorsByCause)
	}
	t.Logf("healthy server: heap peak %d MiB", base>>20)
	for _, name := range []string{"huge_header", "endless_fragments"} {
		t.Run(name, func(t *testing.T) {
			c := single(&fcase{name: name, query: "fault=frame&frame=" + name, kinds: []string{"listen"}}, spec())
			peak, r := peakHeap(c)
			if r.rep == nil {
				t.Fatalf("no report: %v", r.err)
			}
			t.Logf("heap peak %d MiB; the server streamed %d MiB; errors %v", peak>>20, r.stat("bytes_out")>>20, r.n.ErrorsByCause)
			if want := closeCause[faultserver.Frames[name].Code]; r.n.ErrorsByCause[want] == 0 {
				t.Errorf("errors %v, want %s", r.n.ErrorsByCause, want)
			}
			if grew := int64(peak) - int64(base); grew > limit {
				t.Errorf("the heap peaked %d MiB above the healthy run's while the server streamed, more than %d MiB", grew>>20, limit>>20)
			}
		})
	}
}

// peakHeap runs c's run and returns the highest HeapInuse sampled (every
// 5 ms) while it ran.
//
// The collector runs at GOGC=10 meanwhile, so the peak is what the run
// holds, not the garbage the default pacing lets pile up to twice the
// live heap before collecting it: that depends on timing, this should not.
func peakHeap(c *fcase) (uint64, *result) {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	r := c.run.get()
	close(stop)
	wg.Wait()
	return peak, r
}
