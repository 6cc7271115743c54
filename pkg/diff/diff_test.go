package diff

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func lines(n int, prefix string) string {
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "%s%d\n", prefix, i)
	}
	return sb.String()
}

var cases = []struct {
	name string
	a, b string
}{
	{"both_empty", "", ""},
	{"equal", "a\nb\nc\n", "a\nb\nc\n"},
	{"from_empty", "", "one\ntwo\n"},
	{"to_empty", "one\ntwo\n", ""},
	{"only_additions", "a\nb\nc\n", "a\nx\nb\nc\ny\n"},
	{"only_deletions", "a\nb\nc\nd\n", "b\nd\n"},
	{"change_middle", lines(10, "l"), strings.Replace(lines(10, "l"), "l5\n", "five\n", 1)},
	{"no_newline_old", "a\nb", "a\nb\n"},
	{"no_newline_new", "a\nb\n", "a\nb"},
	{"no_newline_both", "a\nb", "a\nc"},
	{"from_empty_no_newline", "", "x"},
	{"distant_hunks", lines(30, "l"), strings.NewReplacer("l2\n", "two\n", "l28\n", "twentyeight\n").Replace(lines(30, "l"))},
	{"close_hunks_merge", lines(20, "l"), strings.NewReplacer("l5\n", "five\n", "l11\n", "eleven\n").Replace(lines(20, "l"))},
	{"replace_all", "a\nb\n", "c\nd\n"},
}

func TestUnifiedGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Unified([]byte(tc.a), []byte(tc.b))
			golden := filepath.Join("testdata", tc.name+".diff")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("diff mismatch\n--- got\n%s\n--- want\n%s", got, want)
			}
			if tc.a == tc.b && got != "" {
				t.Errorf("equal inputs gave a diff: %q", got)
			}
			if tc.a != tc.b {
				if patched := apply(t, tc.a, got); patched != tc.b {
					t.Errorf("applying the diff gave %q, want %q", patched, tc.b)
				}
			}
		})
	}
}

func TestUnifiedHeaders(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"insert into empty", "", "x\n", "--- \n+++ \n@@ -0,0 +1 @@\n+x\n"},
		{"delete all", "x\ny\n", "", "--- \n+++ \n@@ -1,2 +0,0 @@\n-x\n-y\n"},
		{"missing newline", "x", "x\n", "--- \n+++ \n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unified([]byte(tt.a), []byte(tt.b)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUnifiedRandom checks on random inputs that the diff turns a into b
// and that it is minimal: as many changed lines as the longest common
// subsequence allows.
func TestUnifiedRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 500 {
		a := randomText(r, r.IntN(40))
		b := mutate(r, a)
		d := Unified([]byte(a), []byte(b))
		if a == b {
			if d != "" {
				t.Fatalf("iteration %d: equal inputs gave a diff", iter)
			}
			continue
		}
		if got := apply(t, a, d); got != b {
			t.Fatalf("iteration %d: applying diff gave %q, want %q\n%s", iter, got, b, d)
		}
		la, lb := splitLines([]byte(a)), splitLines([]byte(b))
		want := len(la) + len(lb) - 2*lcs(la, lb)
		if got := countChanges(d); got != want {
			t.Fatalf("iteration %d: %d changed lines, minimal is %d\n%s", iter, got, want, d)
		}
	}
}

func randomText(r *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteString(strconv.Itoa(r.IntN(6)))
		sb.WriteByte('\n')
	}
	if n > 0 && r.IntN(4) == 0 {
		return strings.TrimSuffix(sb.String(), "\n")
	}
	return sb.String()
}

func mutate(r *rand.Rand, s string) string {
	ls := strings.SplitAfter(s, "\n")
	var out []string
	for _, l := range ls {
		switch r.IntN(5) {
		case 0: // drop
		case 1:
			out = append(out, strconv.Itoa(r.IntN(6))+"\n", l)
		default:
			out = append(out, l)
		}
	}
	if r.IntN(3) == 0 {
		out = append(out, strconv.Itoa(r.IntN(6)))
	}
	return strings.Join(out, "")
}

func lcs(a, b [][]byte) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if bytes.Equal(a[i-1], b[j-1]) {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func countChanges(d string) int {
	n := 0
	for _, l := range strings.Split(d, "\n") {
		if (strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "--- ")) ||
			(strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++ ")) {
			n++
		}
	}
	return n
}

// apply applies a unified diff produced by Unified to a, checking every
// context and deleted line against a.
func apply(t *testing.T, a, d string) string {
	t.Helper()
	src := strings.SplitAfter(a, "\n")
	if len(src) > 0 && src[len(src)-1] == "" {
		src = src[:len(src)-1]
	}
	dl := strings.SplitAfter(d, "\n")
	if len(dl) < 2 || dl[0] != "--- \n" || dl[1] != "+++ \n" {
		t.Fatalf("bad headers in %q", d)
	}
	var out []string
	pos := 0
	var last *string // last line written or consumed, for the no-newline marker
	for k := 2; k < len(dl); k++ {
		l := dl[k]
		switch {
		case l == "":
		case strings.HasPrefix(l, "@@ -"):
			var aStart int
			fields := strings.Fields(l)
			rng := strings.Split(strings.TrimPrefix(fields[1], "-"), ",")
			aStart, _ = strconv.Atoi(rng[0])
			if len(rng) == 1 || rng[1] != "0" {
				aStart--
			}
			out = append(out, src[pos:aStart]...)
			pos = aStart
		case l == "\\ No newline at end of file\n":
			*last = strings.TrimSuffix(*last, "\n")
		default:
			body := l[1:]
			switch l[0] {
			case ' ', '-':
				if pos >= len(src) || strings.TrimSuffix(src[pos], "\n") != strings.TrimSuffix(body, "\n") {
					t.Fatalf("diff line %q does not match source line %d", l, pos)
				}
				if l[0] == ' ' {
					out = append(out, src[pos])
					last = &out[len(out)-1]
					*last = body
				} else {
					throwaway := body
					last = &throwaway
				}
				pos++
			case '+':
				out = append(out, body)
				last = &out[len(out)-1]
			default:
				t.Fatalf("unexpected diff line %q", l)
			}
		}
	}
	out = append(out, src[pos:]...)
	return strings.Join(out, "")
}

func BenchmarkUnifiedEqual(b *testing.B) {
	a := []byte(lines(10000, "line "))
	c := bytes.Clone(a)
	b.ReportAllocs()
	for b.Loop() {
		if Unified(a, c) != "" {
			b.Fatal("diff of equal inputs")
		}
	}
}

func BenchmarkUnifiedFewChanges(b *testing.B) {
	a := lines(10000, "line ")
	c := strings.NewReplacer("line 10\n", "ten\n", "line 5000\n", "", "line 9999\n", "x\nline 9999\n").Replace(a)
	b.ReportAllocs()
	for b.Loop() {
		Unified([]byte(a), []byte(c))
	}
}

func BenchmarkUnifiedDissimilar(b *testing.B) {
	a := lines(2000, "a")
	c := lines(2000, "b")
	b.ReportAllocs()
	for b.Loop() {
		Unified([]byte(a), []byte(c))
	}
}
