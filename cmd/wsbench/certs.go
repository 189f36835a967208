package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wsbench/wsbench/internal/coord"
)

func init() {
	register(&command{
		name:    "certs",
		summary: "make a CA, certificates and a token for coordinate and worker (trials, tests)",
		usage:   []string{"wsbench certs --hosts NAME[,NAME...] [--out DIR]"},
		about: []string{
			"Writes into --out: ca.crt (a new CA), coordinator.crt and coordinator.key (for the",
			"names and IP addresses in --hosts, which workers dial), worker.crt and worker.key",
			"(a client certificate, for --tls-client-ca), and token (random). Keys and the",
			"token are written 0600. For trials and tests; a deployment may use its own PKI.",
			"",
			"  wsbench coordinate --tls-cert DIR/coordinator.crt --tls-key DIR/coordinator.key \\",
			"      --token-file DIR/token --listen :7070 --workers 4 scenario.yaml",
			"  wsbench worker --coordinator HOST:7070 --tls-ca DIR/ca.crt --token-file DIR/token",
		},
		flags: func() *pflag.FlagSet { fs, _, _, _ := certsFlags(); return fs },
		run:   runCerts,
	})
}

func certsFlags() (fs *pflag.FlagSet, hosts *[]string, out *string, days *int) {
	fs = newFlagSet("certs")
	hosts = fs.StringSlice("hosts", nil, "`names` and IP addresses the coordinator's certificate is for (required)")
	out = fs.StringP("out", "o", "wsbench-certs", "write the files into this `directory`")
	days = fs.Int("days", 30, "validity in `days`")
	return fs, hosts, out, days
}

func runCerts(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, hosts, out, days := certsFlags()
	if code, done := parseFlags("certs", fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError("certs", stderr, "certs takes no arguments")
	}
	if len(*hosts) == 0 {
		return usageError("certs", stderr, "--hosts is required: the names or addresses workers will dial")
	}
	if err := coord.GenerateCerts(*out, *hosts, *days); err != nil {
		fmt.Fprintf(stderr, "wsbench certs: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "wrote %s, %s, %s, %s, %s and %s to %s (for %s)\n",
		coord.CAFile, coord.CoordinatorCert, coord.CoordinatorKey, coord.WorkerCert, coord.WorkerKey, coord.TokenFile,
		filepath.Clean(*out), strings.Join(*hosts, ", "))
	return exitOK
}
