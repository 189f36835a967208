package refserver

import (
	"runtime"
	"time"
)

// job is one echo (conn set) or broadcast (room set) message waiting for the
// ServiceTime worker.
type job struct {
	conn  *conn
	room  *room
	frame []byte
	n     int64
}

// submit hands j to the ServiceTime worker, blocking while its queue is
// full; during shutdown j is dropped.
func (s *Server) submit(j job) {
	select {
	case s.jobs <- j:
	case <-s.quit:
	}
}

// serviceLoop is the single ServiceTime worker. Service of a job starts
// when it arrives or when the previous one finished, whichever is later,
// and takes exactly ServiceTime on the server's monotonic clock, so the
// worker's capacity is exactly 1/ServiceTime jobs per second however late a
// wake-up comes.
func (s *Server) serviceLoop() {
	st := int64(s.cfg.ServiceTime)
	delay := int64(s.cfg.ProcessDelay)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var finish int64
	for {
		var j job
		select {
		case j = <-s.jobs:
		case <-s.quit:
			return
		}
		finish = max(finish, s.now()) + st
		if !s.waitUntil(finish, timer) {
			return
		}
		if j.room != nil {
			s.broadcast(j.room, j.frame, j.n, finish+delay)
		} else {
			j.conn.enqueue(outFrame{frame: j.frame, msgs: 1, n: j.n, due: finish + delay})
			j.conn.flush()
		}
	}
}

// spinWindow is how long before a deadline waitUntil stops sleeping and
// spins: timers wake up to about a millisecond late when the process is
// idle.
const spinWindow = 1500 * time.Microsecond

// waitUntil waits until s.now() >= t. It returns false if the server shuts
// down first.
func (s *Server) waitUntil(t int64, timer *time.Timer) bool {
	for {
		d := time.Duration(t - s.now())
		switch {
		case d <= 0:
			return true
		case d > spinWindow:
			timer.Reset(d - spinWindow)
			select {
			case <-timer.C:
			case <-s.quit:
				return false
			}
		default:
			select {
			case <-s.quit:
				return false
			default:
			}
			runtime.Gosched()
		}
	}
}
