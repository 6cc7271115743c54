// Package git provides git.config_set and git.config_unset: keys of a
// repository's or a user's global git configuration, through git itself.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("git.config_set", states.Func[SetArgs]{
		Doc: "Ensures the git config key name has value (or, for a multivar, exactly the values multivar), " +
			"in the repository repo or, with global: true, in user's ~/.gitconfig. git runs as user when given.",
		Apply: func(ctx context.Context, c *states.Call, a *SetArgs) states.Outcome { return configSet(ctx, c, a) },
	})
	states.Register("git.config_unset", states.Func[UnsetArgs]{
		Doc: "Ensures the git config key name is unset in repo or (global: true) user's ~/.gitconfig; " +
			"value_regex limits it to matching values, all: true unsets every value of a multivar.",
		Apply: func(ctx context.Context, c *states.Call, a *UnsetArgs) states.Outcome { return configUnset(ctx, c, a) },
	})
}

// Where names the configuration file: a repository, or the global one.
type Where struct {
	Repo   string `arg:"repo"`
	User   string `arg:"user"`
	Global bool   `arg:"global"`
	// Password and OutputEncoding are for Windows runas and decoding in Salt.
	Password       string `arg:"password"`
	OutputEncoding string `arg:"output_encoding"`
}

// SetArgs are git.config_set's arguments.
type SetArgs struct {
	Where
	Value    *string  `arg:"value"`
	Multivar []string `arg:"multivar"`
}

// UnsetArgs are git.config_unset's arguments.
type UnsetArgs struct {
	Where
	ValueRegex string `arg:"value_regex"`
	All        bool   `arg:"all"`
}

// git runs git config with the file flags of w, as w.User when given.
func (w *Where) git(ctx context.Context, args ...string) (string, int, error) {
	full := []string{"config"}
	if w.Global {
		full = append(full, "--global")
	} else {
		full = append(full, "--local")
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = os.Environ()
	if w.Repo != "" && !w.Global {
		cmd.Dir = w.Repo
	}
	if w.User != "" {
		u, err := user.Lookup(w.User)
		if err != nil {
			return "", 0, fmt.Errorf("user %s: %w (create it first, e.g. with a user.present this state requires)", w.User, err)
		}
		cmd.Env = append(cmd.Env, "HOME="+u.HomeDir, "USER="+u.Username)
		if os.Geteuid() == 0 {
			uid, _ := strconv.ParseUint(u.Uid, 10, 32)
			gid, _ := strconv.ParseUint(u.Gid, 10, 32)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() == 1 || ee.ExitCode() == 5 { // key not set / nothing to unset
			return stdout.String(), ee.ExitCode(), nil
		}
		return "", ee.ExitCode(), fmt.Errorf("git %s: %s", strings.Join(full, " "), strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return "", 0, fmt.Errorf("git %s: %w", strings.Join(full, " "), err)
	}
	return stdout.String(), 0, nil
}

// check validates where the key lives.
func (w *Where) check() error {
	if !w.Global && w.Repo == "" {
		return errors.New("give repo (a repository's path) or global: true")
	}
	if w.Global && w.User == "" && os.Getenv("HOME") == "" {
		return errors.New("global: true needs user (whose ~/.gitconfig to change)")
	}
	return nil
}

// values reads every value of key ("" values included).
func (w *Where) values(ctx context.Context, key string) ([]string, error) {
	out, code, err := w.git(ctx, "--null", "--get-all", key)
	if err != nil || code != 0 {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(out, "\x00"), "\x00"), nil
}

func configSet(ctx context.Context, c *states.Call, a *SetArgs) states.Outcome {
	key := c.Name
	if err := a.check(); err != nil {
		return states.Failedf("git.config_set: %s: %v", key, err)
	}
	if (a.Value == nil) == (a.Multivar == nil) {
		return states.Failedf("git.config_set: %s: give exactly one of value and multivar", key)
	}
	want := a.Multivar
	if a.Value != nil {
		want = []string{*a.Value}
	}
	old, err := a.values(ctx, key)
	if err != nil {
		return states.Failedf("git.config_set: %v", err)
	}
	if slices.Equal(old, want) {
		return states.Succeeded(fmt.Sprintf("%s is already set to %s", key, show(want)), nil)
	}
	changes := map[string]any{key: map[string]any{"old": showAny(old), "new": showAny(want)}}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("%s would be set to %s", key, show(want)), changes)
	}
	if len(old) > 0 {
		if _, _, err := a.git(ctx, "--unset-all", key); err != nil {
			return states.Failedf("git.config_set: %v", err)
		}
	}
	for _, v := range want {
		if _, code, err := a.git(ctx, "--add", key, v); err != nil || code != 0 {
			if err == nil {
				err = fmt.Errorf("git config --add %s exited %d (is %q a section.key name?)", key, code, key)
			}
			return states.Failedf("git.config_set: %v", err)
		}
	}
	return states.Succeeded(fmt.Sprintf("%s has been set to %s", key, show(want)), changes)
}

func configUnset(ctx context.Context, c *states.Call, a *UnsetArgs) states.Outcome {
	key := c.Name
	if err := a.check(); err != nil {
		return states.Failedf("git.config_unset: %s: %v", key, err)
	}
	old, err := a.values(ctx, key)
	if err != nil {
		return states.Failedf("git.config_unset: %v", err)
	}
	if a.ValueRegex != "" {
		out, code, err := a.git(ctx, "--null", "--get-all", key, a.ValueRegex)
		if err != nil {
			return states.Failedf("git.config_unset: %v", err)
		}
		old = nil
		if code == 0 {
			old = strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
		}
	}
	if len(old) == 0 {
		return states.Succeeded(fmt.Sprintf("No matching keys are set for %s", key), nil)
	}
	if len(old) > 1 && !a.All {
		return states.Failedf("git.config_unset: %s has %d values; set all: true to unset them all, or value_regex to choose", key, len(old))
	}
	changes := map[string]any{key: map[string]any{"old": showAny(old), "new": nil}}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("%s would be unset", key), changes)
	}
	args := []string{"--unset-all", key}
	if a.ValueRegex != "" {
		args = append(args, a.ValueRegex)
	}
	if _, _, err := a.git(ctx, args...); err != nil {
		return states.Failedf("git.config_unset: %v", err)
	}
	return states.Succeeded(fmt.Sprintf("%s has been unset", key), changes)
}

func show(v []string) string {
	if len(v) == 1 {
		return "'" + v[0] + "'"
	}
	return fmt.Sprintf("%q", v)
}

// showAny is a value list as Salt's changes show it: one value alone,
// none as nil.
func showAny(v []string) any {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return v[0]
	}
	return v
}
