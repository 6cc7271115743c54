// Package sshknownhosts provides ssh_known_hosts.present and
// ssh_known_hosts.absent: a host's key in a known_hosts file, found,
// removed and hashed with ssh-keygen as OpenSSH itself does.
package sshknownhosts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("ssh_known_hosts.present", states.Func[PresentArgs]{
		Doc: "Ensures the host name (on port, 22 by default) is known with the public key key of type enc " +
			"(ssh-rsa by default) in user's ~/.ssh/known_hosts, or in config (required without user; " +
			"relative to the home with one). hash_known_hosts (true by default) hashes the file's host names.",
		Apply: func(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome { return present(ctx, c, a) },
	})
	states.Register("ssh_known_hosts.absent", states.Func[AbsentArgs]{
		Doc:   "Ensures the host name (on port) has no key in user's known_hosts file, or in config.",
		Apply: func(ctx context.Context, c *states.Call, a *AbsentArgs) states.Outcome { return absent(ctx, c, a) },
	})
}

// PresentArgs are ssh_known_hosts.present's arguments.
type PresentArgs struct {
	User           string `arg:"user"`
	Key            string `arg:"key"`
	Fingerprint    string `arg:"fingerprint"`
	Port           int    `arg:"port"`
	Enc            string `arg:"enc"`
	Config         string `arg:"config"`
	HashKnownHosts *bool  `arg:"hash_known_hosts"`
	// Timeout and FingerprintHashType only matter to a key scan, which
	// brine does not do (see present).
	Timeout             int    `arg:"timeout"`
	FingerprintHashType string `arg:"fingerprint_hash_type"`
}

// AbsentArgs are ssh_known_hosts.absent's arguments.
type AbsentArgs struct {
	User   string `arg:"user"`
	Port   int    `arg:"port"`
	Config string `arg:"config"`
}

// hostSpec is the host as known_hosts names it: "[host]:port" off 22.
func hostSpec(name string, port int) string {
	if port != 0 && port != 22 {
		return fmt.Sprintf("[%s]:%d", name, port)
	}
	return name
}

