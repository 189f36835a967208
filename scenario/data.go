package scenario

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DataSource is a file of rows that feed templates, like k6's shared
// arrays or Artillery's payloads: each session whose flow uses the source
// takes one row when it starts, and {{NAME.COLUMN}} in its templates is
// that row's COLUMN. The file is CSV with a header row naming the columns,
// or JSON lines (one object per line, every line with the same keys); a
// relative path is relative to the scenario file.
//
// Order says which row a session takes: sequential (the default) goes
// through the rows in turn and starts again after the last; random draws
// one (reproducibly with the scenario's seed); unique goes through them
// once, and a session that finds none left fails with the error
// data_exhausted. By says what counts: session (the default) numbers the
// sessions that use the source, so each new session takes the next row;
// client uses the client number, so the sessions a closed-model client
// runs one after another all take the same row.
type DataSource struct {
	File   string `yaml:"file" json:"file"`
	Format string `yaml:"format,omitempty" json:"format,omitempty"` // csv or jsonl; default from the extension
	Order  string `yaml:"order,omitempty" json:"order"`             // sequential (default), random or unique
	By     string `yaml:"by,omitempty" json:"by"`                   // session (default) or client
}

// Data source settings.
const (
	DataCSV        = "csv"
	DataJSONLines  = "jsonl"
	DataSequential = "sequential"
	DataRandom     = "random"
	DataUnique     = "unique"
	DataBySession  = "session"
	DataByClient   = "client"
)

// maxDataProblems bounds the problems reported for one data file: past
// that, the file is probably not what the scenario thinks it is.
const maxDataProblems = 10

// Table is a data file as loaded: its column names, and each row's values
// as text (a JSON value that is not a string as its JSON text).
type Table struct {
	Columns []string
	Rows    [][]string
	index   map[string]int
}

// Column returns the index of the named column, or -1.
func (t *Table) Column(name string) int {
	if i, ok := t.index[name]; ok {
		return i
	}
	return -1
}

// Table returns the rows of the data source name as Parse loaded them, or
// nil (no such source, a file that could not be read, or a scenario that
// did not come from Parse).
func (sc *Scenario) Table(name string) *Table {
	if sc.meta == nil {
		return nil
	}
	return sc.meta.tables[name]
}

// dataFormat is the format of a data source, given or from the extension.
func dataFormat(ds *DataSource) string {
	if ds.Format != "" {
		return ds.Format
	}
	switch strings.ToLower(filepath.Ext(ds.File)) {
	case ".csv":
		return DataCSV
	case ".jsonl", ".ndjson":
		return DataJSONLines
	}
	return ""
}

// loadData reads every data file, relative paths from dir. Problems with
// the file as a whole are the field's (located by Parse); problems inside
// it carry the data file's name and line.
func (sc *Scenario) loadData(dir string) Problems {
	if len(sc.Data) == 0 {
		return nil
	}
	if sc.meta == nil {
		sc.meta = &meta{}
	}
	sc.meta.tables = map[string]*Table{}
	var ps Problems
	for _, name := range slices.Sorted(maps.Keys(sc.Data)) {
		ds := sc.Data[name]
		format := ""
		if ds != nil {
			format = dataFormat(ds)
		}
		if ds == nil || ds.File == "" || (format != DataCSV && format != DataJSONLines) {
			continue // Validate says what is missing
		}
		path := ds.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		t, fps := loadTable(path, format)
		for i := range fps {
			if fps[i].Line == 0 {
				fps[i].Field = "data." + name + ".file"
			} else {
				fps[i].File, fps[i].Field = filepath.ToSlash(path), "data."+name
			}
		}
		ps = append(ps, fps...)
		if t != nil && len(fps) == 0 {
			sc.meta.tables[name] = t
		}
	}
	return ps
}

