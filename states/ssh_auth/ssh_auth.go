// Package sshauth provides ssh_auth.present and ssh_auth.absent: public
// keys in a user's authorized_keys file.
package sshauth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("ssh_auth.present", states.Func[Args]{
		Doc: "Ensures the public key name (the key's base64 body, or a whole authorized_keys line) is " +
			"authorized for user, with enc (ssh-rsa by default), comment and options; source names a file " +
			"of keys (salt://...) to authorize instead. config is the file (.ssh/authorized_keys below the " +
			"user's home by default; %h and %u expand as in sshd_config).",
		Apply: func(ctx context.Context, c *states.Call, a *Args) states.Outcome { return apply(ctx, c, a, true) },
	})
	states.Register("ssh_auth.absent", states.Func[Args]{
		Doc:   "Ensures the public key name (or every key of the file source) is not authorized for user.",
		Apply: func(ctx context.Context, c *states.Call, a *Args) states.Outcome { return apply(ctx, c, a, false) },
	})
}

// Args are ssh_auth.present's and ssh_auth.absent's arguments.
type Args struct {
	User    string   `arg:"user,required"`
	Enc     string   `arg:"enc"`
	Comment string   `arg:"comment"`
	Source  string   `arg:"source"`
	Options []string `arg:"options"`
	Config  string   `arg:"config"`
	// FingerprintHashType only chooses how Salt logs fingerprints.
	FingerprintHashType string `arg:"fingerprint_hash_type"`
}

// key is one authorized_keys entry.
type key struct {
	Options []string
	Enc     string
	Body    string
	Comment string
}

func (k key) String() string {
	s := k.Enc + " " + k.Body
	if len(k.Options) > 0 {
		s = strings.Join(k.Options, ",") + " " + s
	}
	if k.Comment != "" {
		s += " " + k.Comment
	}
	return s
}

// isKeyType reports whether s names an SSH public key algorithm.
func isKeyType(s string) bool {
	for _, p := range []string{"ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// parseLine reads an authorized_keys line; ok is false for blank lines,
// comments and lines without a key.
func parseLine(line string) (key, bool) {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return key{}, false
	}
	for i, w := range f {
		if isKeyType(w) && i+1 < len(f) {
			k := key{Enc: w, Body: f[i+1], Comment: strings.Join(f[i+2:], " ")}
			if i > 0 {
				k.Options = splitOptions(strings.Join(f[:i], " "))
			}
			return k, true
		}
	}
	return key{}, false
}

// splitOptions splits an options field at commas outside double quotes.
func splitOptions(s string) []string {
	var out []string
	quoted, start := false, 0
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// wanted is the keys the state names: its name, or the file source.
func wanted(ctx context.Context, c *states.Call, a *Args) ([]key, error) {
	if a.Source != "" {
		b, err := c.Env.Source(ctx, a.Source)
		if err != nil {
			return nil, fmt.Errorf("read source %s: %w", a.Source, err)
		}
		var keys []key
		for l := range strings.Lines(string(b)) {
			if k, ok := parseLine(l); ok {
				if len(a.Options) > 0 {
					k.Options = a.Options
				}
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("source %s holds no public key", a.Source)
		}
		return keys, nil
	}
	name := strings.TrimSpace(c.Name)
	if k, ok := parseLine(name); ok {
		if a.Comment != "" {
			k.Comment = a.Comment
		}
		if len(a.Options) > 0 {
			k.Options = a.Options
		}
		return []key{k}, nil
	}
	if name == "" || strings.ContainsAny(name, " \t\n") {
		return nil, fmt.Errorf("%q is not a public key (want the key's base64 body, or a line such as \"ssh-ed25519 AAAA... me@host\")", c.Name)
	}
	enc := a.Enc
	switch {
	case enc == "":
		enc = "ssh-rsa"
	case enc == "ed25519" || enc == "rsa" || enc == "dss":
		enc = "ssh-" + enc // Salt's short names
	case strings.HasPrefix(enc, "ecdsa") && !strings.HasPrefix(enc, "ecdsa-"):
		enc = "ecdsa-sha2-nistp256"
	}
	return []key{{Enc: enc, Body: name, Comment: a.Comment, Options: a.Options}}, nil
}

// keyFile resolves config for the user: absolute, or below the home,
// with sshd's %h, %u and %% tokens.
func keyFile(u *user.User, config string) string {
	if config == "" {
		config = ".ssh/authorized_keys"
	}
	config = strings.NewReplacer("%h", u.HomeDir, "%u", u.Username, "%%", "%").Replace(config)
	if !filepath.IsAbs(config) {
		config = filepath.Join(u.HomeDir, config)
	}
	return config
}

func apply(ctx context.Context, c *states.Call, a *Args, present bool) states.Outcome {
	fun := "ssh_auth.absent"
	if present {
		fun = "ssh_auth.present"
	}
	u, err := user.Lookup(a.User)
	if err != nil {
		return states.Failedf("%s: user %s: %v (create it first, e.g. with a user.present this state requires)", fun, a.User, err)
	}
	keys, err := wanted(ctx, c, a)
	if err != nil {
		return states.Failedf("%s: %v", fun, err)
	}
	path := keyFile(u, a.Config)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return states.Failedf("%s: read %s: %v", fun, path, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	changes := map[string]any{}
	for _, k := range keys {
		idx := -1
		for i, l := range lines {
			if old, ok := parseLine(l); ok && old.Body == k.Body {
				idx = i
				break
			}
		}
		switch {
		case present && idx < 0:
			lines = append(lines, k.String())
			changes[k.Body] = "New"
		case present:
			if old, _ := parseLine(lines[idx]); old.Enc != k.Enc || old.Comment != k.Comment || !slices.Equal(old.Options, k.Options) {
				lines[idx] = k.String()
				changes[k.Body] = "Updated"
			}
		case idx >= 0:
			lines = slices.Delete(lines, idx, idx+1)
			changes[k.Body] = "Removed"
		}
	}
	label := c.Name
	if a.Source != "" {
		label = a.Source
	}
	if len(changes) == 0 {
		if present {
			return states.Succeeded(fmt.Sprintf("The authorized host key %s is already present for user %s", label, a.User), nil)
		}
		return states.Succeeded("Key not present", nil)
	}
	if c.Test {
		if present {
			return states.WouldChange(fmt.Sprintf("Key %s for user %s is set to be added or updated", label, a.User), changes)
		}
		return states.WouldChange(fmt.Sprintf("Key %s for user %s is set for removal", label, a.User), changes)
	}
	if err := write(u, path, lines); err != nil {
		return states.Failedf("%s: %v", fun, err)
	}
	if !present {
		return states.Succeeded("Key removed", changes)
	}
	verb := "added"
	for _, v := range changes {
		if v == "Updated" {
			verb = "updated"
		}
	}
	return states.Succeeded(fmt.Sprintf("The authorized host key %s for user %s was %s", label, a.User, verb), changes)
}

// write replaces the key file; a new file and its new .ssh directory
// belong to the user, with sshd's required modes (0600, 0700).
func write(u *user.User, path string, lines []string) error {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	owner := []int{uid, gid}
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = []int{int(st.Uid), int(st.Gid)} // an existing file keeps its owner
		}
	}
	body := ""
	if len(lines) > 0 {
		body = strings.Join(lines, "\n") + "\n"
	}
	tmp := path + ".brine-new"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil {
		if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("chmod %s: %w", tmp, err)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(tmp, owner[0], owner[1]); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}
