package sshknownhosts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states/statetest"
)

// newKey makes a real ed25519 host key and returns its body and SHA256 fingerprint.
func newKey(t *testing.T) (body, fp string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, err := os.ReadFile(p + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", p+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(pub))[1], strings.Fields(string(out))[1]
}

// TestPresentAbsent keeps a real known_hosts file with ssh-keygen:
// hashed by default, found again by name, replaced when the key changes.
func TestPresentAbsent(t *testing.T) {
	systest.RequireCommands(t, "ssh-keygen")
	k1, fp1 := newKey(t)
	k2, _ := newKey(t)
	file := filepath.Join(t.TempDir(), "ssh", "known_hosts")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("other.example ssh-ed25519 "+k2+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(key string, extra ...any) map[string]any {
		m := map[string]any{"key": key, "enc": "ed25519", "config": file, "port": 2222}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	statetest.Expect(t, statetest.Run(t, "ssh_known_hosts.present", "git.example", args(k1), true), "None", true)
	if b, _ := os.ReadFile(file); strings.Contains(string(b), k1) {
		t.Fatal("test mode wrote the key")
	}
	statetest.Expect(t, statetest.Run(t, "ssh_known_hosts.present", "git.example", args(k1, "fingerprint", fp1), false), "true", true)
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), "git.example") || strings.Count(string(b), "|1|") != 2 {
		t.Errorf("known_hosts not hashed:\n%s", b)
	}
	if _, err := os.Stat(file + ".old"); err == nil {
		t.Error("ssh-keygen's backup left behind")
	}
	statetest.Expect(t, statetest.Run(t, "ssh_known_hosts.present", "git.example", args(k1), false), "true", false)
	// A new key for the host replaces the old one.
	o := statetest.Run(t, "ssh_known_hosts.present", "git.example", args(k2, "hash_known_hosts", false), false)
	statetest.Expect(t, o, "true", true)
	if o.Changes["old"] == nil {
		t.Errorf("changes %v", o.Changes)
	}
	b, _ = os.ReadFile(file)
	if !strings.Contains(string(b), "[git.example]:2222 ssh-ed25519 "+k2+"\n") || strings.Contains(string(b), k1) {
		t.Errorf("after the key changed:\n%s", b)
	}
	// A wrong fingerprint fails and writes nothing.
	o = statetest.Run(t, "ssh_known_hosts.present", "new.example", args(k1, "fingerprint", "SHA256:nope"), false)
	statetest.Expect(t, o, "false", false)
	if !strings.Contains(o.Comment, fp1) {
		t.Errorf("comment %q lacks the key's fingerprint %s", o.Comment, fp1)
	}
	rm := map[string]any{"config": file, "port": 2222}
	statetest.Expect(t, statetest.Run(t, "ssh_known_hosts.absent", "git.example", rm, true), "None", true)
	statetest.Expect(t, statetest.Run(t, "ssh_known_hosts.absent", "git.example", rm, false), "true", true)
	statetest.Expect(t, statetest.Run(t, "ssh_known_hosts.absent", "git.example", rm, false), "true", false)
	if b, _ := os.ReadFile(file); strings.Count(string(b), k2) != 1 {
		t.Errorf("absent removed another host's line:\n%s", b)
	}
}

// TestBadInput says what to give.
func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"config": "/tmp/x"}, "key is required"},
		{map[string]any{"key": "AAAA", "config": "rel/known_hosts"}, "config must be the absolute path"},
		{map[string]any{"key": "AAAA", "user": "brine-no-such-user"}, "create it first"},
	} {
		o := statetest.Run(t, "ssh_known_hosts.present", "h.example", c.raw, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, c.want) {
			t.Errorf("comment %q lacks %q", o.Comment, c.want)
		}
	}
}
