package main

import (
	"context"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/targets/refserver"
)

func TestConformExitCodes(t *testing.T) {
	tests := []struct {
		name string
		cfg  refserver.Config
		code int
		want string
	}{
		{name: "conforming", cfg: refserver.Config{MaxMessageSize: 65536}, code: exitOK, want: "0 failed"},
		{name: "broadcast drops", cfg: refserver.Config{MaxMessageSize: 65536, DropEvery: 5}, code: exitThresholds, want: "FAIL broadcast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := refserver.New(tt.cfg)
			addr, err := srv.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			code, out, errOut := wsbench(t, "conform", "--ping-interval", "0", "--only", "echo,broadcast,limit", "ws://"+addr)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want %d; output:\n%s%s", code, tt.code, out, errOut)
			}
		})
	}
}
