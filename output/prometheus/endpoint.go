package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ListenAddr turns an address as a user gives it into one to listen on:
// a bare port ("9464") or ":port" means the loopback address 127.0.0.1, so
// that a run's numbers are not published to the network by default; a
// host (an address or name, [::] for every interface) is kept.
func ListenAddr(addr string) (string, error) {
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: want PORT, :PORT or HOST:PORT", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && port != "0") {
		return "", fmt.Errorf("address %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// endpoint serves the exporter's registry on /metrics.
type endpoint struct {
	url  string
	srv  *http.Server
	done chan struct{} // closed when Serve has returned
	logf func(string, ...any)

	mu        sync.Mutex
	finishing bool          // set by finish: later scrapes fetch the final values
	scraped   chan struct{} // closed by the first such scrape
	once      sync.Once
}

// Listen serves the exported values for Prometheus at
// http://ADDR/metrics (ADDR as ListenAddr resolves it) until Finish, and
// returns that URL. The exposition is client_golang's, in the text format
// (or protobuf when the scraper asks for it); not OpenMetrics, whose
// le labels are written differently from the remote-write series'.
func (e *Exporter) Listen(addr string) (string, error) {
	if e.server != nil {
		return "", errors.New("prometheus exporter: already listening")
	}
	a, err := ListenAddr(addr)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", a)
	if err != nil {
		return "", fmt.Errorf("metrics endpoint: %w", err)
	}
	ep := &endpoint{url: "http://" + ln.Addr().String() + "/metrics", done: make(chan struct{}), scraped: make(chan struct{}), logf: e.logf}
	h := promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{
		ErrorLog:      logger(e.logf),
		ErrorHandling: promhttp.ContinueOnError,
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", ep.counting(h))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "wsbench: the run's metrics are at /metrics")
	})
	ep.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(ep.done)
		if err := ep.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logf("metrics endpoint: %v", err)
		}
	}()
	e.server = ep
	return ep.url, nil
}

// counting wraps the /metrics handler to notice a scrape that started
// after finish: it fetched the final values.
func (ep *endpoint) counting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep.mu.Lock()
		final := ep.finishing
		ep.mu.Unlock()
		h.ServeHTTP(w, r)
		if final {
			ep.once.Do(func() { close(ep.scraped) })
		}
	})
}

// finish waits up to linger for a scrape of the final values, then stops
// the server (letting a scrape in progress complete). It returns a note
// when nothing scraped them.
func (ep *endpoint) finish(ctx context.Context, linger time.Duration) string {
	ep.mu.Lock()
	ep.finishing = true
	ep.mu.Unlock()
	note := ""
	if linger > 0 && ctx.Err() == nil {
		ep.logf("serving the final values at %s until they are scraped (at most %v)", ep.url, linger)
		t := time.NewTimer(linger)
		select {
		case <-ep.scraped:
		case <-ctx.Done():
		case <-t.C:
			note = fmt.Sprintf("metrics endpoint %s: the final values were not scraped within %v", ep.url, linger)
		}
		t.Stop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ep.srv.Shutdown(sctx); err != nil {
		_ = ep.srv.Close()
	}
	<-ep.done
	return note
}

// logger adapts logf to promhttp's error log.
type logger func(string, ...any)

func (l logger) Println(v ...any) { l("metrics endpoint: %s", strings.TrimSpace(fmt.Sprintln(v...))) }
