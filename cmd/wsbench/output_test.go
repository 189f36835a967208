package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wsbench/wsbench/report"
)

// mknod makes a character device node like /dev/null (1,3) or /dev/full
// (1,7) in dir, so a test never points wsbench at the machine's own.
func mknod(t *testing.T, dir, name string, minor int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|minor); err != nil {
		missingTool(t, "mknod %s: %v (needs root)", path, err)
	}
	return path
}

// Writing a report never replaces what the path names with a regular
// file: devices and FIFOs are written through, symlinks are followed, and
// a regular file is replaced atomically, keeping its mode.
func TestOutputsNeverDestroy(t *testing.T) {
	t.Parallel()
	in, _ := sharedReports(t)
	want, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	// render writes the shared report as JSON to path through the CLI.
	render := func(t *testing.T, path string) (int, string, string) {
		t.Helper()
		return wsbench(t, "report", "--format", "json", "-o", path, in)
	}

	t.Run("device", func(t *testing.T) {
		t.Parallel()
		null := mknod(t, t.TempDir(), "null", 3)
		if code, _, errOut := render(t, null); code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("the device node was replaced: %v %v", fi.Mode(), err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		t.Parallel()
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			f, err := os.Open(fifo) // blocks until wsbench opens it
			if err != nil {
				got <- nil
				return
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			got <- b
		}()
		if code, _, errOut := render(t, fifo); code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if b := <-got; !bytes.Equal(b, want) {
			t.Errorf("read %d bytes from the FIFO, want the %d-byte report", len(b), len(want))
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Fatalf("the FIFO was replaced: %v %v", fi.Mode(), err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, "real", "r.json")
		if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.json")
		if err := os.Symlink("real/r.json", link); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := render(t, link); code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if l, err := os.Readlink(link); err != nil || l != "real/r.json" {
			t.Fatalf("the symlink was replaced: %q %v", l, err)
		}
		b, _ := os.ReadFile(target)
		fi, _ := os.Stat(target)
		if !bytes.Equal(b, want) || fi.Mode().Perm() != 0o640 {
			t.Errorf("target has %d bytes, mode %v; want the report, 0640", len(b), fi.Mode().Perm())
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".*tmp*"))
		if len(leftovers) > 0 {
			t.Errorf("temporary files left: %v", leftovers)
		}
	})
	t.Run("dangling symlink", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		link := filepath.Join(dir, "link.json")
		if err := os.Symlink("new.json", link); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := render(t, link); code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "new.json")); !bytes.Equal(b, want) {
			t.Error("the link's target was not created")
		}
		if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
			t.Error("the symlink was replaced")
		}
	})
	t.Run("regular file keeps its mode", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "r.json")
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := render(t, path); code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		b, _ := os.ReadFile(path)
		fi, _ := os.Stat(path)
		if !bytes.Equal(b, want) || fi.Mode().Perm() != 0o600 {
			t.Errorf("file has %d bytes, mode %v; want the report, 0600", len(b), fi.Mode().Perm())
		}
	})
	t.Run("stdout", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"-", "/dev/stdout"} {
			code, out, errOut := render(t, path)
			if code != exitOK || out != string(want) || errOut != "" {
				t.Errorf("%s: exit %d, %d bytes on stdout, stderr %q", path, code, len(out), errOut)
			}
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "nope", "r.json")
		code, _, errOut := render(t, path)
		if code != exitCannotStart || !strings.Contains(errOut, "write "+path+": directory "+filepath.Dir(path)+" does not exist") || strings.Contains(errOut, "tmp-") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("a directory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		code, _, errOut := render(t, dir)
		if code != exitCannotStart || !strings.Contains(errOut, "write "+dir+": is a directory") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("full disk", func(t *testing.T) {
		t.Parallel()
		full := mknod(t, t.TempDir(), "full", 7)
		code, _, errOut := render(t, full)
		if code != exitFailed || !strings.Contains(errOut, "write "+full+": no space left on device") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}

// A disk that fills up during the run fails the write after it: the
// terminal summary is still printed, the other reports are written, and
// the error names the path. Exit 1.
func TestRunReportToFullDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	full := mknod(t, dir, "full", 7)
	html := filepath.Join(dir, "r.html")
	code, out, errOut := wsbench(t, "run", "--json", full, "--html", html, "--duration", "1s", "testdata/gate-pass.yaml")
	if code != exitFailed {
		t.Errorf("exit %d, want %d:\n%s", code, exitFailed, errOut)
	}
	if !strings.Contains(out, "Latency") || !strings.Contains(out, "thresholds: PASSED") {
		t.Errorf("no terminal summary:\n%s", out)
	}
	if !strings.Contains(errOut, "wsbench run: --json: write "+full+": no space left on device") {
		t.Errorf("stderr does not name the failed write:\n%s", errOut)
	}
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte("<html")) {
		t.Errorf("the HTML report was not written: %v", err)
	}
}

// Checks made before the run stop it without touching an earlier report.
func TestRunPreflightKeepsEarlierReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := filepath.Join(dir, "r.json")
	if err := os.WriteFile(old, []byte("earlier report"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"two outputs on stdout", []string{"--json", "-", "--html", "-"}, "--json and --html both write to stdout; give one of them a file"},
		{"stdout by another name", []string{"--json", "/dev/stdout", "--summary-md", "-"}, "--json and --summary-md both write to stdout"},
		{"same file twice", []string{"--json", old, "--junit", old}, "--json and --junit both write " + old},
		{"html to a missing directory", []string{"--json", old, "--html", filepath.Join(dir, "x", "r.html")}, "--html: write " + filepath.Join(dir, "x", "r.html") + ": directory"},
		{"report over the scenario", []string{"--json", "testdata/gate-pass.yaml"}, "--json testdata/gate-pass.yaml would overwrite the input testdata/gate-pass.yaml"},
		{"baseline missing", []string{"--json", old, "--baseline", filepath.Join(dir, "nope.json")}, "--baseline: read report"},
		{"tolerance without baseline", []string{"--json", old, "--fail-on-regression", "10%"}, "--fail-on-regression needs --baseline"},
	}
	for _, tt := range tests {
		code, out, errOut := wsbench(t, append(append([]string{"run"}, tt.args...), "testdata/gate-pass.yaml")...)
		if code != exitCannotStart || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant %q", tt.name, code, out, errOut, tt.want)
		}
		if b, _ := os.ReadFile(old); string(b) != "earlier report" {
			t.Fatalf("%s: the earlier report was changed", tt.name)
		}
	}
}

// With a report on stdout the terminal summary moves to stderr, so stdout
// is the report alone.
func TestRunReportOnStdout(t *testing.T) {
	t.Parallel()
	code, out, errOut := wsbench(t, "run", "--json", "-", "--duration", "1s", "testdata/gate-pass.yaml")
	r, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("exit %d; stdout is not the report: %v\n%s", code, err, errOut)
	}
	if code != exitOK && !(code == exitUnreliable && r.Generator.Unreliable) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "Latency") {
		t.Errorf("the summary is not on stderr:\n%s", errOut)
	}
}
