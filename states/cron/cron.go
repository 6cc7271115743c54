// Package cron provides cron.present, cron.absent, cron.env_present and
// cron.env_absent: jobs and variables in a user's crontab, kept below
// Salt's "managed by Salt" marker line so tabs Salt wrote stay readable.
package cron

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("cron.present", states.Func[PresentArgs]{
		Doc: "Ensures a job running the command name is in user's crontab (root by default), at minute, hour, " +
			"daymonth, month and dayweek ('*' each; 'random' picks a value once) or at a special time " +
			"(@reboot, @daily...). identifier (the name by default) tells the job apart; commented keeps " +
			"it disabled; comment is written above it.",
		Apply: present,
	})
	states.Register("cron.absent", states.Func[AbsentArgs]{
		Doc:   "Ensures the job running the command name (or with the given identifier) is not in user's crontab.",
		Apply: absent,
	})
	states.Register("cron.env_present", states.Func[EnvPresentArgs]{
		Doc:   "Ensures the variable name is set to value in user's crontab.",
		Apply: envPresent,
	})
	states.Register("cron.env_absent", states.Func[EnvAbsentArgs]{
		Doc:   "Ensures the variable name is not set in user's crontab.",
		Apply: envAbsent,
	})
}

// PresentArgs are cron.present's arguments; the command is the state's name.
type PresentArgs struct {
	User       string  `arg:"user"`
	Minute     Field   `arg:"minute"`
	Hour       Field   `arg:"hour"`
	DayMonth   Field   `arg:"daymonth"`
	Month      Field   `arg:"month"`
	DayWeek    Field   `arg:"dayweek"`
	Comment    *string `arg:"comment"`
	Commented  bool    `arg:"commented"`
	Identifier Ident   `arg:"identifier"`
	Special    string  `arg:"special"`
}

// AbsentArgs are cron.absent's arguments.
type AbsentArgs struct {
	User       string `arg:"user"`
	Identifier Ident  `arg:"identifier"`
	Special    string `arg:"special"`
	// Salt takes the time fields too and ignores them when removing.
	Minute   Field `arg:"minute"`
	Hour     Field `arg:"hour"`
	DayMonth Field `arg:"daymonth"`
	Month    Field `arg:"month"`
	DayWeek  Field `arg:"dayweek"`
}

// EnvPresentArgs are cron.env_present's arguments.
type EnvPresentArgs struct {
	Value string `arg:"value"`
	User  string `arg:"user"`
}

// EnvAbsentArgs are cron.env_absent's arguments.
type EnvAbsentArgs struct {
	User string `arg:"user"`
}

// Field is one time field of a job: a number, a range, '*'... Salt
// accepts YAML numbers there, so any scalar decodes to its text.
type Field struct {
	Set   bool
	Value string
}

// DecodeArg implements states.ArgDecoder.
func (f *Field) DecodeArg(v any) error {
	switch x := v.(type) {
	case nil:
		return nil
	case string, int, int64, float64:
		f.Set, f.Value = true, strings.TrimSpace(fmt.Sprint(x))
		if f.Value == "" || strings.ContainsAny(f.Value, " \t\n") {
			return fmt.Errorf("%q is not a cron time field (want a number, range, list or '*')", f.Value)
		}
		return nil
	}
	return fmt.Errorf("want a number or a string such as '*/5', got %T", v)
}

// or returns the field's value, or def when it was not given.
func (f Field) or(def string) string {
	if f.Set {
		return f.Value
	}
	return def
}

// Ident is a job identifier: a string, or false (Salt's default) for
// "the command".
type Ident struct {
	Set   bool
	Value string
}

// DecodeArg implements states.ArgDecoder.
func (i *Ident) DecodeArg(v any) error {
	switch x := v.(type) {
	case nil:
	case bool:
		if x {
			return fmt.Errorf("identifier true is not a name (want a string, or false for the command)")
		}
	case string, int, int64, float64:
		i.Set, i.Value = true, fmt.Sprint(x)
		if strings.ContainsAny(i.Value, "\n") {
			return fmt.Errorf("identifier %q spans lines", i.Value)
		}
	default:
		return fmt.Errorf("want a string, got %T", v)
	}
	return nil
}

