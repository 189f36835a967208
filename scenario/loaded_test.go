package scenario

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// What Parse loaded survives the trip a worker's scenario takes: JSON for
// the values, Loaded beside it for the data rows and the values to mask.
func TestLoadedCrossesJSON(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.csv"), []byte("name,password\nann,pw-ann-1\nbob,pw-bob-2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TOKEN": "s3cr3t-token"}
	sc, err := ParseWith(filepath.Join(dir, "s.yaml"), []byte(`
name: loaded
target: builtin
client: {headers: {Authorization: "Bearer ${TOKEN}"}}
clients: 2
duration: 1s
data:
  users: {file: users.csv}
flows:
  - name: login
    steps:
      - connect: {path: /echo}
      - send: {text: "{{users.name}}"}
`), Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := json.Marshal(sc.Loaded())
	if err != nil {
		t.Fatal(err)
	}
	var back Scenario
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Table("users") != nil {
		t.Fatal("the rows crossed in the scenario's own JSON: Loaded is not needed")
	}
	var l Loaded
	if err := json.Unmarshal(loaded, &l); err != nil {
		t.Fatal(err)
	}
	back.SetLoaded(&l)
	tb := back.Table("users")
	if tb == nil || tb.Column("password") != 1 || !slices.EqualFunc(tb.Rows, sc.Table("users").Rows, slices.Equal) {
		t.Fatalf("users after the trip: %+v", tb)
	}
	if got := back.Mask("header Bearer s3cr3t-token sent"); strings.Contains(got, "s3cr3t") {
		t.Fatalf("the worker's copy does not mask the secret: %q", got)
	}
	if (&Scenario{}).Loaded() != nil {
		t.Error("a scenario that loaded nothing has something to send")
	}
}
