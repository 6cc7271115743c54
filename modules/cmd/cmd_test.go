package cmd

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/brinecm/brine/modules"
)

// TestHasExec looks for real programs: sh exists on every host, a fresh
// temporary name does not, and an executable path counts as found.
func TestHasExec(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd  string
		want bool
	}{
		{"sh", true},
		{"brine-no-such-program-" + filepath.Base(dir), false},
		{exe, true},
		{plain, false},
	}
	for _, tc := range tests {
		got, err := modules.Call(context.Background(), &modules.Runtime{}, "cmd.has_exec", []any{tc.cmd}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("cmd.has_exec(%q) = %v, want %v", tc.cmd, got, tc.want)
		}
	}
}
