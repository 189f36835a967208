//go:build linux

package report

import (
	"bytes"
	"context"
	"errors"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The browser test opens rendered reports in headless Chromium and reads
// back what the page itself recorded on <html>: the script at the top of
// the page counts every error (window.onerror, unhandled rejections,
// console.error, content-security-policy violations) into data-errors and
// the chart script sets data-charts-drawn, data-charts-failed and
// data-report-status once it has drawn. `chromium --dump-dom` prints the
// DOM after the page has run, so no DevTools client is needed.
//
// Set WSBENCH_SCREENSHOT_DIR to also save light and dark screenshots of the
// fixture and the two-hour report there, to look at by hand.

const chromiumPath = "/usr/bin/chromium"

// chromiumTimeout bounds one Chromium run; a hung browser fails the test
// instead of hanging it.
const chromiumTimeout = 90 * time.Second

// requireChromium skips a browser test without Chromium or in -short mode;
// under scripts/test, which installs Chromium and sets
// WSBENCH_TEST_REQUIRE_ALL, a missing browser fails the test instead.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("WSBENCH_TEST_REQUIRE_ALL") != "" {
			t.Fatalf("%s not found (scripts/test installs the chromium package)", chromiumPath)
		}
		t.Skipf("browser test skipped: %s not found (scripts/test installs the chromium package)", chromiumPath)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
}

func TestHTMLInBrowser(t *testing.T) {
	requireChromium(t)
	dir := t.TempDir()
	shots := os.Getenv("WSBENCH_SCREENSHOT_DIR")
	for _, tc := range []struct {
		name    string
		report  func() *Report
		maxSize int
		shoot   bool
	}{
		{name: "fixture", report: func() *Report { return htmlFixture(t) }, shoot: true},
		{name: "two-hours", report: func() *Report { return bigHTMLFixture(t) }, maxSize: 5 << 20, shoot: true},
		{name: "failed-run", report: failedHTMLFixture},
		{name: "empty", report: emptyHTMLFixture},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := renderHTML(t, tc.report())
			if tc.maxSize > 0 && len(page) >= tc.maxSize {
				t.Fatalf("HTML is %d bytes, want < %d", len(page), tc.maxSize)
			}
			want := len(pageData(t, page).Charts)
			path := filepath.Join(dir, tc.name+".html")
			if err := os.WriteFile(path, page, 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			dom := runChromium(t, filepath.Join(dir, tc.name+"-profile"), "--dump-dom", "file://"+path)
			attrs := htmlAttrs(t, dom)
			t.Logf("%s: %d bytes, %s charts drawn of %d, in %v", tc.name, len(page), attrs["data-charts-drawn"], want, time.Since(start).Round(time.Millisecond))
			if attrs["data-report-status"] != "done" {
				t.Fatalf("the page's script did not finish (attributes %v)", attrs)
			}
			if attrs["data-errors"] != "0" {
				t.Errorf("page reported %s errors: %s", attrs["data-errors"], attrs["data-error-messages"])
			}
			if got := attrs["data-charts-drawn"]; got != strconv.Itoa(want) {
				t.Errorf("%s charts drawn, want %d; not drawn: %q", got, want, attrs["data-charts-failed"])
			}
			if got := attrs["data-chart-containers"]; got != strconv.Itoa(want) {
				t.Errorf("%s chart containers in the page, want %d", got, want)
			}
			if shots != "" && tc.shoot {
				for _, theme := range []string{"light", "dark"} {
					png := filepath.Join(shots, "wsbench-report-"+tc.name+"-"+theme+".png")
					runChromium(t, filepath.Join(dir, tc.name+"-shot-"+theme), "--screenshot="+png, "--hide-scrollbars", "file://"+path+"#theme="+theme)
					t.Logf("screenshot: %s", png)
				}
			}
		})
	}
}

// runChromium runs headless Chromium with a fresh profile and returns its
// standard output. It kills the browser's process group (the browser and
// the helpers it started, nothing else) when it overruns or when it is done.
func runChromium(t *testing.T, profile string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
		"--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--user-data-dir=" + profile, "--window-size=1400,3000", "--virtual-time-budget=5000",
	}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		// Helpers that outlive the browser belong to its group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium did not finish within %v; stderr:\n%s", chromiumTimeout, tail(stderr.String(), 2000))
	}
	if err != nil {
		t.Fatalf("chromium: %v; stderr:\n%s", err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

var (
	htmlTagRe = regexp.MustCompile(`(?s)<html\b[^>]*>`)
	attrRe    = regexp.MustCompile(`([a-zA-Z0-9_-]+)="([^"]*)"`)
)

// htmlAttrs returns the attributes of the dumped page's <html> element.
func htmlAttrs(t *testing.T, dom []byte) map[string]string {
	t.Helper()
	tag := htmlTagRe.Find(dom)
	if tag == nil {
		t.Fatalf("chromium printed no <html> element:\n%s", tail(string(dom), 1000))
	}
	attrs := map[string]string{}
	for _, m := range attrRe.FindAllSubmatch(tag, -1) {
		attrs[string(m[1])] = html.UnescapeString(string(m[2]))
	}
	return attrs
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
