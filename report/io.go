package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WriteFile writes what write produces to path without ever destroying
// what path names:
//
//   - A regular file, or a path where nothing exists yet, is replaced
//     atomically: the data goes to a temporary file in the same directory,
//     is synced, and is renamed over the file, so a reader (or a crash, or
//     a second Ctrl-C) never sees half a report. A replaced file keeps its
//     permission bits and, when the process may set it, its owner; a new
//     file is made 0644 (a report is not a secret).
//   - A symbolic link is followed to the file it names, and the rename
//     happens there: the link stays a link. A dangling link creates its
//     target.
//   - Anything else (a device such as /dev/null, a FIFO, a terminal, or a
//     descriptor such as /dev/stdout or /proc/self/fd/N) is opened and
//     written through, never renamed over. A FIFO blocks until a reader
//     opens it, as it does for the shell.
//
// Errors name path as the caller gave it, never the temporary file, and
// say what is wrong: a missing directory, a read-only file system, a full
// disk (ENOSPC surfaces from the write, the sync or the close).
func WriteFile(path string, write func(w io.Writer) error) error {
	out, err := resolveOutput(path)
	if err != nil {
		return err
	}
	if out.through {
		return writeThrough(path, out.real, out.regular, write)
	}
	return writeAtomic(path, out, write)
}

// CheckWritable reports, before a run, whether WriteFile(path) is likely to
// succeed, without creating, opening or truncating anything: the directory
// exists and accepts new files, the path is not a directory, a device or
// FIFO is writable. It cannot foresee a disk that fills up during the run.
func CheckWritable(path string) error {
	out, err := resolveOutput(path)
	if err != nil {
		return err
	}
	if out.through {
		// Access, not open: opening a FIFO blocks until a reader comes.
		if err := syscall.Access(out.real, unixW); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	dir := filepath.Dir(out.real)
	if err := syscall.Access(dir, unixW|unixX); err != nil {
		return fmt.Errorf("write %s: cannot create files in %s: %w", path, dir, err)
	}
	return nil
}

// Access modes of access(2), which package syscall does not name.
const (
	unixW = 0x2
	unixX = 0x1
)

// output is where WriteFile writes for a path.
type output struct {
	real    string      // the file itself: symlinks resolved
	info    os.FileInfo // the existing file; nil when there is none yet
	through bool        // write through: not a regular file, or a descriptor
	regular bool        // (through) it is a regular file behind a descriptor
}

// resolveOutput works out what path names. Its errors name path.
func resolveOutput(path string) (output, error) {
	if path == "" {
		return output{}, errors.New("write: empty path")
	}
	if isDescriptor(path) {
		fi, err := os.Stat(path)
		if err != nil {
			return output{}, fmt.Errorf("write %s: %w", path, unwrapPath(err))
		}
		return output{real: path, info: fi, through: true, regular: fi.Mode().IsRegular()}, nil
	}
	fi, err := os.Stat(path) // follows symlinks
	switch {
	case err == nil && fi.IsDir():
		return output{}, fmt.Errorf("write %s: is a directory", path)
	case err == nil && !fi.Mode().IsRegular():
		return output{real: path, info: fi, through: true}, nil
	case err == nil:
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return output{}, fmt.Errorf("write %s: %w", path, unwrapPath(err))
		}
		return output{real: real, info: fi}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return output{}, fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	// Nothing there yet, or a dangling symlink: create its final target.
	real, err := danglingTarget(path)
	if err != nil {
		return output{}, fmt.Errorf("write %s: %w", path, err)
	}
	dir := filepath.Dir(real)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return output{}, fmt.Errorf("write %s: directory %s does not exist", path, dir)
	case err != nil:
		return output{}, fmt.Errorf("write %s: %w", path, unwrapPath(err))
	case !di.IsDir():
		return output{}, fmt.Errorf("write %s: %s is not a directory", path, dir)
	}
	return output{real: real}, nil
}

