package engine

import (
	"strings"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenario"
)

// tlsInfo is what the report says about TLS: present when the scenario
// configured it or the target is wss://, so a reader can tell a verified
// run from one that skipped verification.
func tlsInfo(t *scenario.TLS, base string) *report.TLSInfo {
	if t == nil {
		if !strings.HasPrefix(base, "wss://") {
			return nil
		}
		return &report.TLSInfo{}
	}
	return &report.TLSInfo{
		InsecureSkipVerify: t.InsecureSkipVerify,
		ServerName:         t.ServerName,
		ClientCertificate:  t.CertFile != "",
	}
}
