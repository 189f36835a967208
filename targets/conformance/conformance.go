package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The contract's defaults for a target's settings, which the reference
// server (wsbench serve) and every target use when not told otherwise.
// DefaultMaxMessageSize is used when Options.MaxMessageSize is zero; a
// zero PingInterval means pings are off, so callers checking a target
// started with its defaults pass DefaultPingInterval and
// DefaultPingTimeout themselves (the ping checks then skip: 20 s is too
// long for a quick check).
const (
	DefaultMaxMessageSize = 1 << 20
	DefaultPingInterval   = 20 * time.Second
	DefaultPingTimeout    = 20 * time.Second
)

// DefaultPingSlack is Options.PingSlack when it is zero.
const DefaultPingSlack = 300 * time.Millisecond

// DefaultCheckTimeout bounds each check when Options.CheckTimeout is zero.
const DefaultCheckTimeout = 10 * time.Second

// Options describes how the target under test was started and how to run
// the checks.
type Options struct {
	// MaxMessageSize is the target's --max-message-size in bytes; zero means
	// the contract default (DefaultMaxMessageSize).
	MaxMessageSize int64
	// PingInterval and PingTimeout are the target's --ping-interval and
	// --ping-timeout. A zero PingInterval (pings disabled) skips the server
	// ping checks, and so do settings too long for a quick check.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// PingSlack is how late a server ping or its timeout may come beyond
	// what the settings allow (event loops batch timers); zero means
	// DefaultPingSlack. A busy machine (a shared CI runner) needs more.
	PingSlack time.Duration
	// Shutdown, when not nil, makes the target shut down (for example by
	// sending it SIGTERM and waiting for it to exit) and reports whether it
	// did so cleanly. The shutdown check runs last; nil skips it.
	Shutdown func() error
	// CheckTimeout bounds each check; zero means DefaultCheckTimeout.
	CheckTimeout time.Duration
	// Only, when not empty, runs just the checks whose names equal one of
	// its entries or start with an entry followed by "/" (so "ping" selects
	// "ping/server", "ping/timeout" and "ping/client").
	Only []string
}

// Status is the outcome of one check.
type Status int

// The outcomes of a check.
const (
	Pass Status = iota
	Fail
	Skip
)

// String returns "PASS", "FAIL" or "SKIP".
func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of one named check.
type Result struct {
	Name    string
	Status  Status
	Detail  string // what was measured, or why it failed or was skipped
	Elapsed time.Duration
	// Hint, for a failed check that depends on the target's settings,
	// names them with the values the check assumed: the usual cause of
	// such a failure is a target started with other settings.
	Hint string
}

// Report lists the results of Check in the order the checks ran.
type Report struct {
	URL     string
	Results []Result
}

// Passed reports whether no check failed (skipped checks do not count).
func (r Report) Passed() bool { return len(r.Failures()) == 0 }

// Failures returns the failed checks.
func (r Report) Failures() []Result {
	var failed []Result
	for _, res := range r.Results {
		if res.Status == Fail {
			failed = append(failed, res)
		}
	}
	return failed
}

// String renders the report as one line per check and a summary line.
func (r Report) String() string {
	var b strings.Builder
	counts := map[Status]int{}
	for _, res := range r.Results {
		counts[res.Status]++
		fmt.Fprintf(&b, "%s %-14s %7s", res.Status, res.Name, res.Elapsed.Round(time.Millisecond))
		if res.Detail != "" {
			fmt.Fprintf(&b, "  %s", res.Detail)
		}
		b.WriteByte('\n')
		if res.Hint != "" {
			fmt.Fprintf(&b, "     hint: %s\n", res.Hint)
		}
	}
	fmt.Fprintf(&b, "%s: %d passed, %d failed, %d skipped\n", r.URL, counts[Pass], counts[Fail], counts[Skip])
	return b.String()
}

// skipError marks a check as skipped rather than failed.
type skipError struct{ reason string }

func (e skipError) Error() string { return e.reason }

func skipf(format string, args ...any) error { return skipError{fmt.Sprintf(format, args...)} }

// target is what every check gets: where the server is and how it was
// started.
type target struct {
	wsURL   string // ws://host:port, no trailing slash
	httpURL string // http://host:port
	opts    Options
	http    *http.Client
}

// check is one clause of the contract. It returns a short description of
// what it measured, or an error saying what was wrong.
type check struct {
	name string
	run  func(ctx context.Context, t *target) (string, error)
	// depends lists the target settings the check assumes (setting*).
	depends []setting
}

// setting is one of the target's settings in the contract.
type setting int

