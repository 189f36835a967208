//go:build linux

package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The browser test opens rendered reports in headless Chromium, takes a
// screenshot of each and reads back what the page itself recorded on
// <html>: the script at the top of the page counts every error
// (window.onerror, unhandled rejections, console.error,
// content-security-policy violations) into data-errors, and the chart
// script sets data-charts-drawn, data-charts-failed, data-chart-geometry
// and data-report-status once it has drawn. One `chromium --dump-dom
// --screenshot` run gives both the DOM after the page ran and the pixels
// of the same layout, so no DevTools client is needed.
//
// The screenshot is the check that matters to a reader: every chart's
// plot area must have ink in the colours of its own data lines (grid,
// axes, bands and reference lines do not count), so a chart whose data
// did not draw (all gaps, off scale, a broken script) fails the test.
// TestHTMLScreenshotFindsBlankChart proves the detector on a chart broken
// on purpose.
//
// Set WSBENCH_SCREENSHOT_DIR to keep the screenshots there (and dark-theme
// ones), to look at by hand.

const chromiumPath = "/usr/bin/chromium"

// chromiumTimeout bounds one Chromium run; a hung browser fails the test
// instead of hanging it.
const chromiumTimeout = 4 * time.Minute

// chromiumAttempts is how often a Chromium run is tried: on a busy
// machine the browser now and then fails to start or to print anything.
const chromiumAttempts = 3

// windowWidth is the browser window's width in CSS pixels (at a device
// scale factor of 1, also the screenshot's).
const windowWidth = 1400

// maxWindowHeight is the tallest window the screenshot takes (Chromium's
// software compositor handles up to 16384 pixels).
const maxWindowHeight = 16000

// minInk is the fewest pixels in its data colours a chart's plot area must
// have. A chart whose data did not draw has none (grid, axes, bands and
// labels are other colours); the sparsest chart of the fixtures, closes
// per second that are zero but for two spikes, has about 250.
const minInk = 50

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

// browserSlots bounds the Chromium runs at once: two keep a two-core
// machine busy without starving the rest of the tests.
var browserSlots = make(chan struct{}, 2)

func TestHTMLInBrowser(t *testing.T) {
	requireChromium(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		page    func(t *testing.T) []byte
		height  int // initial window height; the test grows it to fit the charts
		maxSize int
	}{
		{name: "plain", page: func(t *testing.T) []byte { return renderHTML(t, plainHTMLFixture(t)) }, height: 9000},
		{name: "broadcast", page: func(t *testing.T) []byte { return renderHTML(t, broadcastHTMLFixture(t)) }, height: 9000},
		// Judged against the baseline without gating, with its report
		// at hand to overlay.
		{name: "baseline", page: func(t *testing.T) []byte {
			return renderHTMLWith(t, reportOnlyHTMLFixture(t), HTMLOptions{Baseline: htmlBaselineFixture(t), BaselineLabel: "main@yesterday"}, nil)
		}, height: 9000},
		// The full fixture is a capacity search's report: the answer
		// first, then one step's report with everything a run can have.
		{name: "capacity", page: func(t *testing.T) []byte { return renderHTML(t, htmlFixture(t)) }, height: 10000},
		{name: "two-hours", page: func(t *testing.T) []byte { return renderHTML(t, bigHTMLFixture(t)) }, height: 9000, maxSize: 5 << 20},
		{name: "failed-run", page: func(t *testing.T) []byte { return renderHTML(t, failedHTMLFixture()) }, height: 3000},
		{name: "empty", page: func(t *testing.T) []byte { return renderHTML(t, emptyHTMLFixture()) }, height: 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			page := tc.page(t)
			if tc.maxSize > 0 && len(page) >= tc.maxSize {
				t.Fatalf("HTML is %d bytes, want < %d", len(page), tc.maxSize)
			}
			data := pageData(t, page)
			shot := openInBrowser(t, dir, tc.name, page, tc.height, len(data.Charts))
			if blank := shot.blankCharts(t); len(blank) > 0 {
				t.Errorf("charts without their data in the screenshot: %v (ink in data colours: %v)", blank, shot.ink)
			}
			shot.checkServiceLines(t, data)
		})
	}
}

// checkServiceLines checks that the service view's lines on a latency
// chart (rtt_service's p50 and p99 on rtt's) drew: each has ink of its
// own colour. The chart's total ink cannot tell, since the metric's own
// lines have plenty.
func (s *browserShot) checkServiceLines(t *testing.T, data chartDataJSON) {
	t.Helper()
	labels := []string{"p50 service", "p99 service"}
	want := 0
	for _, c := range data.Charts {
		for _, sr := range c.Series {
			if slices.Contains(labels, sr.Label) {
				want++
			}
		}
	}
	checked := 0
	defer func() {
		if checked != want {
			t.Errorf("checked %d service lines in the screenshot, the page has %d", checked, want)
		}
	}()
	for _, g := range s.geometry {
		for _, label := range labels {
			c, ok := g.Lines[label]
			if !ok {
				continue
			}
			checked++
			one := g
			one.Colors = []string{c}
			n, err := dataInk(s.img, one)
			if err != nil {
				t.Fatalf("chart %s: %v", g.ID, err)
			}
			if n < minInk {
				t.Errorf("chart %s: line %q has %d pixels of its colour %s, want at least %d", g.ID, label, n, c, minInk)
			}
		}
	}
}

