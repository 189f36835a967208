package report

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

// CheckWritable looks without touching: it creates, opens and truncates
// nothing, so a check before a run leaves an earlier report alone.
func TestCheckWritableTouchesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := filepath.Join(dir, "old.json")
	if err := os.WriteFile(old, []byte("earlier"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{old, filepath.Join(dir, "new.json"), fifo} {
		// A FIFO without a reader would block an open; Access does not.
		if err := CheckWritable(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the directory holds %d entries after the checks, want 2", len(entries))
	}
	if b, _ := os.ReadFile(old); string(b) != "earlier" {
		t.Error("the earlier report changed")
	}
}

func TestWriteFileErrorsNameThePath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing", "r.json"), "write " + filepath.Join(dir, "missing", "r.json") + ": directory " + filepath.Join(dir, "missing") + " does not exist"},
		{dir, "write " + dir + ": is a directory"},
		{filepath.Join(file, "r.json"), "write " + filepath.Join(file, "r.json") + ": not a directory"},
		{"", "write: empty path"},
	}
	for _, tt := range tests {
		for _, f := range []func() error{
			func() error { return CheckWritable(tt.path) },
			func() error { return WriteFile(tt.path, writeString("x")) },
		} {
			err := f()
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), ".tmp-") {
				t.Errorf("%q: %v, want %q", tt.path, err, tt.want)
			}
		}
	}
	// A failed render leaves no temporary file and the old file as it was.
	if err := WriteFile(file, func(io.Writer) error { return io.ErrShortWrite }); err == nil || !strings.Contains(err.Error(), "write "+file+": short write") {
		t.Errorf("failed render: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left after a failed write", len(entries))
	}
}

// A replaced file keeps its mode and, when the process may set it, its
// owner: a report rewritten by root stays its user's.
func TestWriteFileKeepsModeAndOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, []byte("old"), 0o604); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, writeString("new")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if b, _ := os.ReadFile(path); string(b) != "new" || fi.Mode().Perm() != 0o604 || st.Uid != 4242 || st.Gid != 4343 {
		t.Errorf("content %q mode %v owner %d:%d", b, fi.Mode().Perm(), st.Uid, st.Gid)
	}
}
