package prometheus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wsbench/wsbench/report"
)

// Remote-write settings. The queue holds whole intervals: each carries the
// run's cumulative values, so dropping one loses a point of the time
// series, never a count.
const (
	// QueueLen is how many intervals a remote write holds while its server
	// is slow or down; past it the oldest is dropped (and counted).
	QueueLen = 120
	// requestTimeout bounds one write request.
	requestTimeout = 10 * time.Second
	// backoffMin and backoffMax bound the wait before a retry.
	backoffMin, backoffMax = 250 * time.Millisecond, 5 * time.Second
	// logEvery is the least time between two logged write problems.
	logEvery = 30 * time.Second
)

// CheckRemoteWriteURL returns an error if u cannot be a remote-write URL.
func CheckRemoteWriteURL(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, password included
		}
		return fmt.Errorf("remote-write URL: want http:// or https://HOST/PATH: %w", err)
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Errorf("remote-write URL %q: want http:// or https://HOST/PATH", p.Redacted())
	case p.Host == "":
		return fmt.Errorf("remote-write URL %q: no host", p.Redacted())
	}
	return nil
}

// RemoteWrite makes the exporter push the values of every interval to u,
// a Prometheus remote-write 1.0 receiver (Prometheus with
// --web.enable-remote-write-receiver: http://HOST:9090/api/v1/write; Mimir,
// Thanos, VictoriaMetrics, Grafana Cloud), timestamped with the interval's
// end. User info in u is sent as basic authentication and never printed.
// Writes are sent in order by their own goroutine; a write that fails for
// a reason that may pass (the network, a 5xx or 429 answer) is retried
// with backoff while later intervals wait in a queue of QueueLen, and
// one the server refuses (another 4xx) is dropped. Problems are logged at
// most every 30 s and summed up by Finish.
func (e *Exporter) RemoteWrite(u string) error {
	if err := CheckRemoteWriteURL(u); err != nil {
		return err
	}
	p, _ := url.Parse(u)
	ctx, cancel := context.WithCancel(context.Background())
	w := &remoteWriter{
		url: u, name: p.Redacted(), client: &http.Client{}, logf: e.logf,
		wake: make(chan struct{}, 1), done: make(chan struct{}), cancel: cancel,
	}
	go w.run(ctx)
	e.writers = append(e.writers, w)
	return nil
}

// remoteWriter sends one destination's queue of write requests.
type remoteWriter struct {
	url, name string // name: the URL without its password, for messages
	client    *http.Client
	logf      func(string, ...any)
	wake      chan struct{}
	done      chan struct{}
	cancel    context.CancelFunc

	mu       sync.Mutex
	queue    [][]byte // encoded, compressed requests, oldest first
	draining bool     // finish: send what is queued, then stop
	// Intervals by fate, and failed attempts.
	queued, sent, refused, dropped, unsent, failures int
	lastErr                                          string
	lastLog                                          time.Time
	unlogged                                         int
}