// TestHTMLScreenshotFindsBlankChart breaks one chart of a page on purpose
// (every value missing: the chart draws its axes and grid but no line)
// and expects the screenshot check to find exactly that chart blank,
// although the page's own check counts it as drawn.
func TestHTMLScreenshotFindsBlankChart(t *testing.T) {
	requireChromium(t)
	t.Parallel()
	broken := ""
	page := renderHTMLWith(t, failedHTMLFixture(), HTMLOptions{}, func(p *htmlPage) {
		for i := range p.Data.Charts {
			c := &p.Data.Charts[i]
			if !strings.HasSuffix(c.ID, "-errors") {
				continue
			}
			broken = c.ID
			for j := range c.Series {
				for k := range c.Series[j].Values {
					c.Series[j].Values[k] = math.NaN()
				}
			}
		}
	})
	if broken == "" {
		t.Fatal("the failed-run fixture has no errors chart to break")
	}
	shot := openInBrowser(t, t.TempDir(), "blank-chart", page, 3000, len(pageData(t, page).Charts))
	if got := shot.blankCharts(t); !slices.Equal(got, []string{broken}) {
		t.Fatalf("blank charts %v, want exactly [%s] (ink in data colours: %v)", got, broken, shot.ink)
	}
}

// chartGeometry is one entry of the page's data-chart-geometry: where a
// chart's plot area is, in CSS pixels of the page, and the colours of its
// own data lines, all and by label.
type chartGeometry struct {
	ID     string            `json:"id"`
	X      int               `json:"x"`
	Y      int               `json:"y"`
	W      int               `json:"w"`
	H      int               `json:"h"`
	Colors []string          `json:"colors"`
	Lines  map[string]string `json:"lines"`
}

// browserShot is a page as Chromium drew it.
type browserShot struct {
	attrs    map[string]string
	geometry []chartGeometry
	img      image.Image
	ink      map[string]int // pixels in data colours per chart
}

// openInBrowser writes page to dir, opens it in Chromium in the light
// theme, checks what the page recorded (its script finished, no errors,
// all want charts drawn) and returns the screenshot. The window grows
// until every chart is in it.
func openInBrowser(t *testing.T, dir, name string, page []byte, height, want int) *browserShot {
	t.Helper()
	path := filepath.Join(dir, name+".html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, name+".png")
	var shot *browserShot
	for run := 0; ; run++ {
		start := time.Now()
		dom := runChromium(t, filepath.Join(dir, fmt.Sprintf("%s-profile-%d", name, run)), height,
			"--dump-dom", "--screenshot="+png, "file://"+path+"#theme=light")
		shot = &browserShot{attrs: htmlAttrs(t, dom)}
		attrs := shot.attrs
		t.Logf("%s: %d bytes, %s charts drawn of %d, window height %d, in %v", name, len(page), attrs["data-charts-drawn"], want, height, time.Since(start).Round(time.Millisecond))
		if attrs["data-report-status"] != "done" {
			t.Fatalf("the page's script did not finish (attributes %v)", attrs)
		}
		if err := json.Unmarshal([]byte(attrs["data-chart-geometry"]), &shot.geometry); err != nil {
			t.Fatalf("data-chart-geometry: %v: %q", err, attrs["data-chart-geometry"])
		}
		bottom := 0
		for _, g := range shot.geometry {
			bottom = max(bottom, g.Y+g.H)
		}
		if bottom <= height {
			break
		}
		if run > 0 || bottom+100 > maxWindowHeight {
			t.Fatalf("charts reach down to %d pixels, beyond the %d-pixel window", bottom, height)
		}
		height = (bottom/1000 + 1) * 1000
	}
	attrs := shot.attrs
	if attrs["data-errors"] != "0" {
		t.Errorf("page reported %s errors: %s", attrs["data-errors"], attrs["data-error-messages"])
	}
	if got := attrs["data-charts-drawn"]; got != strconv.Itoa(want) {
		t.Errorf("%s charts drawn, want %d; not drawn: %q", got, want, attrs["data-charts-failed"])
	}
	if got := attrs["data-chart-containers"]; got != strconv.Itoa(want) {
		t.Errorf("%s chart containers in the page, want %d", got, want)
	}
	if len(shot.geometry) != want {
		t.Errorf("geometry of %d charts, want %d", len(shot.geometry), want)
	}
	f, err := os.Open(png)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	if shot.img, err = decodePNG(f); err != nil {
		t.Fatalf("screenshot %s: %v", png, err)
	}
	if b := shot.img.Bounds(); b.Dx() != windowWidth || b.Dy() != height {
		t.Fatalf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), windowWidth, height)
	}
	if keep := os.Getenv("WSBENCH_SCREENSHOT_DIR"); keep != "" {
		saveScreenshots(t, keep, name, png, path, height)
	}
	return shot
}

