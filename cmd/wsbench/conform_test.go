package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/targets/refserver"
)

// serveDefaults is the configuration of a plain `wsbench serve`.
func serveDefaults() refserver.Config {
	var cfg refserver.Config
	serveFlags(&cfg)
	return cfg
}

func TestConform(t *testing.T) {
	t.Parallel()
	quickPings := serveDefaults()
	quickPings.PingInterval, quickPings.PingTimeout = 200*time.Millisecond, 300*time.Millisecond
	small := serveDefaults()
	small.MaxMessageSize = 65536
	tests := []struct {
		name   string
		cfg    refserver.Config
		args   []string
		code   int
		want   []string // in stdout
		unwant []string
	}{
		// The finding: conform against a default `wsbench serve` failed
		// three checks after 20 s of timeouts.
		// The checks that depend on settings; the others have timing
		// bounds of their own that a loaded test machine should not meet.
		{name: "default serve, default conform", cfg: serveDefaults(), args: []string{"--only", "echo,limit,ping"}, code: exitOK,
			want:   []string{"SKIP ping/server", "too long for a quick check", "PASS limit/1009", "0 failed"},
			unwant: []string{"FAIL"}},
		{name: "quick pings given to both", cfg: quickPings, args: []string{"--ping-interval", "200ms", "--ping-timeout", "300ms", "--only", "ping"}, code: exitOK,
			want: []string{"PASS ping/server", "PASS ping/timeout", "0 failed"}},
		{name: "conform assumes a smaller limit", cfg: serveDefaults(), args: []string{"--max-message-size", "65536", "--only", "limit"}, code: exitThresholds,
			want: []string{"FAIL limit/1009", "got a 65537-byte message back instead of close 1009", "hint: this check assumes the target runs with --max-message-size 65536"}},
		{name: "target has a smaller limit", cfg: small, args: []string{"--only", "echo/text"}, code: exitThresholds,
			want: []string{"FAIL echo/text", "1009", "hint: this check assumes the target runs with --max-message-size 1048576"}},
		{name: "target pings less often", cfg: serveDefaults(), args: []string{"--ping-interval", "200ms", "--ping-timeout", "300ms", "--only", "ping"}, code: exitThresholds,
			want: []string{"FAIL ping/server", "FAIL ping/timeout", "no ping within", "hint: this check assumes the target runs with --ping-interval 200ms --ping-timeout 300ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := refserver.New(tt.cfg)
			addr, err := srv.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			code, out, errOut := wsbench(t, append(append([]string{"conform"}, tt.args...), "ws://"+addr)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; output:\n%s%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.unwant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, "assuming ws://"+addr+" runs with") {
				t.Errorf("stderr does not say which settings were assumed:\n%s", errOut)
			}
			// A settings mismatch fails on what the target did, not at
			// a check's timeout.
			if strings.Contains(out, "timed out") {
				t.Errorf("a check timed out:\n%s", out)
			}
		})
	}
}
