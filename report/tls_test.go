package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestInsecureTLSIsFlagged: a run that skipped certificate verification
// says so in every output a person reads, and a secure one does not.
func TestInsecureTLSIsFlagged(t *testing.T) {
	t.Parallel()
	outputs := []struct {
		name  string
		write func(*bytes.Buffer, *Report) error
		flag  string
	}{
		{"text", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }, "!! INSECURE: TLS certificates were NOT verified"},
		{"markdown", func(b *bytes.Buffer, r *Report) error { return WriteMarkdownSummary(b, r) }, "**Insecure TLS**"},
		{"html", func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }, `id="insecure-tls"`},
		{"junit", func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) }, `name="tls_insecure_skip_verify" value="true"`},
	}
	for _, insecure := range []bool{true, false} {
		r := failedHTMLFixture()
		r.TLS = &TLSInfo{InsecureSkipVerify: insecure}
		for _, o := range outputs {
			var b bytes.Buffer
			if err := o.write(&b, r); err != nil {
				t.Fatalf("%s: %v", o.name, err)
			}
			if got := strings.Contains(b.String(), o.flag); got != insecure {
				t.Errorf("%s output of a run with insecure_skip_verify=%v: flagged %v", o.name, insecure, got)
			}
		}
	}
}

// TestMergeTLS: a merge is insecure if any input was.
func TestMergeTLS(t *testing.T) {
	t.Parallel()
	secure, insecure, plain := emptyHTMLFixture(), emptyHTMLFixture(), emptyHTMLFixture()
	secure.TLS = &TLSInfo{ServerName: "a.internal", ClientCertificate: true}
	insecure.TLS = &TLSInfo{InsecureSkipVerify: true, ServerName: "b.internal"}
	insecure.Environment.Hostname = "other"
	got, err := Merge(secure, plain, insecure)
	if err != nil {
		t.Fatal(err)
	}
	want := TLSInfo{InsecureSkipVerify: true, ServerName: "a.internal,b.internal", ClientCertificate: true}
	if got.TLS == nil || *got.TLS != want {
		t.Errorf("merged TLS %+v, want %+v", got.TLS, want)
	}
	if got, err := Merge(plain, plain); err != nil || got.TLS != nil {
		t.Errorf("merge of plain runs: TLS %+v, %v", got.TLS, err)
	}
}