// isDescriptor reports whether path names an open file descriptor rather
// than a file (/dev/stdout, /dev/fd/N, /proc/self/fd/N), directly or
// through a symlink: renaming a file over the file behind a descriptor
// would leave the descriptor's owner writing to a deleted file.
func isDescriptor(path string) bool {
	p := filepath.Clean(path)
	for range 40 {
		if strings.HasPrefix(p, "/proc/") || strings.HasPrefix(p, "/dev/fd/") ||
			p == "/dev/stdout" || p == "/dev/stderr" {
			return true
		}
		l, err := os.Readlink(p)
		if err != nil {
			return false
		}
		if !filepath.IsAbs(l) {
			l = filepath.Join(filepath.Dir(p), l)
		}
		p = filepath.Clean(l)
	}
	return false
}

// danglingTarget returns the path a chain of symlinks ending nowhere
// points to, or path itself when it is not a symlink.
func danglingTarget(path string) (string, error) {
	p := path
	for range 40 {
		l, err := os.Readlink(p)
		if err != nil {
			return p, nil // not a link: the file to create
		}
		if !filepath.IsAbs(l) {
			l = filepath.Join(filepath.Dir(p), l)
		}
		p = l
	}
	return "", errors.New("too many levels of symbolic links")
}

// unwrapPath drops the *fs.PathError around err, whose path may be a
// temporary name or a resolved one the user never gave.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// writeThrough writes into an existing device, FIFO or descriptor.
func writeThrough(path, real string, truncate bool, write func(w io.Writer) error) (err error) {
	flags := os.O_WRONLY
	if truncate {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(real, flags, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write %s: %w", path, unwrapPath(cerr))
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	return nil
}

// writeAtomic writes a temporary file beside out.real and renames it there.
func writeAtomic(path string, out output, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(out.real)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out.real)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: cannot create a file in %s: %w", path, dir, unwrapPath(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	fail := func(err error) error { return fmt.Errorf("write %s: %w", path, unwrapPath(err)) }
	if err := write(tmp); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	mode := fs.FileMode(0o644)
	if out.info != nil {
		mode = out.info.Mode().Perm()
		keepOwner(tmp.Name(), out.info)
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), out.real); err != nil {
		return fail(err)
	}
	// Make the rename itself durable; a failure here loses nothing.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// keepOwner gives the replacement file the owner and group of the file it
// replaces, when they differ and the process may (root, usually); a
// report rewritten by sudo stays its user's.
func keepOwner(name string, old os.FileInfo) {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) {
		return
	}
	_ = os.Chown(name, int(st.Uid), int(st.Gid))
}

// WriteJSON encodes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteJSONFile writes r to path atomically.
func WriteJSONFile(path string, r *Report) error {
	return WriteFile(path, func(w io.Writer) error { return WriteJSON(w, r) })
}

// ReadJSONFile reads a report written by WriteJSONFile and checks it as
// ReadJSON does.
func ReadJSONFile(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	r, err := ReadJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return r, nil
}

// ReadJSON decodes a report and checks it before anyone uses it: its
// schema version, every latency histogram against its summary, counts,
// broadcast results and the shape of its series (see validate). A report
// that fails a check is not returned.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a wsbench JSON report: %w", err)
	}
	if !strings.HasPrefix(r.Schema, "wsbench.report/") {
		return nil, fmt.Errorf("not a wsbench JSON report (schema %q)", r.Schema)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("report schema %q is not supported by this wsbench (reads %q)", r.Schema, SchemaVersion)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("invalid wsbench report: %w", err)
	}
	r.Counters.Normalize()
	return &r, nil
}

// jsonFloat is a float64 that encodes NaN and ±Inf as null, because a
// threshold on a metric with no samples has no value and JSON has no NaN.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// MarshalJSON writes a NaN Actual (no samples) as null.
func (t ThresholdResult) MarshalJSON() ([]byte, error) {
	type plain ThresholdResult
	return json.Marshal(struct {
		plain
		Actual jsonFloat `json:"actual"`
	}{plain(t), jsonFloat(t.Actual)})
}

// UnmarshalJSON reads null Actual as NaN.
func (t *ThresholdResult) UnmarshalJSON(b []byte) error {
	type plain ThresholdResult
	aux := struct {
		*plain
		Actual jsonFloat `json:"actual"`
	}{plain: (*plain)(t)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	t.Actual = float64(aux.Actual)
	return nil
}