func (w *remoteWriter) enqueue(req []byte) {
	w.mu.Lock()
	w.queued++
	if len(w.queue) >= QueueLen {
		w.queue = slices.Delete(w.queue, 0, 1)
		w.dropped++
		w.logLocked("queue full (the server is slow or down): dropped the oldest interval")
	}
	w.queue = append(w.queue, req)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// logLocked logs a problem, at most one line every logEvery.
func (w *remoteWriter) logLocked(format string, args ...any) {
	now := time.Now()
	if !w.lastLog.IsZero() && now.Sub(w.lastLog) < logEvery {
		w.unlogged++
		return
	}
	more := ""
	if w.unlogged > 0 {
		more = fmt.Sprintf(" (and %d more problems since the last message)", w.unlogged)
	}
	w.lastLog, w.unlogged = now, 0
	w.logf("prometheus-rw %s: %s%s", w.name, fmt.Sprintf(format, args...), more)
}

// next waits for the oldest queued request; false when the queue is
// drained at finish or ctx is done.
func (w *remoteWriter) next(ctx context.Context) ([]byte, bool) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			req := w.queue[0]
			w.queue = slices.Delete(w.queue, 0, 1)
			w.mu.Unlock()
			return req, true
		}
		draining := w.draining
		w.mu.Unlock()
		if draining {
			return nil, false
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (w *remoteWriter) run(ctx context.Context) {
	defer close(w.done)
	for {
		req, ok := w.next(ctx)
		if !ok {
			return
		}
		wait := backoffMin
		for {
			err, retry := w.post(ctx, req)
			w.mu.Lock()
			if err == nil {
				w.sent++
				w.mu.Unlock()
				break
			}
			if ctx.Err() != nil {
				w.unsent++
				w.mu.Unlock()
				return
			}
			w.failures++
			w.lastErr = err.Error()
			if !retry {
				w.refused++
				w.logLocked("%v (not retried)", err)
				w.mu.Unlock()
				break
			}
			w.logLocked("%v (retrying)", err)
			w.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				w.mu.Lock()
				w.unsent++
				w.mu.Unlock()
				return
			}
			wait = min(2*wait, backoffMax)
		}
	}
}

// post sends one request; retry says whether a failure may pass.
func (w *remoteWriter) post(ctx context.Context, body []byte) (err error, retry bool) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err, false
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("User-Agent", "wsbench/"+report.Version)
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, password included
		}
		return err, true
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil, false
	}
	err = fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	return err, resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusTooManyRequests
}

// finish sends what is queued for at most flush (or until ctx is done),
// stops, and sums up the problems, if any.
func (w *remoteWriter) finish(ctx context.Context, flush time.Duration) string {
	w.mu.Lock()
	w.draining = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(flush)
	select {
	case <-w.done:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unsent += len(w.queue)
	w.queue = nil
	if w.sent == w.queued && w.failures == 0 {
		return ""
	}
	s := fmt.Sprintf("prometheus-rw %s: %d of %d intervals written", w.name, w.sent, w.queued)
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{w.refused, "refused by the server"}, {w.dropped, "dropped from the full queue"}, {w.unsent, "still unsent at the end"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	if w.failures > 0 {
		s += fmt.Sprintf("; %d attempts failed, the last: %s", w.failures, w.lastErr)
	}
	return s
}

// Remote write 1.0's protobuf messages (prometheus/prompb, remote.proto and
// types.proto), by field number. The format is frozen; encoding these few
// fields here spares wsbench the prometheus/prometheus module.
const (
	fieldTimeseries = 1 // WriteRequest.timeseries
	fieldMetadata   = 3 // WriteRequest.metadata
	fieldLabels     = 1 // TimeSeries.labels
	fieldSamples    = 2 // TimeSeries.samples
	fieldName       = 1 // Label.name
	fieldValue      = 2 // Label.value
	fieldSampleVal  = 1 // Sample.value
	fieldSampleTS   = 2 // Sample.timestamp
	fieldMetaType   = 1 // MetricMetadata.type
	fieldMetaFamily = 2 // MetricMetadata.metric_family_name
	fieldMetaHelp   = 4 // MetricMetadata.help
)

// MetricMetadata.MetricType.
var metaTypes = map[dto.MetricType]uint64{
	dto.MetricType_COUNTER:   1,
	dto.MetricType_GAUGE:     2,
	dto.MetricType_HISTOGRAM: 3,
	dto.MetricType_SUMMARY:   5,
}

type label struct{ name, value string }

// encodeWriteRequest returns the snappy-compressed remote-write request
// of fams at timestamp ts (ms): the same series a scrape of them gives
// (histograms as _bucket with le, _sum and _count), with their metadata.
func encodeWriteRequest(fams []*dto.MetricFamily, ts int64) []byte {
	var enc writeEncoder
	for _, f := range fams {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			enc.labels = enc.labels[:0]
			for _, lp := range m.GetLabel() {
				enc.labels = append(enc.labels, label{lp.GetName(), lp.GetValue()})
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				enc.series(name, "", m.GetCounter().GetValue(), ts)
			case dto.MetricType_GAUGE:
				enc.series(name, "", m.GetGauge().GetValue(), ts)
			case dto.MetricType_UNTYPED:
				enc.series(name, "", m.GetUntyped().GetValue(), ts)
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					enc.series(name+"_bucket", formatLE(b.GetUpperBound()), float64(b.GetCumulativeCount()), ts)
				}
				enc.series(name+"_bucket", "+Inf", float64(h.GetSampleCount()), ts)
				enc.series(name+"_sum", "", h.GetSampleSum(), ts)
				enc.series(name+"_count", "", float64(h.GetSampleCount()), ts)
			}
		}
		if t, ok := metaTypes[f.GetType()]; ok {
			mb := enc.scratch[:0]
			mb = protowire.AppendTag(mb, fieldMetaType, protowire.VarintType)
			mb = protowire.AppendVarint(mb, t)
			mb = protowire.AppendTag(mb, fieldMetaFamily, protowire.BytesType)
			mb = protowire.AppendString(mb, name)
			mb = protowire.AppendTag(mb, fieldMetaHelp, protowire.BytesType)
			mb = protowire.AppendString(mb, f.GetHelp())
			enc.buf = protowire.AppendTag(enc.buf, fieldMetadata, protowire.BytesType)
			enc.buf = protowire.AppendBytes(enc.buf, mb)
			enc.scratch = mb
		}
	}
	return snappy.Encode(nil, enc.buf)
}

