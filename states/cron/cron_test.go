package cron

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

const cronUser = "brine-test-cron"

// needCronUser needs root, the crontab command and a throwaway user,
// created here and removed (with its crontab) when the test ends.
func needCronUser(t *testing.T) {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "crontab", "useradd", "userdel")
	clean := func() {
		exec.Command("crontab", "-u", cronUser, "-r").Run() // no crontab is fine
		exec.Command("userdel", "-r", cronUser).Run()       // absent already is fine
	}
	clean()
	t.Cleanup(clean)
	if out, err := exec.Command("useradd", "-M", cronUser).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
}

func crontab(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("crontab", "-u", cronUser, "-l").Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func run(t *testing.T, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	raw["user"] = cronUser
	return statetest.Run(t, fun, name, raw, test)
}

// TestCronReal drives a throwaway user's real crontab through the
// crontab command: test mode changes nothing, each state applies, the
// second apply changes nothing, and lines above the marker survive.
func TestCronReal(t *testing.T) {
	needCronUser(t)
	pre := "# kept by hand\n0 1 * * * /bin/true\n"
	install := exec.Command("crontab", "-u", cronUser, "-")
	install.Stdin = strings.NewReader(pre)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("crontab: %v %s", err, out)
	}
	job := map[string]any{"minute": 5, "hour": "*/2", "identifier": "backup", "comment": "nightly"}
	statetest.Expect(t, run(t, "cron.present", "/usr/bin/backup --all", job, true), "None", true)
	if got := crontab(t); got != pre {
		t.Fatalf("test mode changed the crontab to %q", got)
	}
	o := run(t, "cron.present", "/usr/bin/backup --all", job, false)
	statetest.Expect(t, o, "true", true)
	if o.Comment != "Cron /usr/bin/backup --all added to "+cronUser+"'s crontab" {
		t.Errorf("comment %q", o.Comment)
	}
	statetest.Expect(t, run(t, "cron.present", "/usr/bin/backup --all", job, false), "true", false)
	statetest.Expect(t, run(t, "cron.env_present", "MAILTO", map[string]any{"value": "ops@example.org"}, false), "true", true)
	statetest.Expect(t, run(t, "cron.env_present", "MAILTO", map[string]any{"value": "ops@example.org"}, false), "true", false)
	statetest.Expect(t, run(t, "cron.present", "/usr/bin/clean", map[string]any{"special": "@daily", "commented": true}, false), "true", true)
	want := pre + marker + "\nMAILTO=ops@example.org\n" +
		"# nightly SALT_CRON_IDENTIFIER:backup\n5 */2 * * * /usr/bin/backup --all\n" +
		"# SALT_CRON_IDENTIFIER:/usr/bin/clean\n#DISABLED#@daily /usr/bin/clean\n"
	if got := crontab(t); got != want {
		t.Fatalf("crontab\n%s\nwant\n%s", got, want)
	}
	// The same identifier with a new command and hour updates the job in place.
	job["hour"] = 3
	o = run(t, "cron.present", "/usr/bin/backup --fast", job, false)
	statetest.Expect(t, o, "true", true)
	if o.Comment != "Cron /usr/bin/backup --fast updated" || !strings.Contains(crontab(t), "5 3 * * * /usr/bin/backup --fast\n") ||
		strings.Contains(crontab(t), "--all") {
		t.Errorf("update: %q\n%s", o.Comment, crontab(t))
	}
	// random keeps whatever value it picked once.
	statetest.Expect(t, run(t, "cron.present", "/usr/bin/rotate", map[string]any{"minute": "random"}, false), "true", true)
	statetest.Expect(t, run(t, "cron.present", "/usr/bin/rotate", map[string]any{"minute": "random"}, false), "true", false)

	statetest.Expect(t, run(t, "cron.absent", "/usr/bin/backup --fast", map[string]any{"identifier": "backup"}, true), "None", true)
	statetest.Expect(t, run(t, "cron.absent", "/usr/bin/backup --fast", map[string]any{"identifier": "backup"}, false), "true", true)
	statetest.Expect(t, run(t, "cron.absent", "/usr/bin/backup --fast", map[string]any{"identifier": "backup"}, false), "true", false)
	statetest.Expect(t, run(t, "cron.env_absent", "MAILTO", map[string]any{}, true), "None", true)
	statetest.Expect(t, run(t, "cron.env_absent", "MAILTO", map[string]any{}, false), "true", true)
	statetest.Expect(t, run(t, "cron.env_absent", "MAILTO", map[string]any{}, false), "true", false)
	got := crontab(t)
	if !strings.HasPrefix(got, pre+marker+"\n") || strings.Contains(got, "MAILTO") || strings.Contains(got, "backup") {
		t.Errorf("after removals:\n%s", got)
	}
}

// TestCronBadInput fails with a message naming the problem.
func TestCronBadInput(t *testing.T) {
	needCronUser(t)
	for _, c := range []struct {
		fun, name string
		raw       map[string]any
		want      string
	}{
		{"cron.present", "/bin/x", map[string]any{"special": "daily"}, "not a cron special time"},
		{"cron.env_present", "1BAD", map[string]any{"value": "x"}, "not a variable name"},
		{"cron.present", " ", map[string]any{}, "command (name) is empty"},
	} {
		o := run(t, c.fun, c.name, c.raw, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, c.want) {
			t.Errorf("%s %q: comment %q lacks %q", c.fun, c.name, o.Comment, c.want)
		}
	}
	e, _ := states.Lookup("cron.present")
	if _, err := e.Decode(map[string]any{"minute": "1 2"}); err == nil || !strings.Contains(err.Error(), "minute") {
		t.Errorf("a minute with a space decoded: %v", err)
	}
}

// TestParseRender reads crontabs Salt wrote and renders them back the same.
func TestParseRender(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty managed", marker + "\n"},
		{"pre kept", "SHELL=/bin/sh\n# mine\n*/5 * * * * x\n" + marker + "\nA=1\nB=\"\"\n"},
		{"jobs", marker + "\n# two\n# lines SALT_CRON_IDENTIFIER:id1\n1 2 3 4 5 cmd  with  spaces\n#DISABLED#* * * * * off\n" +
			"# SALT_CRON_IDENTIFIER:r\n@reboot start it\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseTab(tc.in).String(); got != tc.in {
				t.Errorf("round trip\n%q\nwant\n%q", got, tc.in)
			}
		})
	}
	tb := parseTab("# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (x)\n# (y)\n" + marker + "\n1 * * * * a\n")
	if len(tb.Pre) != 0 || len(tb.Jobs) != 1 || tb.Jobs[0].Cmd != "a" {
		t.Errorf("header not skipped: %+v", tb)
	}
}

// TestCronBeforeTheCronPackage: with no crontab command on the PATH (the
// cron package is installed by an earlier state of the run), a test run
// plans on an empty crontab, and a real run fails naming the command.
func TestCronBeforeTheCronPackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	statetest.Expect(t, statetest.Run(t, "cron.present", "/usr/bin/backup", map[string]any{"minute": 5}, true), "None", true)
	statetest.Expect(t, statetest.Run(t, "cron.absent", "/usr/bin/backup", map[string]any{}, true), "true", false)
	o := statetest.Run(t, "cron.present", "/usr/bin/backup", map[string]any{"minute": 5}, false)
	statetest.Expect(t, o, "false", false)
	if !strings.Contains(o.Comment, "crontab") {
		t.Errorf("comment %q", o.Comment)
	}
}
