package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// WriteFile writes data to path atomically: it writes a temporary file in
// the same directory, syncs it and renames it over path, so a reader (or a
// crash, or a second Ctrl-C) never sees half a report.
func WriteFile(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; a report is not a secret.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
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