func decodePNG(f *os.File) (image.Image, error) { return png.Decode(f) }

// saveScreenshots keeps the light screenshot and takes a dark one, for
// looking at by hand.
func saveScreenshots(t *testing.T, dir, name, light, page string, height int) {
	b, err := os.ReadFile(light)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "wsbench-report-"+name+"-light.png")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dark := filepath.Join(dir, "wsbench-report-"+name+"-dark.png")
	runChromium(t, filepath.Join(t.TempDir(), "dark"), height, "--screenshot="+dark, "file://"+page+"#theme=dark")
	t.Logf("screenshots: %s, %s", dst, dark)
}

// blankCharts returns the ids of the charts whose plot area in the
// screenshot has fewer than minInk pixels in the colours of the chart's
// own data lines.
func (s *browserShot) blankCharts(t *testing.T) []string {
	t.Helper()
	s.ink = map[string]int{}
	var blank []string
	least := ""
	defer func() {
		if least != "" {
			t.Logf("least ink: %d pixels in chart %s", s.ink[least], least)
		}
	}()
	for _, g := range s.geometry {
		n, err := dataInk(s.img, g)
		if err != nil {
			t.Fatalf("chart %s: %v", g.ID, err)
		}
		s.ink[g.ID] = n
		if least == "" || n < s.ink[least] {
			least = g.ID
		}
		if n < minInk {
			blank = append(blank, g.ID)
		}
	}
	return blank
}

// dataInk counts the pixels of g's plot area drawn in one of g's data
// colours. The background is the area's most common colour; a pixel
// counts for colour c when it is closer to c than a third of the way from
// c to the background, so anti-aliased line edges and thin grey lines
// (grid, phase bands, the drain) do not.
func dataInk(img image.Image, g chartGeometry) (int, error) {
	area := image.Rect(g.X, g.Y, g.X+g.W, g.Y+g.H).Intersect(img.Bounds())
	if area.Empty() {
		return 0, fmt.Errorf("plot area %+v is outside the %v screenshot", g, img.Bounds())
	}
	var colors [][3]float64
	for _, c := range g.Colors {
		rgb, err := parseHexColor(c)
		if err != nil {
			return 0, err
		}
		colors = append(colors, rgb)
	}
	if len(colors) == 0 {
		return 0, errors.New("no data colours")
	}
	at := func(x, y int) [3]float64 {
		r, g, b, _ := img.At(x, y).RGBA()
		return [3]float64{float64(r >> 8), float64(g >> 8), float64(b >> 8)}
	}
	counts := map[[3]float64]int{}
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			counts[at(x, y)]++
		}
	}
	var bg [3]float64
	best := -1
	for c, n := range counts {
		if n > best || n == best && less(c, bg) {
			bg, best = c, n
		}
	}
	n := 0
	for px, k := range counts {
		for _, c := range colors {
			if far := dist(bg, c); far >= 40 && dist(px, c) <= far/3 {
				n += k
				break
			}
		}
	}
	return n, nil
}

func less(a, b [3]float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func dist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

func parseHexColor(s string) ([3]float64, error) {
	s = strings.TrimSpace(s)
	if len(s) != 7 || s[0] != '#' {
		return [3]float64{}, fmt.Errorf("colour %q is not #rrggbb", s)
	}
	var out [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return out, fmt.Errorf("colour %q: %w", s, err)
		}
		out[i] = float64(v)
	}
	return out, nil
}

// runChromium runs headless Chromium with a fresh profile and a window
// windowWidth × height and returns its standard output. It kills the
// browser's process group (the browser and the helpers it started,
// nothing else) when it overruns or when it is done, and tries again
// (chromiumAttempts in all) when the browser fails or prints nothing.
func runChromium(t *testing.T, profile string, height int, args ...string) []byte {
	t.Helper()
	browserSlots <- struct{}{}
	defer func() { <-browserSlots }()
	var why string
	for attempt := 1; attempt <= chromiumAttempts; attempt++ {
		out, err := runChromiumOnce(fmt.Sprintf("%s-%d", profile, attempt), height, args)
		if err == nil && (bytes.Contains(out, []byte("<html")) || !slices.Contains(args, "--dump-dom")) {
			return out
		}
		if err == nil {
			err = errors.New("printed no page")
		}
		why = err.Error()
		t.Logf("chromium attempt %d of %d: %v", attempt, chromiumAttempts, err)
	}
	t.Fatalf("chromium failed %d times; last: %s", chromiumAttempts, why)
	return nil
}

func runChromiumOnce(profile string, height int, args []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
		"--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + profile, fmt.Sprintf("--window-size=%d,%d", windowWidth, height), "--virtual-time-budget=5000",
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
		return nil, fmt.Errorf("did not finish within %v; stderr:\n%s", chromiumTimeout, tail(stderr.String(), 2000))
	}
	if err != nil {
		return nil, fmt.Errorf("%w; stderr:\n%s", err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes(), nil
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
