package engine

import (
	"sync"
	"sync/atomic"
)

// errorExamples keeps the first message of each error cause for the
// report: a cause says what kind of failure it was, the message says
// which ("handshake" against "f/connect#1: dial ws://…: malformed HTTP
// response"). It is bounded, and once a cause has its message, counting
// another error of it costs one lock-free lookup.
type errorExamples struct {
	m sync.Map // cause → message
	n atomic.Int32
}

const (
	maxErrorExamples = 64  // causes with a message; errors_by_cause rarely has a dozen
	maxExampleLen    = 300 // bytes of one message
)

// note keeps the message of err (at step, a label or "") as cause's
// example unless it has one. The message is formatted only then: a
// failing server may produce thousands of errors a second of one cause.
func (e *errorExamples) note(cause, step string, err error) {
	if _, ok := e.m.Load(cause); ok || err == nil || e.n.Load() >= maxErrorExamples {
		return
	}
	msg := err.Error()
	if step != "" {
		msg = step + ": " + msg
	}
	if len(msg) > maxExampleLen {
		msg = msg[:maxExampleLen] + "…"
	}
	if _, loaded := e.m.LoadOrStore(cause, msg); !loaded {
		e.n.Add(1)
	}
}

// snapshot returns the examples kept so far, each passed through mask;
// nil when there are none.
func (e *errorExamples) snapshot(mask func(string) string) map[string]string {
	out := map[string]string{}
	e.m.Range(func(k, v any) bool {
		out[k.(string)] = mask(v.(string))
		return true
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// countError counts an error of cause at step (a label, or "" for none)
// and keeps its message as the cause's example if it is the first.
func (s *session) countError(cause, step string, err error) {
	s.shard.Error(cause, step)
	s.r.examples.note(cause, step, err)
}
