package jinja

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/dict"
)

// conformanceCase is one template of the conformance corpus with its
// expected output or a substring of its expected error.
type conformanceCase struct {
	file, name string
	line       int
	src        string
	want       string
	wantErr    string
	isErr      bool
}

// readConformance parses a corpus file: "# comment" lines before the first
// case, then cases of the form "=== name", template, "--- want" or
// "--- error", expectation. The newline before each marker is not part of
// the template or the expectation.
func readConformance(t *testing.T, path string) []conformanceCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		cases []conformanceCase
		cur   *conformanceCase
		part  *bytes.Buffer
		src   bytes.Buffer
		exp   bytes.Buffer
	)
	flush := func() {
		if cur == nil {
			return
		}
		cur.src = strings.TrimSuffix(src.String(), "\n")
		e := strings.TrimSuffix(exp.String(), "\n")
		if cur.isErr {
			cur.wantErr = e
		} else {
			cur.want = e
		}
		cases = append(cases, *cur)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "=== "):
			flush()
			cur = &conformanceCase{file: filepath.Base(path), name: line[4:], line: n}
			src.Reset()
			exp.Reset()
			part = &src
		case cur != nil && (line == "--- want" || line == "--- error"):
			cur.isErr = line == "--- error"
			part = &exp
		case part != nil:
			part.WriteString(line)
			part.WriteByte('\n')
		case line != "" && !strings.HasPrefix(line, "#"):
			t.Fatalf("%s:%d: text before the first case", path, n)
		}
	}
	flush()
	return cases
}

// conformanceCall answers test.echo with its first argument and
// pillar.get from the conformance pillar.
func conformanceCall(pillar map[string]any) CallFunc {
	return func(_ context.Context, fun string, args []any, _ map[string]any) (any, error) {
		switch fun {
		case "test.echo":
			return args[0], nil
		case "pillar.get":
			v, _ := dict.Traverse(pillar, fmt.Sprint(args[0]), dict.DefaultDelimiter)
			return v, nil
		}
		return nil, fmt.Errorf("unknown function %s", fun)
	}
}

// TestConformance renders the corpus in testdata/conformance: Jinja2's
// documented semantics and Salt's extensions, each case with the output
// Jinja2 and Salt give.
func TestConformance(t *testing.T) {
	files, err := filepath.Glob("testdata/conformance/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	pillar := map[string]any{
		"web": map[string]any{"port": 8080, "users": []any{"ann", "bob"}},
		"app": map[string]any{"user": "svc"},
	}
	env := New(Options{Loader: dirLoader(tree), Call: conformanceCall(pillar)})
	total, passed := 0, 0
	for _, file := range files {
		for _, tc := range readConformance(t, file) {
			total++
			ok := t.Run(tc.file+"/"+tc.name, func(t *testing.T) {
				vars := map[string]any{
					"grains": map[string]any{"os": "Debian", "os_family": "Debian", "id": "web1"},
					"pillar": pillar,
				}
				out, err := env.Render(context.Background(), "conformance.sls", []byte(tc.src), vars)
				if tc.isErr {
					var te *Error
					if err == nil {
						t.Fatalf("%s:%d: rendered %q, want an error containing %q", tc.file, tc.line, out, tc.wantErr)
					}
					if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("%s:%d: error %v, want an *Error containing %q", tc.file, tc.line, err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s:%d: %v", tc.file, tc.line, err)
				}
				if string(out) != tc.want {
					t.Fatalf("%s:%d:\n got %q\nwant %q", tc.file, tc.line, out, tc.want)
				}
			})
			if ok {
				passed++
			}
		}
	}
	t.Logf("conformance: %d of %d cases pass", passed, total)
}
