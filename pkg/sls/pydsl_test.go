package sls

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPyDSLWithoutPython: on a host without python3 a pydsl SLS fails to
// compile with an error that names the file and says what to install.
func TestPyDSLWithoutPython(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.sls"), []byte("#!pydsl\nstate('a').test.nop()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // a PATH with no python3 on it
	_, err := New(Config{FileRoots: []string{dir}, ID: "m", PyDSL: true}).SLS(context.Background(), "p")
	if err == nil {
		t.Fatal("a pydsl SLS compiled without python3")
	}
	want := "p.sls:1: the pydsl renderer needs python3 on the host that renders; install python3"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to hold %q", err, want)
	}
}

// TestPyDSLOff: without the pydsl key a pydsl SLS is refused, and
// python3 is never started (PATH holds none, and the error is not the
// missing-python3 one).
func TestPyDSLOff(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.sls"), []byte("#!pydsl\nstate('a').test.nop()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err := New(Config{FileRoots: []string{dir}, ID: "m"}).SLS(context.Background(), "p")
	want := "p.sls:1: the pydsl renderer runs Python with brine's rights on the host that renders, and is off: set pydsl: True"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want it to hold %q", err, want)
	}
}

func TestIsPyDSL(t *testing.T) {
	for src, want := range map[string]bool{
		"#!pydsl\nstate('a')":         true,
		"#! pydsl \n":                 true,
		"#!pydsl|stateconf -ps\n":     true,
		"#!jinja|yaml\na: test.nop\n": false,
		"#!py\n":                      false,
		"a: test.nop\n#!pydsl\n":      false,
		"":                            false,
	} {
		if got := isPyDSL([]byte(src)); got != want {
			t.Errorf("isPyDSL(%q) = %v, want %v", src, got, want)
		}
	}
}
