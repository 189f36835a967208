// Command delayecho is the independent server of scripts/bench accuracy:
// a WebSocket echo server, written apart from wsbench's reference server
// (net/http upgrade, gobwas/ws's wsutil helpers), that holds every message
// about --hold before echoing it and measures how long it really held it,
// from the moment the message was read to the moment its echo was
// written. The load generator's round trips minus the server's real hold
// is what the generator (and loopback) added.
//
//	delayecho -addr 127.0.0.1:0 -hold 10ms
//
// It prints "LISTENING host:port" when ready, and on GET /hold the
// percentiles (µs) of the real holds so far as JSON.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

var (
	mu    sync.Mutex
	holds []int64 // µs
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	hold := flag.Duration("hold", 10*time.Millisecond, "how long to hold each message")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hold", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		s := slices.Clone(holds)
		mu.Unlock()
		slices.Sort(s)
		q := func(p float64) int64 {
			if len(s) == 0 {
				return 0
			}
			return s[min(len(s)-1, int(p*float64(len(s))))]
		}
		_ = json.NewEncoder(w).Encode(map[string]int64{"count": int64(len(s)), "p50_us": q(0.50), "p90_us": q(0.90), "p99_us": q(0.99), "p999_us": q(0.999), "max_us": q(1)})
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		go serve(conn, *hold)
	})
	fmt.Printf("LISTENING %s\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, mux))
}

// serve echoes each message after holding it. Messages of one connection
// are held one after another only as long as they overlap: each is handed
// to its own timer, so a 10 ms hold does not cap a connection at 100 msg/s.
func serve(conn net.Conn, hold time.Duration) {
	defer conn.Close()
	var wmu sync.Mutex
	for {
		msg, op, err := wsutil.ReadClientData(conn)
		if err != nil {
			return
		}
		got := time.Now()
		time.AfterFunc(hold, func() {
			wmu.Lock()
			err := wsutil.WriteServerMessage(conn, op, msg)
			wmu.Unlock()
			if err == nil {
				us := time.Since(got).Microseconds()
				mu.Lock()
				holds = append(holds, us)
				mu.Unlock()
			}
		})
	}
}
