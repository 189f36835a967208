package scenario

import "slices"

// Loaded is what Parse loaded for a scenario besides its values: the rows
// of its data files and the values from the environment that outputs
// mask. A scenario sent to a worker process as JSON loses them, so they
// travel next to it (coord's Assignment) and the worker puts them back
// with SetLoaded.
type Loaded struct {
	Tables  map[string]LoadedTable `json:"tables,omitempty"`
	Masks   map[string]string      `json:"masks,omitempty"`   // value with text from the environment → masked
	Secrets []string               `json:"secrets,omitempty"` // values of environment variables
}

// LoadedTable is a data file's columns and rows, as Parse read them.
type LoadedTable struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Loaded returns what Parse loaded for sc, or nil when it loaded nothing
// (or sc did not come from Parse).
func (sc *Scenario) Loaded() *Loaded {
	m := sc.meta
	if m == nil || len(m.tables) == 0 && len(m.masks) == 0 && len(m.secrets) == 0 {
		return nil
	}
	l := &Loaded{Masks: m.masks, Secrets: m.secrets}
	if len(m.tables) > 0 {
		l.Tables = make(map[string]LoadedTable, len(m.tables))
		for name, t := range m.tables {
			l.Tables[name] = LoadedTable{Columns: t.Columns, Rows: t.Rows}
		}
	}
	return l
}

// SetLoaded gives sc what another process's Parse loaded (Loaded). The
// field positions of the original file are not part of it: a worker
// reports no YAML errors.
func (sc *Scenario) SetLoaded(l *Loaded) {
	if l == nil {
		return
	}
	m := &meta{masks: l.Masks, secrets: slices.Clone(l.Secrets), tables: make(map[string]*Table, len(l.Tables))}
	for k := range l.Masks {
		m.order = append(m.order, k)
	}
	slices.SortFunc(m.order, longestFirst)
	slices.SortFunc(m.secrets, longestFirst)
	for name, lt := range l.Tables {
		t := &Table{Columns: lt.Columns, Rows: lt.Rows, index: make(map[string]int, len(lt.Columns))}
		for i, c := range lt.Columns {
			t.index[c] = i
		}
		m.tables[name] = t
	}
	sc.meta = m
}