const (
	settingMaxMessageSize setting = iota
	settingPingInterval
	settingPingTimeout
)

// flag names the setting as the contract's command line (and wsbench
// conform) spell it, with the value the check assumed.
func (s setting) flag(o Options) string {
	switch s {
	case settingMaxMessageSize:
		return fmt.Sprintf("--max-message-size %d", o.MaxMessageSize)
	case settingPingInterval:
		return fmt.Sprintf("--ping-interval %s", o.PingInterval)
	case settingPingTimeout:
		return fmt.Sprintf("--ping-timeout %s", o.PingTimeout)
	}
	return fmt.Sprintf("setting(%d)", int(s))
}

// hint says which settings a failed check assumed.
func (c check) hint(o Options) string {
	if len(c.depends) == 0 {
		return ""
	}
	var flags []string
	for _, s := range c.depends {
		flags = append(flags, s.flag(o))
	}
	return fmt.Sprintf("this check assumes the target runs with %s; if it was started with other values, pass them to the check (wsbench conform takes the same flags)", strings.Join(flags, " "))
}

// checks lists every check in the order Check runs them. The stats check
// runs early, while no earlier connection can still be closing, and the
// shutdown check runs last because it ends the server.
var checks = []check{
	{name: "healthz", run: checkHealthz},
	{name: "stats", run: checkStats},
	{name: "echo/text", run: checkEchoText, depends: []setting{settingMaxMessageSize}},
	{name: "echo/binary", run: checkEchoBinary, depends: []setting{settingMaxMessageSize}},
	{name: "echo/order", run: checkEchoOrder},
	{name: "close/echo", run: checkCloseEcho},
	{name: "ping/client", run: checkClientPing},
	{name: "limit/1009", run: checkTooBig, depends: []setting{settingMaxMessageSize}},
	{name: "utf8/1007", run: checkBadUTF8},
	{name: "broadcast", run: checkBroadcast},
	{name: "push", run: checkPush},
	{name: "push/sizes", run: checkPushSizes},
	{name: "ping/server", run: checkServerPing, depends: []setting{settingPingInterval, settingPingTimeout}},
	{name: "ping/timeout", run: checkPingTimeout, depends: []setting{settingPingInterval, settingPingTimeout}},
	{name: "shutdown/1001", run: checkShutdown},
}

// CheckNames returns the names of all checks in the order Check runs them.
func CheckNames() []string {
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.name
	}
	return names
}

// Check runs the conformance checks against the target at baseURL (for
// example "ws://127.0.0.1:8765"; the HTTP endpoints are reached through the
// matching http:// URL). Each check is bounded by opts.CheckTimeout, and all
// of them by ctx: once ctx is done the remaining checks fail quickly.
func Check(ctx context.Context, baseURL string, opts Options) Report {
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	baseURL = strings.TrimRight(baseURL, "/")
	report := Report{URL: baseURL}
	t := &target{wsURL: baseURL, opts: opts, http: &http.Client{Timeout: opts.CheckTimeout}}
	switch {
	case strings.HasPrefix(baseURL, "ws://"):
		t.httpURL = "http://" + strings.TrimPrefix(baseURL, "ws://")
	case strings.HasPrefix(baseURL, "wss://"):
		t.httpURL = "https://" + strings.TrimPrefix(baseURL, "wss://")
	default:
		report.Results = append(report.Results, Result{
			Name: "url", Status: Fail,
			Detail: fmt.Sprintf("base URL %q: want ws://HOST:PORT or wss://HOST:PORT", baseURL),
		})
		return report
	}
	defer t.http.CloseIdleConnections()

	for _, c := range checks {
		if !selected(c.name, opts.Only) {
			continue
		}
		report.Results = append(report.Results, runCheck(ctx, t, c))
	}
	return report
}

func selected(name string, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if name == o || strings.HasPrefix(name, o+"/") {
			return true
		}
	}
	return false
}

func runCheck(ctx context.Context, t *target, c check) (res Result) {
	res.Name = c.name
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, t.opts.CheckTimeout)
	defer cancel()
	detail, err := c.run(ctx, t)
	res.Elapsed = time.Since(start)
	var skip skipError
	switch {
	case errors.As(err, &skip):
		res.Status, res.Detail = Skip, skip.reason
	case err != nil:
		res.Status, res.Detail = Fail, err.Error()
		if ctx.Err() != nil {
			res.Detail += fmt.Sprintf(" (check timed out after %s)", t.opts.CheckTimeout)
		}
		res.Hint = c.hint(t.opts)
	default:
		res.Status, res.Detail = Pass, detail
	}
	return res
}