// loadTable reads one data file. Problems without a line concern the file
// as a whole.
func loadTable(path, format string) (*Table, Problems) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Problems{{Msg: fmt.Sprintf("%s does not exist (a relative path is relative to the scenario file)", filepath.ToSlash(path))}}
		}
		return nil, Problems{{Msg: fmt.Sprintf("cannot read the data file: %v", err)}}
	}
	defer f.Close()
	// Only regular files: a scenario naming /dev/zero must not hang the
	// loader.
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, Problems{{Msg: fmt.Sprintf("%s is not a regular file", filepath.ToSlash(path))}}
	}
	r := bufio.NewReaderSize(f, 64<<10)
	if format == DataCSV {
		return loadCSV(r)
	}
	return loadJSONLines(r)
}

func dataProblem(line int, format string, args ...any) Problem {
	return Problem{Line: line, Msg: fmt.Sprintf(format, args...)}
}

func loadCSV(in io.Reader) (*Table, Problems) {
	r := csv.NewReader(in)
	header, err := r.Read()
	if err == io.EOF {
		return nil, Problems{{Msg: "the data file is empty: a CSV data file starts with a header row naming its columns"}}
	}
	if err != nil {
		return nil, Problems{csvProblem(err)}
	}
	t := &Table{index: map[string]int{}}
	var ps Problems
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch {
		case h == "":
			ps = append(ps, dataProblem(1, "column %d of the header row has no name", i+1))
		default:
			if _, dup := t.index[h]; dup {
				ps = append(ps, dataProblem(1, "the header row names the column %q twice", h))
			}
		}
		t.index[h] = i
		t.Columns = append(t.Columns, h)
	}
	for len(ps) < maxDataProblems {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				ps = append(ps, dataProblem(pe.StartLine, "this row has %s, the header row %d", plural(len(rec), "field"), len(header)))
				continue
			}
			ps = append(ps, csvProblem(err))
			break // after a quoting error the reader cannot find the next row
		}
		t.Rows = append(t.Rows, rec)
	}
	if len(t.Rows) == 0 && len(ps) == 0 {
		ps = append(ps, dataProblem(1, "no rows after the header row"))
	}
	return t, ps
}

func csvProblem(err error) Problem {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return Problem{Msg: fmt.Sprintf("cannot read the data file: %v", err)}
	}
	return dataProblem(pe.Line, "CSV syntax: %v", pe.Err)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func loadJSONLines(in io.Reader) (*Table, Problems) {
	s := bufio.NewScanner(in)
	s.Buffer(make([]byte, 64<<10), 16<<20)
	var t *Table
	var ps Problems
	firstLine := 0
	for line := 1; s.Scan() && len(ps) < maxDataProblems; line++ {
		text := bytes.TrimSpace(s.Bytes())
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			msg := "not a JSON object"
			if err != nil {
				msg += ": " + err.Error()
			}
			ps = append(ps, dataProblem(line, "%s", msg))
			continue
		}
		if dec.More() {
			ps = append(ps, dataProblem(line, "more than one JSON value on the line (JSON lines has one object per line)"))
			continue
		}
		keys := slices.Sorted(maps.Keys(obj))
		if t == nil {
			t, firstLine = &Table{Columns: keys, index: map[string]int{}}, line
			for i, k := range keys {
				t.index[k] = i
			}
		} else if !slices.Equal(keys, t.Columns) {
			ps = append(ps, dataProblem(line, "the keys differ from the first row's (line %d): %s", firstLine, keyDiff(t.Columns, keys)))
			continue
		}
		row := make([]string, len(keys))
		for i, k := range keys {
			row[i] = jsonText(obj[k])
		}
		t.Rows = append(t.Rows, row)
	}
	if err := s.Err(); err != nil {
		ps = append(ps, Problem{Msg: fmt.Sprintf("cannot read the data file: %v", err)})
	}
	if t == nil && len(ps) == 0 {
		return nil, Problems{{Msg: "the data file has no rows (JSON lines: one object per line)"}}
	}
	return t, ps
}

