package report

import (
	"slices"
	"strings"
)

// TLSInfo says how a run's wss:// connections were secured. A report has
// one when the scenario configured client.tls or its target was wss://.
type TLSInfo struct {
	// InsecureSkipVerify: the servers' certificates were not verified
	// (client.tls.insecure_skip_verify). The run measured a connection
	// no production client would accept; reports flag it.
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
	ServerName         string `json:"server_name,omitempty"`        // SNI and verified name, when it overrode the URL's host
	ClientCertificate  bool   `json:"client_certificate,omitempty"` // a client certificate was configured
}

// insecureWarning is the line every output shows for a run that skipped
// certificate verification.
const insecureWarning = "TLS certificates were NOT verified (client.tls.insecure_skip_verify): the connections were not authenticated"

// Insecure reports whether r, or any run merged into it, skipped TLS
// certificate verification.
func (r *Report) Insecure() bool { return r.TLS != nil && r.TLS.InsecureSkipVerify }

// mergeTLS combines the TLS facts of merged runs: insecure if any run was,
// a client certificate if any had one, the distinct server names.
func mergeTLS(rs []*Report) *TLSInfo {
	var out *TLSInfo
	var names []string
	for _, r := range rs {
		if r.TLS == nil {
			continue
		}
		if out == nil {
			out = &TLSInfo{}
		}
		out.InsecureSkipVerify = out.InsecureSkipVerify || r.TLS.InsecureSkipVerify
		out.ClientCertificate = out.ClientCertificate || r.TLS.ClientCertificate
		for _, n := range strings.Split(r.TLS.ServerName, ",") {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if out != nil {
		out.ServerName = strings.Join(names, ",")
	}
	return out
}
