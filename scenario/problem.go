package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxProblemsShown is how many problems Problems.Error lists before it
// says how many more there are: past that, the first ones are the ones to
// fix.
const MaxProblemsShown = 20

// Problem is one thing wrong with a scenario file, located by line and
// column (1-based; 0 when unknown) and by field path, written as the user
// wrote it (message.rate for the short form, not the flow it expands to).
type Problem struct {
	File  string
	Line  int
	Col   int
	Field string // e.g. flows[0].steps[2].echo.rate
	Msg   string
	// Excerpt is the source up to the problem's line, that line marked
	// with > and a caret under the column; set for the problems found
	// while reading the YAML (syntax, unknown fields, wrong types,
	// environment variables), where seeing the text helps most.
	Excerpt string

	excerpt bool // Parse is to fill in Excerpt
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
		} else {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Excerpt != "" {
		b.WriteString("\n")
		b.WriteString(p.Excerpt)
	}
	return b.String()
}

// Problems is every problem found in one file, in file order.
type Problems []Problem

// Error lists the problems, one per line (with its excerpt, if any), at
// most MaxProblemsShown of them.
func (ps Problems) Error() string {
	n := min(len(ps), MaxProblemsShown)
	lines := make([]string, n, n+1)
	for i, p := range ps[:n] {
		lines[i] = p.Error()
	}
	if more := len(ps) - n; more > 0 {
		what := "problems"
		if more == 1 {
			what = "problem"
		}
		lines = append(lines, fmt.Sprintf("%s: and %d more %s", ps[0].File, more, what))
	}
	return strings.Join(lines, "\n")
}

// excerpt renders the lines before line (up to three) and line itself,
// marked with >, with a caret under column col.
func excerpt(src []byte, line, col int) string {
	lines := strings.Split(string(src), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	width := max(3, len(strconv.Itoa(line)))
	var b strings.Builder
	for i := max(1, line-3); i <= line; i++ {
		mark := ' '
		if i == line {
			mark = '>'
		}
		fmt.Fprintf(&b, "%c%*d | %s\n", mark, width, i, strings.TrimRight(lines[i-1], "\r"))
	}
	if col < 1 {
		return strings.TrimSuffix(b.String(), "\n")
	}
	b.WriteString(strings.Repeat(" ", width+4))
	// The caret line copies the tabs of the marked line, so that the
	// caret lines up however wide a terminal shows a tab.
	for i, r := range []rune(lines[line-1]) {
		if i >= col-1 {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("^")
	return b.String()
}

// finish makes problems ready to show: the file name on each, excerpts
// where wanted, sorted by position (the scenario file's first, then each
// data file's) and without duplicates.
func finish(name string, src []byte, ps Problems) Problems {
	for i := range ps {
		if ps[i].File == "" {
			ps[i].File = name
		}
		if ps[i].excerpt && ps[i].Excerpt == "" && ps[i].File == name && ps[i].Line > 0 {
			ps[i].Excerpt = excerpt(src, ps[i].Line, ps[i].Col)
		}
	}
	fileRank := map[string]int{name: 0}
	for _, p := range ps {
		if _, ok := fileRank[p.File]; !ok {
			fileRank[p.File] = len(fileRank)
		}
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := fileRank[a.File] - fileRank[b.File]; c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	return dedupe(ps)
}

// dedupe drops repeated problems (one value reached through two paths, as
// the short form's message and the flow it expands to), keeping the order.
func dedupe(ps Problems) Problems {
	type key struct {
		file, field, msg string
		line, col        int
	}
	seen := map[key]bool{}
	out := ps[:0]
	for _, p := range ps {
		k := key{p.File, p.Field, p.Msg, p.Line, p.Col}
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}
