package main

import (
	"github.com/wsbench/wsbench/targets/catalog"

	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Every command reports a bad flag with the error, its usage line and a
// hint, on stderr, and exits 2; the finding was that most printed nothing.
func TestBadFlagEveryCommand(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames() {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := wsbench(t, name, "--no-such-flag", "x")
			if code != exitCannotStart || out != "" {
				t.Fatalf("exit %d, stdout %q", code, out)
			}
			for _, want := range []string{
				"wsbench " + name + ": unknown flag: --no-such-flag",
				"Usage: wsbench " + name,
				"Run 'wsbench " + name + " --help'",
			} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

// The cases of the finding, with the message each must give.
func TestBadFlagMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--duraton", "3s", "testdata/gate-pass.yaml"}, "unknown flag: --duraton (did you mean --duration?)"},
		{[]string{"run", "--clients=abc", "testdata/gate-pass.yaml"}, `invalid argument "abc" for "--clients" flag`},
		{[]string{"run", "testdata/gate-pass.yaml", "--json"}, "flag needs an argument: --json"},
		{[]string{"validate", "--json", "testdata/gate-pass.yaml"}, "unknown flag: --json"},
		{[]string{"report", "--formt", "text", "r.json"}, "did you mean --format?"},
		{[]string{"compare", "--fail-on-regresion", "10%", "a.json", "b.json"}, "did you mean --fail-on-regression?"},
		{[]string{"capacity", "--slo"}, "flag needs an argument: --slo"},
		{[]string{"conform", "--ping-interval", "often", "ws://127.0.0.1:1"}, `invalid argument "often" for "--ping-interval" flag`},
		{[]string{"serve", "--addr"}, "flag needs an argument: --addr"},
		{[]string{"merge", "-x", "a.json"}, "unknown shorthand flag: 'x' in -x"},
		{[]string{"run"}, "want one scenario file, got 0 arguments"},
		{[]string{"compare", "a.json"}, "want two reports"},
		{[]string{"merge", "a.json"}, "-o (--output) is required"},
		{[]string{"completion", "fish"}, `unknown shell "fish"`},
		{[]string{"--duration", "3s"}, `"--duration": a command comes first`},
	}
	for _, tt := range tests {
		code, out, errOut := wsbench(t, tt.args...)
		if code != exitCannotStart || out != "" || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "Usage: wsbench") {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant %q and the usage line", tt.args, code, out, errOut, tt.want)
		}
	}
}

