package report

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// FuzzReadJSON feeds ReadJSON arbitrary bytes, as `wsbench report`,
// `compare`, `merge` and `gate` read report files wsbench did not
// necessarily write. ReadJSON must not panic, and a report it accepts must
// survive what those commands do with it: every renderer, a merge with
// itself, a comparison with itself, and a write-and-read round trip.
// Seeds and past crashers live in testdata/fuzz/FuzzReadJSON.
//
//	go test -run='^$' -fuzz=FuzzReadJSON -fuzztime=60s ./report/
func FuzzReadJSON(f *testing.F) {
	for _, r := range []*Report{emptyHTMLFixture(), failedHTMLFixture()} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		for name, write := range map[string]func(io.Writer, *Report) error{
			"text": WriteText, "markdown": WriteMarkdownSummary, "junit": WriteJUnit, "html": WriteHTML,
		} {
			if err := write(io.Discard, r); err != nil {
				t.Fatalf("%s of an accepted report: %v", name, err)
			}
		}
		if _, err := Merge(r, r); err != nil {
			t.Logf("merge: %v", err)
		}
		c := Compare([]*Report{r}, []*Report{r}, CompareOptions{})
		if err := c.WriteText(io.Discard); err != nil {
			t.Fatalf("comparison text: %v", err)
		}
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			t.Fatalf("write an accepted report: %v", err)
		}
		if _, err := ReadJSON(&b); err != nil {
			t.Fatalf("an accepted report does not read back after writing: %v\n%s", err, b.Bytes())
		}
	})
}
