package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/internal/coord"
)

// coordinate and worker refuse, before anything listens or dials, what
// cannot make a safe run: no TLS without asking for it, no token on the
// command line, a target the workers cannot reach.
func TestCoordinateAndWorkerRefuse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, out, errOut := wsbench(t, "certs", "--hosts", "127.0.0.1,localhost", "--out", dir); code != exitOK || !strings.Contains(out, "token") {
		t.Fatalf("certs: exit %d: %s%s", code, out, errOut)
	}
	for _, f := range []string{coord.CoordinatorKey, coord.WorkerKey, coord.TokenFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, st.Mode(), err)
		}
	}
	tok := filepath.Join(dir, coord.TokenFile)
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("REPLACE-ME\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, coord.CoordinatorCert), filepath.Join(dir, coord.CoordinatorKey)
	sc := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(sc, []byte("name: s\ntarget: ws://127.0.0.1:1\nclients: 1\nduration: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	builtin := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(builtin, []byte("name: b\ntarget: builtin\nclients: 1\nduration: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"coordinate", "--token-file", tok, "--insecure", sc}, "--workers N (at least 1) is required"},
		{[]string{"coordinate", "--workers", "2", "--token-file", tok, sc}, "give --tls-cert and --tls-key"},
		{[]string{"coordinate", "--workers", "2", "--token-file", tok, "--insecure", "--tls-cert", cert, sc}, "--insecure excludes"},
		{[]string{"coordinate", "--workers", "2", "--token-file", short, "--insecure", sc}, "too short"},
		{[]string{"coordinate", "--workers", "2", "--insecure", sc}, "give --token-file FILE or set WSBENCH_TOKEN"},
		{[]string{"coordinate", "--workers", "2", "--token-file", tok, "--tls-cert", cert, "--tls-key", key, builtin}, "remote workers need a ws:// or wss:// address"},
		{[]string{"coordinate", "--workers", "2", "--shard", "0/2", sc}, "--shard does not apply"},
		{[]string{"worker", "--token-file", tok}, "these flags need --coordinator"},
		{[]string{"worker", "--coordinator", "127.0.0.1:1", "--token-file", tok, "--insecure", "--tls-ca", cert}, "--insecure excludes"},
		{[]string{"worker", "--coordinator", "127.0.0.1:1", "--token-file", tok, "--report-dir", filepath.Join(dir, "nope")}, "not a directory"},
		{[]string{"run", "--shard", "2/2", "--start-at", "2030-01-01T00:00:00Z", sc}, "want I/N with 0 <= I < N"},
		{[]string{"run", "--shard", "0/2", sc}, "--shard needs --start-at"},
		{[]string{"run", "--shard", "0/2", "--start-at", "2020-01-01T00:00:00Z", sc}, "give one in the future"},
		{[]string{"run", "--start-at", "2030-01-01T00:00:00Z", sc}, "--start-at needs --shard"},
		{[]string{"run", "--shard", "0/2", "--start-at", "tomorrow", sc}, "want an RFC 3339 time"},
	} {
		code, _, errOut := wsbench(t, tc.args...)
		if code != exitCannotStart || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d saying %q", tc.args, code, errOut, exitCannotStart, tc.want)
		}
		if strings.Contains(errOut, "BEGIN") {
			t.Errorf("%q: key material in the output", tc.args)
		}
	}
}

func TestParseShard(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s, err := parseShard("1/4", "2026-01-01T12:00:30Z", now)
	if err != nil || s.index != 1 || s.count != 4 || !s.startAt.Equal(now.Add(30*time.Second)) {
		t.Fatalf("%+v %v", s, err)
	}
	// Half a second late is a shard started by a slow process, not a
	// stale time: it is accepted.
	if _, err := parseShard("0/1", "2026-01-01T11:59:59.5Z", now); err != nil {
		t.Fatal(err)
	}
	if s, err := parseShard("", "", now); s != nil || err != nil {
		t.Fatalf("no shard: %+v %v", s, err)
	}
	for _, bad := range []string{"1", "a/b", "-1/2", "0/0", "3/3", "1/2/3"} {
		if _, err := parseShard(bad, "2026-01-01T12:00:30Z", now); err == nil {
			t.Errorf("--shard %q accepted", bad)
		}
	}
}
