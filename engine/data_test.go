package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// scenarioIn parses src as a file in dir (where its data files are), with
// env as the environment.
func scenarioIn(t *testing.T, dir string, env map[string]string, src string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.ParseWith(filepath.Join(dir, "s.yaml"), []byte(src), scenario.Options{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	if err != nil {
		t.Fatalf("scenario:\n%v", err)
	}
	return sc
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDataRowAssignment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "u.csv"), "n\na\nb\nc\n")
	src := func(order, by string) string {
		return `
target: builtin
clients: 1
duration: 1s
data:
  u: {file: u.csv, order: ` + order + `, by: ` + by + `}
flows:
  - name: uses
    steps: [{connect: {path: "/echo?u={{u.n}}"}}]
  - name: other
    steps: [{sleep: 1s}]
`
	}
	// rowsOf binds sessions of the flow that uses u for the given clients
	// and returns their rows, -1 for a session that found none.
	rowsOf := func(sc *scenario.Scenario, seed uint64, clients ...int64) []int {
		d, err := newDataSet(sc, seed)
		if err != nil {
			t.Fatal(err)
		}
		if rows, err := d.bind(&sc.Flows[1], 1); rows != nil || err != nil {
			t.Fatalf("a flow that uses no data got rows %v, %v", rows, err)
		}
		var out []int
		for _, c := range clients {
			rows, err := d.bind(&sc.Flows[0], c)
			switch {
			case err != nil && strings.HasPrefix(err.Error(), causeDataExhausted):
				out = append(out, -1)
			case err != nil:
				t.Fatal(err)
			default:
				out = append(out, rows[0])
			}
		}
		return out
	}
	tests := []struct {
		order, by string
		clients   []int64
		want      []int
	}{
		{"sequential", "session", []int64{1, 1, 1, 1, 1}, []int{0, 1, 2, 0, 1}},
		{"sequential", "client", []int64{1, 2, 1, 5}, []int{0, 1, 0, 1}},
		{"unique", "session", []int64{1, 1, 1, 1}, []int{0, 1, 2, -1}},
		{"unique", "client", []int64{2, 2, 3, 4}, []int{1, 1, 2, -1}},
	}
	for _, tt := range tests {
		sc := scenarioIn(t, dir, nil, src(tt.order, tt.by))
		if got := rowsOf(sc, 1, tt.clients...); !equalInts(got, tt.want) {
			t.Errorf("%s by %s: rows %v, want %v", tt.order, tt.by, got, tt.want)
		}
	}
	// Random: reproducible with the seed, the same row for the same client.
	sc := scenarioIn(t, dir, nil, src("random", "client"))
	a, b := rowsOf(sc, 7, 1, 2, 3, 1, 2, 3), rowsOf(sc, 7, 1, 2, 3, 1, 2, 3)
	if !equalInts(a, b) || !equalInts(a[:3], a[3:]) {
		t.Errorf("random by client: %v then %v", a, b)
	}
	seen := map[int]bool{}
	for _, r := range rowsOf(scenarioIn(t, dir, nil, src("random", "session")), 7, make([]int64, 200)...) {
		if r < 0 || r > 2 {
			t.Fatalf("row %d out of range", r)
		}
		seen[r] = true
	}
	if len(seen) != 3 {
		t.Errorf("200 random draws of 3 rows hit only %v", seen)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Each session's row reaches the wire through its templates; with order
// unique a client that finds no row left fails with data_exhausted instead
// of running.
func TestDataRowsReachTheServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "users.csv"), "name,password\nalice,pw1\nbob,pw2\n")
	sc := scenarioIn(t, dir, nil, `
target: builtin
clients: 3
duration: 1s
client: {drain: 200ms}
data:
  users: {file: users.csv, order: unique, by: client}
flows:
  - name: login
    steps:
      - connect: {path: /echo}
      - send: {text: "{{users.name}}:{{users.password}}@{{client}}"}
      - expect: {regex: "^(alice:pw1@1|bob:pw2@2)$", timeout: 5s}
      - sleep: 100ms
`)
	rep := run(t, sc)
	c := rep.Counters
	t.Logf("errors %v, sessions started %d completed %d failed %d", c.ErrorsByCause, c.SessionsStarted, c.SessionsCompleted, c.SessionsFailed)
	if c.ErrorsByCause["expect_timeout"] != 0 {
		t.Errorf("a session sent something other than its own row")
	}
	if c.ErrorsByCause[causeDataExhausted] == 0 || c.ErrorsByStep["login/data: "+causeDataExhausted] == 0 {
		t.Errorf("the third client did not run out of rows: %v", c.ErrorsByStep)
	}
	if c.SessionsCompleted < 2 {
		t.Errorf("%d sessions completed, want at least the two with rows", c.SessionsCompleted)
	}
}

// headerServer is an echo server that records the upgrade requests it
// gets, to show what the client really sent.
type headerServer struct {
	mu   sync.Mutex
	seen []string // Authorization header and request URI of each upgrade
}

// start serves h on loopback until the test ends and returns its address.
func (h *headerServer) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

