package scenario

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDataFilesLoad(t *testing.T) {
	t.Parallel()
	sc, err := Load("testdata/good/env-and-data.yaml")
	if err != nil {
		t.Fatal(err)
	}
	users := sc.Table("users")
	if users == nil {
		t.Fatal("users not loaded")
	}
	// The byte-order mark goes, names are trimmed, quoted fields keep
	// their commas, quotes and line breaks.
	if !slices.Equal(users.Columns, []string{"name", "password", "note"}) {
		t.Errorf("columns %q", users.Columns)
	}
	want := [][]string{{"alice", "pw1", `likes "quotes", commas`}, {"bob", "pw2", "two\nlines"}}
	if !slices.EqualFunc(users.Rows, want, slices.Equal) {
		t.Errorf("rows %q", users.Rows)
	}
	if users.Column("password") != 1 || users.Column("nope") != -1 {
		t.Errorf("Column: %d %d", users.Column("password"), users.Column("nope"))
	}
	// JSON lines: columns sorted, values as their JSON text, blank lines
	// skipped.
	rooms := sc.Table("rooms")
	if rooms == nil || !slices.Equal(rooms.Columns, []string{"name", "size", "tags"}) {
		t.Fatalf("rooms %+v", rooms)
	}
	wantRooms := [][]string{{"lobby", "10", `["a"]`}, {"kitchen", "2.5", ""}}
	if !slices.EqualFunc(rooms.Rows, wantRooms, slices.Equal) {
		t.Errorf("rooms %q", rooms.Rows)
	}
	// Defaults: the format from the extension, sequential, by session.
	if d := sc.Data["rooms"]; d.Format != DataJSONLines || d.Order != DataRandom || d.By != DataBySession {
		t.Errorf("rooms settings %+v", d)
	}
	if d := sc.Data["users"]; d.Format != DataCSV || d.Order != DataUnique || d.By != DataByClient {
		t.Errorf("users settings %+v", d)
	}
	if got := sc.Flows[0].DataSources(); !slices.Equal(got, []string{"rooms", "users"}) {
		t.Errorf("DataSources %v", got)
	}
}

// Data files are found beside the scenario, wherever wsbench runs, and
// the problems inside one name its own file and line.
func TestDataPathsAreRelativeToTheScenario(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sub/ids.csv", "id\n1\n2\n")
	write("bad.jsonl", "{\"id\": 1}\n[1, 2]\n")
	write("s.yaml", "target: builtin\nclients: 1\nduration: 1s\ndata:\n  ids: {file: sub/ids.csv}\n")
	write("b.yaml", "target: builtin\nclients: 1\nduration: 1s\ndata:\n  ids: {file: bad.jsonl}\n")
	sc, err := Load(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Table("ids"); got == nil || len(got.Rows) != 2 {
		t.Fatalf("ids %+v", got)
	}
	_, err = Load(filepath.Join(dir, "b.yaml"))
	ps, ok := err.(Problems)
	if !ok || len(ps) != 1 || ps[0].File != filepath.ToSlash(filepath.Join(dir, "bad.jsonl")) || ps[0].Line != 2 {
		t.Fatalf("got %#v", err)
	}
}

func TestDataFileProblems(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file, format, content, want string }{
		{"empty csv", "e.csv", "", "", "the data file is empty"},
		{"header only", "h.csv", "", "a,b\n", "no rows after the header row"},
		{"unnamed column", "u.csv", "", "a,\n1,2\n", "column 2 of the header row has no name"},
		{"duplicate column", "d.csv", "", "a,b,a\n1,2,3\n", `names the column "a" twice`},
		{"bare quote", "q.csv", "", "a\n\"x\"y\n", "CSV syntax"},
		{"empty jsonl", "e.jsonl", "", "\n\n", "has no rows"},
		{"two values", "t.jsonl", "", "{\"a\":1} {\"a\":2}\n", "more than one JSON value"},
		{"unknown extension", "x.txt", "", "a\n1\n", "does not say the format"},
		{"bad format", "x.txt", "xml", "a\n1\n", `"xml": want csv or jsonl`},
		{"not regular", "/dev/null", "csv", "", "is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := tt.file
			if !filepath.IsAbs(file) {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src := "target: builtin\nclients: 1\nduration: 1s\ndata:\n  d: {file: " + file
			if tt.format != "" {
				src += ", format: " + tt.format
			}
			src += "}\n"
			_, err := ParseWith(filepath.Join(dir, "s.yaml"), []byte(src), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want …%s…", err, tt.want)
			}
		})
	}
}

func TestTemplatesReadDataColumns(t *testing.T) {
	t.Parallel()
	tp, err := ParseTemplate("user={{ users.name }}&n={{n}}")
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.Vars(); !slices.Equal(got, []string{"users.name", "n"}) {
		t.Errorf("Vars %v", got)
	}
	for _, bad := range []string{"{{a.b.c}}", "{{.a}}", "{{a.}}", "{{a.1b}}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("%s parses", bad)
		}
	}
}