// file resolves the known_hosts file and the owner a new one gets.
func file(userName, config string) (path string, uid, gid int, err error) {
	if userName == "" {
		if config == "" || !filepath.IsAbs(config) {
			return "", 0, 0, errors.New("without user, config must be the absolute path of the known_hosts file (e.g. /etc/ssh/ssh_known_hosts)")
		}
		return config, 0, 0, nil
	}
	u, err := user.Lookup(userName)
	if err != nil {
		return "", 0, 0, fmt.Errorf("user %s: %w (create it first, e.g. with a user.present this state requires)", userName, err)
	}
	if config == "" {
		config = ".ssh/known_hosts"
	}
	if !filepath.IsAbs(config) {
		config = filepath.Join(u.HomeDir, config)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return config, uid, gid, nil
}

// keygen runs ssh-keygen; exit status 1 of -F (not found) is no error.
func keygen(ctx context.Context, args ...string) (string, int, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ssh-keygen", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && args[0] == "-F" && ee.ExitCode() == 1 {
		return "", 1, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("ssh-keygen %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), 0, nil
}

// entry is a known host key: its type and base64 body.
type entry struct{ Enc, Key string }

// find lists the keys the file holds for host, hashed names included.
func find(ctx context.Context, path, host string) ([]entry, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	out, _, err := keygen(ctx, "-F", host, "-f", path)
	if err != nil {
		return nil, err
	}
	var found []entry
	for l := range strings.Lines(out) {
		f := strings.Fields(l)
		if len(f) >= 3 && !strings.HasPrefix(f[0], "#") {
			found = append(found, entry{Enc: f[1], Key: f[2]})
		}
	}
	return found, nil
}

// removeHost drops host's lines with ssh-keygen -R, and its backup.
func removeHost(ctx context.Context, path, host string) error {
	if _, _, err := keygen(ctx, "-R", host, "-f", path); err != nil {
		return err
	}
	return removeBackup(path)
}

func removeBackup(path string) error {
	if err := os.Remove(path + ".old"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove ssh-keygen's backup %s.old: %w", path, err)
	}
	return nil
}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	name := strings.TrimSpace(c.Name)
	if name == "" || strings.ContainsAny(name, " \t\n,") {
		return states.Failedf("ssh_known_hosts.present: %q is not a host name", c.Name)
	}
	if a.Key == "" {
		return states.Failedf("ssh_known_hosts.present: %s: key is required (brine does not scan hosts for their keys; "+
			"give the host's public key body, e.g. from /etc/ssh/ssh_host_ed25519_key.pub on it)", name)
	}
	enc := a.Enc
	switch {
	case enc == "":
		enc = "ssh-rsa"
	case enc == "ed25519" || enc == "rsa" || enc == "dss":
		enc = "ssh-" + enc
	}
	path, uid, gid, err := file(a.User, a.Config)
	if err != nil {
		return states.Failedf("ssh_known_hosts.present: %v", err)
	}
	host := hostSpec(name, a.Port)
	want := entry{Enc: enc, Key: a.Key}
	if a.Fingerprint != "" {
		if fp, err := fingerprint(ctx, want, a.Fingerprint); err != nil {
			return states.Failedf("ssh_known_hosts.present: %v", err)
		} else if fp != "" {
			return states.Failedf("ssh_known_hosts.present: %s: the key's fingerprint is %s, not %s", name, fp, a.Fingerprint)
		}
	}
	found, err := find(ctx, path, host)
	if err != nil {
		return states.Failedf("ssh_known_hosts.present: %v", err)
	}
	if len(found) == 1 && found[0] == want {
		return states.Succeeded(fmt.Sprintf("Host %s is already in %s", name, path), nil)
	}
	changes := map[string]any{"new": []map[string]any{{"enc": enc, "key": a.Key, "hostname": host}}}
	if len(found) > 0 {
		var old []map[string]any
		for _, e := range found {
			old = append(old, map[string]any{"enc": e.Enc, "key": e.Key})
		}
		changes["old"] = old
	}
	if c.Test {
		verb := "added"
		if len(found) > 0 {
			verb = "updated"
		}
		return states.WouldChange(fmt.Sprintf("Key for %s is set to be %s in %s", name, verb, path), changes)
	}
	if len(found) > 0 {
		if err := removeHost(ctx, path, host); err != nil {
			return states.Failedf("ssh_known_hosts.present: %v", err)
		}
	}
	if err := appendLine(path, host+" "+enc+" "+a.Key+"\n", uid, gid); err != nil {
		return states.Failedf("ssh_known_hosts.present: %v", err)
	}
	if a.HashKnownHosts == nil || *a.HashKnownHosts {
		if _, _, err := keygen(ctx, "-H", "-f", path); err != nil {
			return states.Failedf("ssh_known_hosts.present: hash %s: %v", path, err)
		}
		if err := removeBackup(path); err != nil {
			return states.Failedf("ssh_known_hosts.present: %v", err)
		}
	}
	return states.Succeeded(fmt.Sprintf("%s's key saved to %s (key: %s)", name, path, a.Key), changes)
}

// fingerprint returns "" when the key has the fingerprint fp (SHA256:...,
// or MD5 colon hex), else the key's own fingerprint in fp's form.
func fingerprint(ctx context.Context, k entry, fp string) (string, error) {
	tmp, err := os.CreateTemp("", "brine-hostkey-*.pub")
	if err != nil {
		return "", fmt.Errorf("check the fingerprint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(k.Enc + " " + k.Key + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("check the fingerprint: %w", err)
	}
	tmp.Close()
	hash := "sha256"
	if !strings.HasPrefix(fp, "SHA256:") {
		hash = "md5"
	}
	out, _, err := keygen(ctx, "-l", "-E", hash, "-f", tmp.Name())
	if err != nil {
		return "", fmt.Errorf("the key is not a valid %s public key: %w", k.Enc, err)
	}
	f := strings.Fields(out)
	if len(f) < 2 {
		return "", fmt.Errorf("ssh-keygen -l printed %q", out)
	}
	got := strings.TrimPrefix(f[1], "MD5:")
	if got == strings.TrimPrefix(fp, "MD5:") {
		return "", nil
	}
	return got, nil
}

// appendLine adds line to the file; a new file (and a new directory
// above it) belongs to uid:gid.
func appendLine(path, line string, uid, gid int) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := os.Chown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return nil
}

func absent(ctx context.Context, c *states.Call, a *AbsentArgs) states.Outcome {
	name := strings.TrimSpace(c.Name)
	path, _, _, err := file(a.User, a.Config)
	if err != nil {
		return states.Failedf("ssh_known_hosts.absent: %v", err)
	}
	host := hostSpec(name, a.Port)
	found, err := find(ctx, path, host)
	if err != nil {
		return states.Failedf("ssh_known_hosts.absent: %v", err)
	}
	if len(found) == 0 {
		return states.Succeeded("Host is already absent", nil)
	}
	var old []map[string]any
	for _, e := range found {
		old = append(old, map[string]any{"enc": e.Enc, "key": e.Key})
	}
	changes := map[string]any{"old": old, "new": nil}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Key for %s is set to be removed from %s", name, path), changes)
	}
	if err := removeHost(ctx, path, host); err != nil {
		return states.Failedf("ssh_known_hosts.absent: %v", err)
	}
	return states.Succeeded(fmt.Sprintf("Removed %s from %s", name, path), changes)
}