func userOr(u string) string {
	if u == "" {
		return "root"
	}
	return u
}

// readTab reads user's crontab with the crontab command; no crontab
// yet is an empty one. In a test run, a host without the crontab command
// (the cron package an earlier state installs) has an empty one too, as it
// will when that state has run.
func readTab(ctx context.Context, user string, test bool) (*tab, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "crontab", "-u", user, "-l")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if test && errors.Is(err, exec.ErrNotFound) {
			return parseTab(""), nil
		}
		if strings.Contains(stderr.String(), "no crontab for") {
			return parseTab(""), nil
		}
		return nil, fmt.Errorf("read %s's crontab: %v: %s", user, err, strings.TrimSpace(stderr.String()))
	}
	return parseTab(stdout.String()), nil
}

// writeTab installs t as user's crontab.
func writeTab(ctx context.Context, user string, t *tab) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "crontab", "-u", user, "-")
	cmd.Stdin = strings.NewReader(t.String())
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install %s's crontab: %v: %s", user, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// wantJob is the job cron.present asks for, with 'random' fields
// resolved against the job already there (a random field keeps any value
// but '*', as in Salt).
func wantJob(c *states.Call, a *PresentArgs, old *job) job {
	j := job{Cmd: strings.TrimSpace(c.Name), Commented: a.Commented, Special: a.Special}
	if a.Identifier.Set {
		j.ID = a.Identifier.Value
	} else {
		j.ID = j.Cmd
	}
	if a.Comment != nil {
		j.Comment, j.HasComment = *a.Comment, true
	} else if old != nil {
		j.Comment, j.HasComment = old.Comment, old.HasComment
	}
	if j.Special != "" {
		return j
	}
	fields := []struct {
		f     Field
		max   int
		first int
	}{{a.Minute, 60, 0}, {a.Hour, 24, 0}, {a.DayMonth, 28, 1}, {a.Month, 12, 1}, {a.DayWeek, 7, 0}}
	for i, f := range fields {
		v := f.f.or("*")
		if strings.EqualFold(v, "random") {
			if old != nil && old.Special == "" && old.Time[i] != "*" {
				v = old.Time[i]
			} else {
				v = fmt.Sprint(f.first + rand.IntN(f.max))
			}
		}
		j.Time[i] = v
	}
	return j
}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	user := userOr(a.User)
	name := strings.TrimSpace(c.Name)
	if name == "" {
		return states.Failedf("cron.present: the command (name) is empty")
	}
	if a.Special != "" && !strings.HasPrefix(a.Special, "@") {
		return states.Failedf("cron.present: special %q is not a cron special time (want @reboot, @hourly, @daily, @weekly, @monthly, @yearly or @annually)", a.Special)
	}
	t, err := readTab(ctx, user, c.Test)
	if err != nil {
		return states.Failedf("cron.present: %v", err)
	}
	id := name
	if a.Identifier.Set {
		id = a.Identifier.Value
	}
	i := t.find(id, name)
	var old *job
	if i >= 0 {
		old = &t.Jobs[i]
	}
	want := wantJob(c, a, old)
	switch {
	case old != nil && old.equal(want):
		return states.Succeeded(fmt.Sprintf("Cron %s already present", name), nil)
	case c.Test && old == nil:
		return states.WouldChange(fmt.Sprintf("Cron %s is set to be added", name), map[string]any{user: name})
	case c.Test:
		return states.WouldChange(fmt.Sprintf("Cron %s is set to be updated", name), map[string]any{user: name})
	}
	comment := fmt.Sprintf("Cron %s added to %s's crontab", name, user)
	if old != nil {
		t.Jobs[i] = want
		comment = fmt.Sprintf("Cron %s updated", name)
	} else {
		t.Jobs = append(t.Jobs, want)
	}
	if err := writeTab(ctx, user, t); err != nil {
		return states.Failedf("Cron %s for user %s failed to commit: %v", name, user, err)
	}
	return states.Succeeded(comment, map[string]any{user: name})
}