// writeEncoder builds a WriteRequest, reusing its scratch space from one
// series to the next.
type writeEncoder struct {
	buf     []byte  // the request
	cur     []byte  // the series being encoded
	scratch []byte  // a label or sample being encoded
	labels  []label // the metric's own labels
	sorted  []label
}

// series appends one series with one sample: name, the metric's labels
// and le if not empty, sorted by name as the protocol requires.
func (e *writeEncoder) series(name, le string, v float64, ts int64) {
	ls := append(e.sorted[:0], label{"__name__", name})
	ls = append(ls, e.labels...)
	if le != "" {
		ls = append(ls, label{"le", le})
	}
	slices.SortFunc(ls, func(a, b label) int { return strings.Compare(a.name, b.name) })
	e.sorted = ls
	sb := e.cur[:0]
	for _, l := range ls {
		lb := e.scratch[:0]
		lb = protowire.AppendTag(lb, fieldName, protowire.BytesType)
		lb = protowire.AppendString(lb, l.name)
		lb = protowire.AppendTag(lb, fieldValue, protowire.BytesType)
		lb = protowire.AppendString(lb, l.value)
		sb = protowire.AppendTag(sb, fieldLabels, protowire.BytesType)
		sb = protowire.AppendBytes(sb, lb)
		e.scratch = lb
	}
	smp := e.scratch[:0]
	smp = protowire.AppendTag(smp, fieldSampleVal, protowire.Fixed64Type)
	smp = protowire.AppendFixed64(smp, math.Float64bits(v))
	smp = protowire.AppendTag(smp, fieldSampleTS, protowire.VarintType)
	smp = protowire.AppendVarint(smp, uint64(ts))
	sb = protowire.AppendTag(sb, fieldSamples, protowire.BytesType)
	sb = protowire.AppendBytes(sb, smp)
	e.scratch = smp
	e.buf = protowire.AppendTag(e.buf, fieldTimeseries, protowire.BytesType)
	e.buf = protowire.AppendBytes(e.buf, sb)
	e.cur = sb
}

// formatLE writes a bucket bound as the text exposition does, so that a
// series pushed and the same series scraped have the same le.
func formatLE(b float64) string {
	if math.IsInf(b, +1) {
		return "+Inf"
	}
	return strconv.FormatFloat(b, 'g', -1, 64)
}
