package launch

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a fake target (see runHelper).
const helperEnv = "LAUNCH_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is a fake target for the Start tests. Modes:
// serve (exit 0 on SIGTERM), exit3 (exit 3 on SIGTERM), ignore-term
// (ignore SIGTERM), die (fail before listening), silent (never listen).
func runHelper(mode string) int {
	switch mode {
	case "die":
		fmt.Fprintln(os.Stderr, "boom: cannot start")
		return 2
	case "silent":
		time.Sleep(time.Minute)
		return 0
	}
	term := make(chan os.Signal, 1)
	if mode == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Fprintln(os.Stderr, "helper stderr line")
	fmt.Printf("LISTENING %s\n", ln.Addr())
	<-term
	if mode == "exit3" {
		return 3
	}
	return 0
}

func startHelper(ctx context.Context, mode string) (*Process, error) {
	return Start(ctx, []string{os.Args[0], "-test.run=^$"}, []string{helperEnv + "=" + mode})
}

func TestProcessStop(t *testing.T) {
	tests := []struct {
		mode    string
		timeout time.Duration
		wantErr string // "" for a clean exit
	}{
		{"serve", 5 * time.Second, ""},
		{"exit3", 5 * time.Second, "exit status 3"},
		{"ignore-term", 300 * time.Millisecond, "was killed"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			p, err := startHelper(t.Context(), tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := net.SplitHostPort(p.Addr()); err != nil || !strings.HasPrefix(p.URL(), "ws://127.0.0.1:") {
				t.Errorf("Addr() = %q, URL() = %q", p.Addr(), p.URL())
			}
			err = p.Stop(syscall.SIGTERM, tt.timeout)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Stop: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Stop error = %v, want one containing %q", err, tt.wantErr)
			}
			select {
			case <-p.Done():
			default:
				t.Error("Done() not closed after Stop")
			}
			if again := p.Stop(syscall.SIGTERM, tt.timeout); fmt.Sprint(again) != fmt.Sprint(err) {
				t.Errorf("second Stop = %v, first = %v", again, err)
			}
			if out := p.Output(); !strings.Contains(out, "helper stderr line") || !strings.Contains(out, "LISTENING") {
				t.Errorf("Output() = %q, want stdout and stderr", out)
			}
		})
	}
}

func TestStartProcessFailures(t *testing.T) {
	t.Run("exits early", func(t *testing.T) {
		t.Parallel()
		_, err := startHelper(t.Context(), "die")
		if err == nil || !strings.Contains(err.Error(), "exited before printing LISTENING") || !strings.Contains(err.Error(), "boom") {
			t.Errorf("err = %v, want early exit with the child's stderr", err)
		}
	})
	t.Run("never listens", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		_, err := startHelper(ctx, "silent")
		if err == nil || !strings.Contains(err.Error(), "no LISTENING line") {
			t.Errorf("err = %v, want a LISTENING timeout", err)
		}
	})
	t.Run("no command", func(t *testing.T) {
		if _, err := Start(t.Context(), nil, nil); err == nil {
			t.Error("Start(nil) succeeded")
		}
	})
}