// --help prints the usage and every flag on stdout and exits 0.
func TestHelpEveryCommand(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames() {
		code, out, errOut := wsbench(t, name, "--help")
		if code != exitOK || errOut != "" || !strings.HasPrefix(out, "Usage: wsbench "+name) {
			t.Errorf("%s --help: exit %d, stderr %q, stdout:\n%s", name, code, errOut, out)
			continue
		}
		commands[name].flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !strings.Contains(out, "--"+f.Name) {
				t.Errorf("%s --help does not list --%s", name, f.Name)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"version"}, {"-V"}} {
		code, out, errOut := wsbench(t, args...)
		if code != exitOK || errOut != "" || !strings.HasPrefix(out, "wsbench ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	rev := "67555c6e80c5298280764744f5497da521ac35e3"
	tests := []struct {
		name        string
		b           buildInfo
		short, long string
	}{
		{"release build", buildInfo{ldflags: "v1.2.0", module: "v1.2.0", revision: rev, time: "2026-11-30T21:18:24Z"},
			"v1.2.0", "wsbench v1.2.0 (commit 67555c6e80c5, committed 2026-11-30T21:18:24Z)"},
		{"go build in a checkout", buildInfo{module: "v0.0.0-20261130211824-67555c6e80c5", revision: rev, time: "2026-11-30T21:18:24Z", modified: true},
			"v0.0.0-20261130211824-67555c6e80c5", "(commit 67555c6e80c5, committed 2026-11-30T21:18:24Z, with uncommitted changes)"},
		{"devel with a commit", buildInfo{module: "(devel)", revision: rev, modified: true},
			"devel+67555c6e80c5-dirty", "wsbench devel (commit 67555c6e80c5, with uncommitted changes)"},
		{"go run", buildInfo{module: "(devel)"},
			"devel", "wsbench devel (no commit recorded: built by go run or go test"},
	}
	for _, tt := range tests {
		tt.b.goVer = "go1.26.8"
		if got := shortVersion(tt.b); got != tt.short {
			t.Errorf("%s: short %q, want %q", tt.name, got, tt.short)
		}
		if got := longVersion(tt.b); !strings.Contains(got, tt.long) || !strings.Contains(got, "go1.26.8 "+runtime.GOOS) {
			t.Errorf("%s: long %q, want it to contain %q", tt.name, got, tt.long)
		}
	}
}

// The completion scripts name every command and flag, are valid shell,
// and complete in a real bash.
func TestCompletion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, shell := range []string{"bash", "zsh"} {
		code, script, errOut := wsbench(t, "completion", shell)
		if code != exitOK || errOut != "" {
			t.Fatalf("completion %s: exit %d: %s", shell, code, errOut)
		}
		// A flag hidden in one command (coordinate hides run's --shard)
		// may still be shown for another.
		visible := map[string]bool{}
		for _, name := range commandNames() {
			commands[name].flags().VisitAll(func(f *pflag.Flag) { visible[f.Name] = visible[f.Name] || !f.Hidden })
		}
		for _, name := range commandNames() {
			if !strings.Contains(script, name) {
				t.Errorf("%s script lacks the command %s", shell, name)
			}
			commands[name].flags().VisitAll(func(f *pflag.Flag) {
				shown := strings.Contains(script, "--"+f.Name)
				if !f.Hidden && !shown || f.Hidden && !visible[f.Name] && shown {
					t.Errorf("%s script: %s --%s shown %v, hidden %v", shell, name, f.Name, shown, f.Hidden)
				}
			})
		}
		path := filepath.Join(dir, "wsbench."+shell)
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		sh, err := exec.LookPath(shell)
		if err != nil {
			missingTool(t, "%s not installed", shell)
			continue
		}
		if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, out)
		}
		if shell == "zsh" {
			// Sourced, it registers itself with compdef (a stub here:
			// the real compinit takes seconds to scan $fpath).
			prog := "compdef() { print -r -- \"$*\" }; source " + shellQuote(path)
			out, err := exec.Command(sh, "-f", "-c", prog).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "_wsbench wsbench" {
				t.Errorf("zsh did not register the completion: %v\n%s", err, out)
			}
		}
	}

	// Complete a few command lines in bash, as a user pressing Tab would.
	bash, err := exec.LookPath("bash")
	if err != nil {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "r.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line string // the words; the last one is being completed
		want []string
		not  []string
	}{
		{"wsbench ru", []string{"run"}, nil},
		{"wsbench run --du", []string{"--duration"}, nil},
		{"wsbench run --start-target tor", []string{"tornado"}, nil},
		{"wsbench compare --format ", []string{"text", "markdown", "json"}, nil},
		{"wsbench run " + dir + "/", []string{dir + "/s.yaml"}, []string{dir + "/r.json"}},
		{"wsbench report " + dir + "/", []string{dir + "/r.json"}, []string{dir + "/s.yaml"}},
		{"wsbench completion ", []string{"bash", "zsh"}, nil},
		{"wsbench help co", []string{"compare", "completion", "conform"}, []string{"run"}},
		{"wsbench capacity --variable=", []string{"clients", "arrival_rate", "message_rate"}, nil},
	}
	for _, tt := range tests {
		words := strings.Fields(tt.line)
		if strings.HasSuffix(tt.line, " ") {
			words = append(words, "")
		}
		if strings.HasSuffix(tt.line, "=") {
			// bash splits --flag=value at "=".
			last := strings.TrimSuffix(words[len(words)-1], "=")
			words = append(words[:len(words)-1], last, "=")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, shellQuote(w))
		}
		prog := "source " + shellQuote(filepath.Join(dir, "wsbench.bash")) + "\n" +
			"COMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
			"COMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n" +
			"_wsbench\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command(bash, "-c", prog).CombinedOutput()
		if err != nil {
			t.Errorf("%q: %v\n%s", tt.line, err, out)
			continue
		}
		got := strings.Fields(string(out))
		for _, w := range tt.want {
			if !contains(got, w) {
				t.Errorf("%q completes to %q, want %q among them", tt.line, got, w)
			}
		}
		for _, w := range tt.not {
			if contains(got, w) {
				t.Errorf("%q completes to %q, which should not include %q", tt.line, got, w)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// missingTool skips a test that needs a program which is not installed,
// or fails it under scripts/test, which installs it.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("WSBENCH_TEST_REQUIRE_ALL") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// wsbench targets lists the catalog, and --names is what scripts read.
func TestTargetsCommand(t *testing.T) {
	t.Parallel()
	code, out, errOut := wsbench(t, "targets", "--names")
	if code != exitOK || errOut != "" || strings.Join(strings.Fields(out), ",") != strings.Join(catalog.Names(), ",") {
		t.Fatalf("targets --names: exit %d, %q, stderr %q", code, out, errOut)
	}
	code, out, _ = wsbench(t, "targets")
	if code != exitOK || !strings.Contains(out, "python3-tornado") || !strings.Contains(out, "FRAMEWORK") {
		t.Fatalf("targets: exit %d:\n%s", code, out)
	}
}