func (h *headerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, r.Header.Get("Authorization")+" "+r.URL.RequestURI())
	h.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/refuse") {
		http.Error(w, "no", http.StatusForbidden)
		return
	}
	conn, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		msg, op, err := wsutil.ReadClientData(conn)
		if err != nil {
			return
		}
		if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
			return
		}
	}
}

// The run uses the real values from the environment; nothing it reports
// or logs shows them, in any format.
func TestSecretsReachTheTargetButNoReport(t *testing.T) {
	t.Parallel()
	const secret = "tok-5ecret-XYZ"
	srv := &headerServer{}
	env := map[string]string{"TOKEN": secret, "TARGET": "ws://" + srv.start(t)}
	sc := scenarioIn(t, t.TempDir(), env, `
name: secrets
target: ${TARGET}
clients: 2
duration: 1s
client: {headers: {Authorization: "Bearer ${TOKEN}"}, drain: 200ms}
thresholds: ["errors == 0"]
flows:
  - name: f
    vars: {token: "${TOKEN}"}
    steps:
      - connect: {path: "/ws?token=${TOKEN}&v={{token}}"}
      - echo: {rate: 5, count: 3}
`)
	var logs bytes.Buffer
	var mu sync.Mutex
	rep, err := Run(context.Background(), sc, Options{Logf: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(f)
		for _, x := range a {
			if s, ok := x.(string); ok {
				logs.WriteString(s)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	seen := strings.Join(srv.seen, "\n")
	srv.mu.Unlock()
	if !strings.Contains(seen, "Bearer "+secret+" /ws?token="+secret+"&v="+secret) {
		t.Fatalf("the server did not get the real values:\n%s", seen)
	}
	if rep.Counters.ConnectsOK == 0 {
		t.Fatal("nothing connected")
	}
	assertNoSecret(t, rep, secret)
	if strings.Contains(logs.String(), secret) {
		t.Errorf("a log line shows the secret:\n%s", logs.String())
	}

	// A run that cannot start says why without the secret.
	closed := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		defer l.Close()
		return l.Addr().String()
	}()
	env["TARGET"] = "ws://" + closed + "/" + secret
	bad := scenarioIn(t, t.TempDir(), env, "target: ${TARGET}\nclients: 1\nduration: 1s\n")
	rep, err = Run(context.Background(), bad, Options{})
	var se *StartError
	if !errors.As(err, &se) || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("start error: %v", err)
	}
	assertNoSecret(t, rep, secret)
}

// An error's message, kept as its cause's example, is masked like the
// rest of the report: the failed upgrade's URL carries the secret.
func TestErrorExampleMasked(t *testing.T) {
	t.Parallel()
	const secret = "tok-5ecret-ABC"
	env := map[string]string{"TOKEN": secret, "TARGET": "ws://" + (&headerServer{}).start(t)}
	sc := scenarioIn(t, t.TempDir(), env, `
name: refused
target: ${TARGET}
clients: 1
duration: 1s
flows:
  - name: f
    backoff: {initial: 1h, max: 1h}
    steps:
      - connect: {path: "/refuse?token=${TOKEN}"}
`)
	rep, err := Run(context.Background(), sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	msg := rep.ErrorExamples["handshake_status_403"]
	if rep.Counters.ErrorsByCause["handshake_status_403"] != 1 || !strings.HasPrefix(msg, "f/connect#1: ") ||
		!strings.Contains(msg, "/refuse?token=") || strings.Contains(msg, secret) {
		t.Fatalf("errors %v, example %q: want the refused upgrade's message, step first, secret masked", rep.Counters.ErrorsByCause, msg)
	}
	assertNoSecret(t, rep, secret)
}

// A broadcast room named from the environment is reported by its masked
// pattern.
func TestSecretRoomPatternMasked(t *testing.T) {
	t.Parallel()
	const secret = "room-5ecret-XYZ"
	sc := scenarioIn(t, t.TempDir(), map[string]string{"ROOM": secret}, `
target: builtin
clients: 2
duration: 1s
client: {drain: 200ms}
flows:
  - name: f
    steps:
      - connect: {path: "/broadcast?room=${ROOM}"}
      - publish: {rate: 5, count: 2}
`)
	rep := run(t, sc)
	if len(rep.Broadcast) == 0 || !strings.Contains(rep.Broadcast[0].Room, "room=***") {
		t.Fatalf("broadcast %+v", rep.Broadcast)
	}
	assertNoSecret(t, rep, secret)
}

// assertNoSecret renders rep in every format wsbench writes and fails if
// any shows secret.
func assertNoSecret(t *testing.T, rep *report.Report, secret string) {
	t.Helper()
	for name, write := range map[string]func(io.Writer, *report.Report) error{
		"JSON": report.WriteJSON, "text": report.WriteText, "HTML": report.WriteHTML,
		"JUnit": report.WriteJUnit, "markdown": report.WriteMarkdownSummary,
	} {
		var b bytes.Buffer
		if err := write(&b, rep); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b.Len() == 0 || strings.Contains(b.String(), secret) {
			t.Errorf("the %s report (%d bytes) shows the secret", name, b.Len())
		}
	}
}
