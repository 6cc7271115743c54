package diff

import (
	"github.com/brinecm/brine/pkg/systest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgainstGNUDiff compares the hunks with those of diff -u where the
// diff tool is installed.
func TestAgainstGNUDiff(t *testing.T) {
	systest.RequireCommands(t, "diff")
	for _, tc := range cases {
		if tc.a == tc.b {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			if err := os.WriteFile(pa, []byte(tc.a), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(pb, []byte(tc.b), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _ := exec.Command("diff", "-u", pa, pb).Output()
			gnu := string(out)
			// Drop the two header lines, which carry names and dates.
			for range 2 {
				_, gnu, _ = strings.Cut(gnu, "\n")
			}
			got := strings.TrimPrefix(Unified([]byte(tc.a), []byte(tc.b)), "--- \n+++ \n")
			if got != gnu {
				t.Errorf("hunks differ from diff -u\n--- got\n%s--- diff -u\n%s", got, gnu)
			}
		})
	}
}
