package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/targets/refserver"
)

// startRefserver starts the Go reference server in-process with the test
// settings and shuts it down at the end of the test if it still runs.
func startRefserver(t *testing.T, cfg refserver.Config) (*refserver.Server, string) {
	t.Helper()
	srv := refserver.New(cfg)
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, "ws://" + addr
}

func TestRefserver(t *testing.T) {
	t.Parallel()
	srv, url := startRefserver(t, refserver.Config{
		PingInterval:   testPingInterval,
		PingTimeout:    testPingTimeout,
		MaxMessageSize: testMaxMessage,
	})
	rep := Check(t.Context(), url, testOptions(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}))
	requirePassed(t, rep, nil)
}

// TestCheckDetectsDroppedBroadcast makes the reference server drop broadcast
// deliveries and expects the broadcast check to fail.
func TestCheckDetectsDroppedBroadcast(t *testing.T) {
	t.Parallel()
	_, url := startRefserver(t, refserver.Config{MaxMessageSize: testMaxMessage, DropEvery: 7})
	rep := Check(t.Context(), url, Options{
		MaxMessageSize: testMaxMessage,
		CheckTimeout:   2 * time.Second,
		Only:           []string{"broadcast"},
	})
	if rep.Passed() || len(rep.Results) != 1 {
		t.Fatalf("broadcast check passed against a server dropping every 7th delivery:\n%s", rep)
	}
	if detail := rep.Results[0].Detail; !strings.Contains(detail, "member") {
		t.Errorf("failure detail does not say which member missed messages: %s", detail)
	}
}