func absent(ctx context.Context, c *states.Call, a *AbsentArgs) states.Outcome {
	user := userOr(a.User)
	name := strings.TrimSpace(c.Name)
	t, err := readTab(ctx, user, c.Test)
	if err != nil {
		return states.Failedf("cron.absent: %v", err)
	}
	id := name
	if a.Identifier.Set {
		id = a.Identifier.Value
	}
	i := t.find(id, name)
	switch {
	case i < 0:
		return states.Succeeded(fmt.Sprintf("Cron %s already absent", name), nil)
	case c.Test:
		return states.WouldChange(fmt.Sprintf("Cron %s is set to be removed", name), map[string]any{user: name})
	}
	t.Jobs = append(t.Jobs[:i], t.Jobs[i+1:]...)
	if err := writeTab(ctx, user, t); err != nil {
		return states.Failedf("Cron %s for user %s failed to commit: %v", name, user, err)
	}
	return states.Succeeded(fmt.Sprintf("Cron %s removed from %s's crontab", name, user), map[string]any{user: name})
}

func envPresent(ctx context.Context, c *states.Call, a *EnvPresentArgs) states.Outcome {
	user := userOr(a.User)
	name := c.Name
	if !validEnvName(name) {
		return states.Failedf("cron.env_present: %q is not a variable name (want letters, digits and '_', not starting with a digit)", name)
	}
	if strings.Contains(a.Value, "\n") {
		return states.Failedf("cron.env_present: the value of %s spans lines; a crontab variable is one line", name)
	}
	t, err := readTab(ctx, user, c.Test)
	if err != nil {
		return states.Failedf("cron.env_present: %v", err)
	}
	i := t.findEnv(name)
	switch {
	case i >= 0 && t.Env[i].Value == a.Value:
		return states.Succeeded(fmt.Sprintf("Cron env %s already present", name), nil)
	case c.Test && i < 0:
		return states.WouldChange(fmt.Sprintf("Cron env %s is set to be added", name), map[string]any{user: name})
	case c.Test:
		return states.WouldChange(fmt.Sprintf("Cron env %s is set to be updated", name), map[string]any{user: name})
	}
	comment := fmt.Sprintf("Cron env %s added to %s's crontab", name, user)
	if i >= 0 {
		t.Env[i].Value = a.Value
		comment = fmt.Sprintf("Cron env %s updated", name)
	} else {
		t.Env = append(t.Env, env{Name: name, Value: a.Value})
	}
	if err := writeTab(ctx, user, t); err != nil {
		return states.Failedf("Cron env %s for user %s failed to commit: %v", name, user, err)
	}
	return states.Succeeded(comment, map[string]any{user: name})
}

func envAbsent(ctx context.Context, c *states.Call, a *EnvAbsentArgs) states.Outcome {
	user := userOr(a.User)
	name := c.Name
	t, err := readTab(ctx, user, c.Test)
	if err != nil {
		return states.Failedf("cron.env_absent: %v", err)
	}
	i := t.findEnv(name)
	switch {
	case i < 0:
		return states.Succeeded(fmt.Sprintf("Cron env %s already absent", name), nil)
	case c.Test:
		return states.WouldChange(fmt.Sprintf("Cron env %s is set to be removed", name), map[string]any{user: name})
	}
	t.Env = append(t.Env[:i], t.Env[i+1:]...)
	if err := writeTab(ctx, user, t); err != nil {
		return states.Failedf("Cron env %s for user %s failed to commit: %v", name, user, err)
	}
	return states.Succeeded(fmt.Sprintf("Cron env %s removed from %s's crontab", name, user), map[string]any{user: name})
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
