package sshauth

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

const (
	testUser = "brine-test-sshauth"
	key1     = "AAAAC3NzaC1lZDI1NTE5AAAAIBrineTestKeyOne000000000000000000000000000"
	key2     = "AAAAC3NzaC1lZDI1NTE5AAAAIBrineTestKeyTwo000000000000000000000000000"
)

// treeEnv serves a state tree from a map, for the source argument.
type treeEnv map[string]string

func (e treeEnv) Source(_ context.Context, url string) ([]byte, error) {
	if s, ok := e[url]; ok {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("%s: no such file in the state tree", url)
}

func (treeEnv) Render(context.Context, string, string, []byte, map[string]any) ([]byte, error) {
	return nil, fmt.Errorf("no renderer")
}

// needUser creates a throwaway user whose home is a temporary directory.
func needUser(t *testing.T) string {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "useradd", "userdel")
	home := filepath.Join(t.TempDir(), "home")
	clean := func() { exec.Command("userdel", testUser).Run() } // absent already is fine
	clean()
	t.Cleanup(clean)
	if out, err := exec.Command("useradd", "-m", "-d", home, testUser).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	return home
}

func run(t *testing.T, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	if _, ok := raw["user"]; !ok {
		raw["user"] = testUser
	}
	env := treeEnv{"salt://keys/team.pub": "# the team\nssh-ed25519 " + key1 + " one@x\n\nssh-ed25519 " + key2 + " two@x\n"}
	return statetest.Apply(t, fun, raw, &states.Call{ID: name, Name: name, Test: test, Env: env})
}

// TestPresentAbsent authorizes and removes keys of a throwaway user:
// test mode writes nothing, the new .ssh belongs to the user with sshd's
// modes, the second apply changes nothing, lines brine does not manage stay.
func TestPresentAbsent(t *testing.T) {
	home := needUser(t)
	file := filepath.Join(home, ".ssh/authorized_keys")
	statetest.Expect(t, run(t, "ssh_auth.present", key1, map[string]any{"enc": "ed25519", "comment": "one@x"}, true), "None", true)
	if _, err := os.Stat(file); err == nil {
		t.Fatal("test mode wrote the key file")
	}
	o := run(t, "ssh_auth.present", key1, map[string]any{"enc": "ed25519", "comment": "one@x"}, false)
	statetest.Expect(t, o, "true", true)
	if o.Changes[key1] != "New" {
		t.Errorf("changes %v", o.Changes)
	}
	b, _ := os.ReadFile(file)
	if string(b) != "ssh-ed25519 "+key1+" one@x\n" {
		t.Errorf("authorized_keys = %q", b)
	}
	for p, mode := range map[string]os.FileMode{file: 0o600, filepath.Dir(file): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		out, _ := exec.Command("id", "-u", testUser).Output()
		if fi.Mode() != mode || fmt.Sprint(st.Uid) != strings.TrimSpace(string(out)) {
			t.Errorf("%s: mode %v uid %d, want %v owned by %s", p, fi.Mode(), st.Uid, mode, out)
		}
	}
	statetest.Expect(t, run(t, "ssh_auth.present", key1, map[string]any{"enc": "ed25519", "comment": "one@x"}, false), "true", false)
	// A whole line as name, with options: updates the same key in place.
	line := `no-pty,command="echo a,b" ssh-ed25519 ` + key1 + " one@x"
	o = run(t, "ssh_auth.present", line, map[string]any{}, false)
	statetest.Expect(t, o, "true", true)
	if b, _ := os.ReadFile(file); string(b) != line+"\n" {
		t.Errorf("after update: %q", b)
	}
	statetest.Expect(t, run(t, "ssh_auth.present", line, map[string]any{}, false), "true", false)
	// A source file's keys: key1 differs only in options (the file's line has none).
	o = run(t, "ssh_auth.present", "team", map[string]any{"source": "salt://keys/team.pub"}, false)
	statetest.Expect(t, o, "true", true)
	if len(o.Changes) != 2 || o.Changes[key2] != "New" || o.Changes[key1] != "Updated" {
		t.Errorf("source changes %v", o.Changes)
	}
	statetest.Expect(t, run(t, "ssh_auth.present", "team", map[string]any{"source": "salt://keys/team.pub"}, false), "true", false)

	statetest.Expect(t, run(t, "ssh_auth.absent", key1, map[string]any{}, true), "None", true)
	statetest.Expect(t, run(t, "ssh_auth.absent", key1, map[string]any{}, false), "true", true)
	statetest.Expect(t, run(t, "ssh_auth.absent", key1, map[string]any{}, false), "true", false)
	if b, _ := os.ReadFile(file); string(b) != "ssh-ed25519 "+key2+" two@x\n" {
		t.Errorf("after absent: %q", b)
	}
	// An absolute config with %u.
	other := filepath.Join(home, "keys-%u")
	statetest.Expect(t, run(t, "ssh_auth.present", key2, map[string]any{"enc": "ssh-ed25519", "config": other}, false), "true", true)
	if _, err := os.Stat(filepath.Join(home, "keys-"+testUser)); err != nil {
		t.Errorf("config with %%u: %v", err)
	}
}

// TestBadInput fails with messages saying what to fix.
func TestBadInput(t *testing.T) {
	needUser(t)
	for _, c := range []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"two words", map[string]any{}, "is not a public key"},
		{"x", map[string]any{"source": "salt://missing.pub"}, "read source salt://missing.pub"},
		{"x", map[string]any{"source": "salt://keys/team.pub", "user": "brine-no-such-user"}, "create it first"},
	} {
		o := run(t, "ssh_auth.present", c.name, c.raw, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, c.want) {
			t.Errorf("%s: comment %q lacks %q", c.name, o.Comment, c.want)
		}
	}
}

func TestParseLine(t *testing.T) {
	for in, want := range map[string]string{
		"ssh-rsa AAA c d":                         "ssh-rsa AAA c d",
		`from="a,b",no-pty ecdsa-sha2-nistp256 K`: `from="a,b",no-pty ecdsa-sha2-nistp256 K`,
		"# comment":                               "",
		"":                                        "",
	} {
		k, ok := parseLine(in)
		if got := map[bool]string{true: k.String(), false: ""}[ok]; got != want {
			t.Errorf("parseLine(%q) = %q, want %q", in, got, want)
		}
	}
	if k, _ := parseLine(`from="a,b",no-pty ssh-ed25519 K`); len(k.Options) != 2 {
		t.Errorf("options %q", k.Options)
	}
}