func keyDiff(want, got []string) string {
	var parts []string
	var missing, extra []string
	for _, k := range want {
		if !slices.Contains(got, k) {
			missing = append(missing, k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "extra "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, "; ")
}

// jsonText is how a JSON value is inserted into a template.
func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// DataSources returns the data sources the flow's templates use, sorted.
func (f *Flow) DataSources() []string {
	var out []string
	forEachTemplate(f.Steps, func(s string) {
		t, err := ParseTemplate(s)
		if err != nil {
			return
		}
		for _, v := range t.Vars() {
			if src, _, ok := strings.Cut(v, "."); ok && !slices.Contains(out, src) {
				out = append(out, src)
			}
		}
	})
	slices.Sort(out)
	return out
}

// forEachTemplate calls f with every template string of steps: connect
// URLs, paths and header values, text payloads and the strings of json
// payloads.
func forEachTemplate(steps []Step, f func(string)) {
	payload := func(p *Payload) {
		if p.Text != "" {
			f(p.Text)
		}
		walkStrings(p.JSON, f)
	}
	for i := range steps {
		s := &steps[i]
		switch {
		case s.Connect != nil:
			f(s.Connect.Path)
			f(s.Connect.URL)
			for _, k := range slices.Sorted(maps.Keys(s.Connect.Headers)) {
				f(s.Connect.Headers[k])
			}
		case s.Send != nil:
			payload(&s.Send.Payload)
		case s.Request != nil:
			payload(&s.Request.Payload)
		case s.Loop != nil:
			forEachTemplate(s.Loop.Steps, f)
		}
	}
}

// data checks the data section; the files themselves are checked when
// they are loaded.
func (v *validator) data() {
	for _, name := range slices.Sorted(maps.Keys(v.sc.Data)) {
		p := "data." + name
		ds := v.sc.Data[name]
		if !identRe.MatchString(name) {
			v.add(p, "a data source name uses letters, digits and _ (templates write it as {{%s.COLUMN}})", name)
		}
		if ds == nil || ds.File == "" {
			v.add(join(p, "file"), "missing: give the CSV or JSON lines file (a relative path is relative to the scenario file)")
			continue
		}
		switch ds.Format {
		case DataCSV, DataJSONLines:
		case "":
			v.add(p+".format", "the extension of %q does not say the format: give format: csv or jsonl", ds.File)
		default:
			v.add(p+".format", "%q: want csv or jsonl", ds.Format)
		}
		switch ds.Order {
		case DataSequential, DataRandom, DataUnique:
		default:
			v.add(p+".order", "%q: want sequential, random or unique", ds.Order)
		}
		switch ds.By {
		case DataBySession, DataByClient:
		default:
			v.add(p+".by", "%q: want session or client", ds.By)
		}
	}
}

// dataRef checks a template's {{source.column}}.
func (v *validator) dataRef(field, src, col string) {
	ref := "{{" + src + "." + col + "}}"
	if _, isData := v.sc.Data[src]; src == "env" && !isData {
		v.add(field, "%s: an environment variable is written ${%s}, and is read when the scenario is loaded", ref, col)
		return
	}
	if _, ok := v.sc.Data[src]; !ok {
		if len(v.sc.Data) == 0 {
			v.add(field, "%s refers to a data source %s, but the scenario has no data section (a name with a dot is a data file's column)", ref, src)
			return
		}
		names := slices.Sorted(maps.Keys(v.sc.Data))
		msg := fmt.Sprintf("%s: unknown data source %s", ref, src)
		if s := suggest(src, names); s != "" {
			msg += "; did you mean " + s + "?"
		}
		v.add(field, "%s (data sources: %s)", msg, strings.Join(names, ", "))
		return
	}
	t := v.sc.Table(src)
	if t == nil {
		return // the file's own problem is reported
	}
	if t.Column(col) < 0 {
		msg := fmt.Sprintf("%s: the data file of %s has no column %s", ref, src, col)
		if s := suggest(col, t.Columns); s != "" {
			msg += "; did you mean " + s + "?"
		}
		v.add(field, "%s (columns: %s)", msg, strings.Join(t.Columns, ", "))
	}
}
