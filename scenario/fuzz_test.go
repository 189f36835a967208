package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with every example and
// test file (with the environment of the golden tests, and data files
// found beside the good test files). Parse must not panic and must explain
// a rejection as Problems; a scenario it accepts must stay valid when
// completed again (Complete is idempotent), marshal to JSON (the report
// embeds it), and survive the YAML round trip that `wsbench validate
// --print` shows users (which masks the values from the environment, so
// the round trip gives the redacted scenario).
//
//	go test -run=^$ -fuzz=FuzzParse -fuzztime=60s -fuzzminimizetime=10s ./scenario/
//
// (Without -fuzzminimizetime a short run can spend most of its time
// minimizing the long seed files, reporting no executions meanwhile.)
//
// Crashers the fuzzer finds go to testdata/fuzz/FuzzParse and run as
// regression cases with every plain `go test`.
func FuzzParse(f *testing.F) {
	opts := Options{Dir: "testdata/good", LookupEnv: testEnv}
	for _, pattern := range []string{"../scenarios/*.yaml", "testdata/*/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseWith("fuzz.yaml", data, opts)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("rejection is a %T, not Problems: %v", err, err)
			}
			return
		}
		first, err := json.Marshal(sc)
		if err != nil {
			t.Fatalf("accepted scenario does not marshal to JSON: %v", err)
		}
		sc.Complete()
		if ps := sc.Validate(); len(ps) > 0 {
			t.Fatalf("accepted scenario is invalid after Complete again:\n%v", ps)
		}
		again, err := json.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("Complete is not idempotent:\nonce:  %s\ntwice: %s", first, again)
		}
		printed, err := sc.YAML()
		if err != nil {
			t.Fatalf("accepted scenario does not marshal to YAML: %v", err)
		}
		back, err := ParseWith("printed.yaml", printed, opts)
		if err != nil {
			t.Fatalf("the printed scenario does not load:\n%v\n--- printed:\n%s", err, printed)
		}
		shown, err := json.Marshal(sc.Redacted())
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(back); !bytes.Equal(got, shown) {
			t.Fatalf("the printed scenario loads differently:\nparsed:  %s\nprinted: %s", shown, got)
		}
	})
}
