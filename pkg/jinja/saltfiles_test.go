package jinja

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSaltFileFilters runs Salt's file filters on real files when the
// renderer allows reading the host's files.
func TestSaltFileFilters(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("text.conf", []byte("port = 80\n"))
	write("empty", nil)
	write("blob.bin", []byte{0x7f, 'E', 'L', 'F', 0, 1, 2, 3, 0xff})
	write("sub/deeper/x.txt", []byte("x"))
	env := New(Options{HostFiles: true})
	cases := []struct {
		name, src, want string
	}{
		{"is_text_file", "{{ (d ~ '/blob.bin')|is_text_file }} {{ (d ~ '/text.conf')|is_text_file }} {{ (d ~ '/missing')|is_text_file }}", "False True False"},
		{"is_bin_file", "{{ (d ~ '/blob.bin')|is_bin_file }} {{ (d ~ '/text.conf')|is_bin_file }} {{ (d ~ '/empty')|is_bin_file }} {{ d|is_bin_file }}", "True False False False"},
		{"is_empty", "{{ (d ~ '/empty')|is_empty }} {{ (d ~ '/text.conf')|is_empty }} {{ (d ~ '/missing')|is_empty }}", "True False False"},
		// sha256 and md5 of "port = 80\n".
		{"file_hashsum", "{{ (d ~ '/text.conf')|file_hashsum }} {{ (d ~ '/text.conf')|file_hashsum('md5') }}",
			"01ea9bc79534a121a5064df3ce29bd12954dd9356c182bbee81013a15185ee1c d500cb86dca55eb01e233ac0d48b3ed8"},
		{"list_files", "{{ (d ~ '/sub')|list_files|map('replace', d, '')|list }}", "['/sub', '/sub/deeper', '/sub/deeper/x.txt']"},
		{"which", "{{ 'sh'|which is string }} {{ 'no-such-command-brine'|which }}", "True None"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := env.Render(context.Background(), "files.sls", []byte(tc.src), map[string]any{"d": dir})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got %q, want %q", out, tc.want)
			}
		})
	}
	t.Run("refused without HostFiles", func(t *testing.T) {
		_, err := New(Options{}).Render(context.Background(), "files.sls", []byte("{{ d|list_files }}"), map[string]any{"d": dir})
		if err == nil || !strings.Contains(err.Error(), "list_files filter reads the rendering host's files") {
			t.Fatalf("err = %v, want the list_files refusal", err)
		}
	})
}
