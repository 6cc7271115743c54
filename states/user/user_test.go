package user

import (
	"bufio"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

const (
	name = "brine-test-user"
	g1   = "brine-test-g1"
	g2   = "brine-test-g2"
	// SHA-512 crypt hashes of "one" and "two" (openssl passwd -6 -salt brinesalt)
	hash1 = "$6$brinesalt$P4toaDUo7t8RJihjMNpP3CBg9XVATuxmdViSm2ZVLR2eb1ZPjJBcm4Y84O4H/kEdnI3wGjQBswtw10mZWHMy4/"
	hash2 = "$6$brinesalt$1KJkOC7ccEBZ8.OFd5rqKbU/KEmlWAHnZxLY9uHr/D54mRPWkBSZV/9jMehITyiDTkgWha2SitSN.Yi63jfoe/"
)

// needShadow needs root and the shadow tools, and removes the test's
// users and groups when it ends.
func needShadow(t *testing.T, users, groups []string) {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "useradd", "usermod", "userdel", "groupadd", "groupdel", "gpasswd", "chpasswd")
	clean := func() {
		for _, u := range users {
			exec.Command("userdel", "-r", u).Run() // absent already is fine
		}
		for _, g := range groups {
			exec.Command("groupdel", g).Run()
		}
	}
	clean()
	t.Cleanup(clean)
	for _, g := range []string{g1, g2} {
		if out, err := exec.Command("groupadd", g).CombinedOutput(); err != nil {
			t.Fatalf("groupadd %s: %v %s", g, err, out)
		}
	}
}

// freeID is an id no user and no group of the host has.
func freeID(t *testing.T) int {
	t.Helper()
	used := map[string]bool{}
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if fields := strings.Split(line, ":"); len(fields) > 3 {
				used[fields[2]] = true
			}
		}
	}
	for id := 59000; ; id++ {
		if !used[strconv.Itoa(id)] {
			return id
		}
	}
}

// entry returns the fields of name's line in an account file, nil when absent.
func entry(t *testing.T, file, name string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Split(sc.Text(), ":"); fields[0] == name {
			return fields
		}
	}
	return nil
}

func apply(t *testing.T, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, fun, raw, &states.Call{ID: name, Name: name, Test: test})
}

func TestUserLifecycle(t *testing.T) {
	needShadow(t, []string{name}, []string{name, g1, g2})
	uid := freeID(t)
	home := "/home/" + name
	base := map[string]any{"uid": uid, "fullname": "Brine Test", "groups": []any{g1}, "password": hash1}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	steps := []struct {
		name    string
		fun     string
		args    map[string]any
		test    bool
		result  string
		comment string
		changes map[string]any // nil: not checked beyond being non-empty
		check   func(t *testing.T)
	}{
		{"test mode adds nothing", "user.present", with(map[string]any{"shell": "/bin/sh"}), true, "None", "User brine-test-user set to be added",
			map[string]any{"name": name}, func(t *testing.T) {
				if entry(t, "/etc/passwd", name) != nil {
					t.Error("test mode created the user")
				}
			}},
		{"create", "user.present", with(map[string]any{"shell": "/bin/sh"}), false, "True", "New user brine-test-user created", nil, func(t *testing.T) {
			pw := entry(t, "/etc/passwd", name)
			if pw == nil || pw[2] != strconv.Itoa(uid) || pw[4] != "Brine Test" || pw[5] != home || pw[6] != "/bin/sh" {
				t.Errorf("/etc/passwd: %v", pw)
			}
			if sh := entry(t, "/etc/shadow", name); sh == nil || sh[1] != hash1 {
				t.Errorf("/etc/shadow: %v", sh)
			}
			if g := entry(t, "/etc/group", g1); g == nil || g[3] != name {
				t.Errorf("/etc/group: %v", g)
			}
			if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
				t.Errorf("home: %v", err)
			}
		}},
		{"shell", "user.present", with(map[string]any{"shell": "/bin/bash"}), false, "True", "Updated user brine-test-user",
			map[string]any{"shell": "/bin/bash"}, func(t *testing.T) {
				if pw := entry(t, "/etc/passwd", name); pw[6] != "/bin/bash" {
					t.Errorf("/etc/passwd: %v", pw)
				}
			}},
		{"test mode lists what would change", "user.present", with(map[string]any{"shell": "/bin/dash", "password": hash2}), true, "None",
			"The following user attributes are set to be changed:\npasswd: XXX-REDACTED-XXX\nshell: /bin/dash",
			map[string]any{"shell": "/bin/dash", "passwd": "XXX-REDACTED-XXX"}, func(t *testing.T) {
				if sh := entry(t, "/etc/shadow", name); sh[1] != hash1 {
					t.Error("test mode changed the password")
				}
			}},
		{"groups replace", "user.present", with(map[string]any{"groups": []any{g2}}), false, "True", "Updated user brine-test-user",
			map[string]any{"groups": []any{g2}}, func(t *testing.T) {
				if g := entry(t, "/etc/group", g1); g[3] != "" {
					t.Errorf("still in %s: %v", g1, g)
				}
				if g := entry(t, "/etc/group", g2); g[3] != name {
					t.Errorf("not in %s: %v", g2, g)
				}
			}},
		{"groups add only", "user.present", with(map[string]any{"groups": []any{g1}, "remove_groups": false}), false, "True", "Updated user brine-test-user",
			map[string]any{"groups": []any{g1, g2}}, nil},
		{"password and fullname", "user.present", with(map[string]any{"groups": []any{g1, g2}, "password": hash2, "fullname": "Brine Two"}), false, "True",
			"Updated user brine-test-user", map[string]any{"passwd": "XXX-REDACTED-XXX", "fullname": "Brine Two"}, func(t *testing.T) {
				if sh := entry(t, "/etc/shadow", name); sh[1] != hash2 {
					t.Errorf("/etc/shadow: %v", sh[:2])
				}
			}},
		{"primary group by name", "user.present", map[string]any{"gid": g1}, false, "True", "Updated user brine-test-user", nil, func(t *testing.T) {
			if pw, g := entry(t, "/etc/passwd", name), entry(t, "/etc/group", g1); pw[3] != g[2] {
				t.Errorf("gid %s, want %s", pw[3], g[2])
			}
		}},
		{"primary group back to its own", "user.present", map[string]any{"gid": name}, false, "True", "Updated user brine-test-user", nil, nil},
		{"taken uid", "user.present", map[string]any{"uid": 0}, false, "False", "Failed to update user brine-test-user: usermod: UID '0' already exists", nil, nil},
		{"missing group", "user.present", map[string]any{"groups": []any{"brine-test-nogroup"}}, false, "False",
			"The following group(s) are not present: brine-test-nogroup", nil, nil},
		{"absent in test mode", "user.absent", nil, true, "None", "User brine-test-user set for removal", map[string]any{name: "removed"}, nil},
		{"absent with purge", "user.absent", map[string]any{"purge": true}, false, "True", "Removed user brine-test-user",
			map[string]any{name: "removed", name + " group": "removed"}, func(t *testing.T) {
				if entry(t, "/etc/passwd", name) != nil || entry(t, "/etc/group", name) != nil {
					t.Error("user or its group left")
				}
				if _, err := os.Stat(home); !os.IsNotExist(err) {
					t.Errorf("home left: %v", err)
				}
			}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			o := apply(t, s.fun, name, s.args, s.test)
			if states.ResultString(o.Result) != s.result || o.Comment != s.comment {
				t.Fatalf("got %s %q; want %s %q", states.ResultString(o.Result), o.Comment, s.result, s.comment)
			}
			if s.changes != nil && !reflect.DeepEqual(o.Changes, s.changes) {
				t.Errorf("changes %v, want %v", o.Changes, s.changes)
			}
			if s.result == "True" && !o.Changed() {
				t.Errorf("no changes")
			}
			if s.result == "False" && o.Changed() {
				t.Errorf("a failed state reports changes: %v", o.Changes)
			}
			if s.check != nil {
				s.check(t)
			}
			if s.test || s.result != "True" {
				return
			}
			again := apply(t, s.fun, name, s.args, false)
			if states.ResultString(again.Result) != "True" || again.Changed() {
				t.Errorf("second run: %s %q %v", states.ResultString(again.Result), again.Comment, again.Changes)
			}
		})
		if !ok {
			break
		}
	}
}

func TestCreateWithTakenUID(t *testing.T) {
	needShadow(t, []string{name}, []string{name, g1, g2})
	o := apply(t, "user.present", name, map[string]any{"uid": 0}, false)
	if states.ResultString(o.Result) != "False" || o.Comment != "Failed to create new user brine-test-user: useradd: UID 0 is not unique" {
		t.Errorf("got %s %q", states.ResultString(o.Result), o.Comment)
	}
	if entry(t, "/etc/passwd", name) != nil {
		t.Error("user created anyway")
	}
}

func TestSystemUserWithoutHome(t *testing.T) {
	needShadow(t, []string{name}, []string{name, g1, g2})
	o := apply(t, "user.present", name, map[string]any{"system": true, "createhome": false, "home": "/nonexistent/brine", "shell": "/usr/sbin/nologin"}, false)
	if !o.OK() {
		t.Fatal(o.Comment)
	}
	pw := entry(t, "/etc/passwd", name)
	if uid, _ := strconv.Atoi(pw[2]); uid >= 1000 || pw[5] != "/nonexistent/brine" {
		t.Errorf("/etc/passwd: %v", pw)
	}
	if _, err := os.Stat("/nonexistent/brine"); !os.IsNotExist(err) {
		t.Errorf("home created: %v", err)
	}
	if o := apply(t, "user.absent", name, nil, false); !o.OK() || o.Changes[name] != "removed" {
		t.Errorf("absent: %+v", o)
	}
	if o := apply(t, "user.absent", name, nil, false); !o.OK() || o.Changed() || o.Comment != "User brine-test-user is not present" {
		t.Errorf("absent again: %+v", o)
	}
}

func TestBadArguments(t *testing.T) {
	e, _ := states.Lookup("user.present")
	for raw, want := range map[string]string{
		"shel":   "unknown argument 'shel' (did you mean 'shell'?)",
		"uid":    "argument 'uid'",
		"groups": "argument 'groups'",
	} {
		val := map[string]any{"shel": "/bin/sh", "uid": "root", "groups": map[string]any{"a": 1}}[raw]
		if _, err := e.Decode(map[string]any{raw: val}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
	if o := apply(t, "user.present", "-o", nil, false); o.OK() || !strings.Contains(o.Comment, `invalid user name "-o"`) {
		t.Errorf("option as name: %+v", o)
	}
}

func TestGroupChange(t *testing.T) {
	tests := []struct {
		current, wanted []string
		remove          bool
		want            []any
	}{
		{[]string{"a"}, []string{"a"}, true, nil},
		{[]string{"a", "b"}, []string{"b", "a"}, true, nil},
		{[]string{"a"}, []string{"b"}, true, []any{"b"}},
		{[]string{"a"}, []string{"b"}, false, []any{"a", "b"}},
		{[]string{"a", "b"}, []string{"a"}, false, nil},
		{[]string{"a"}, nil, true, []any{}},
	}
	for _, tt := range tests {
		got, flags := groupChange(tt.current, tt.wanted, tt.remove)
		if !reflect.DeepEqual(got, tt.want) || (flags == nil) != (tt.want == nil) {
			t.Errorf("groupChange(%v, %v, %v) = %v %v, want %v", tt.current, tt.wanted, tt.remove, got, flags, tt.want)
		}
	}
}

// TestSaltOnlyArguments applies optional_groups (a missing group is
// skipped), expire and empty_password to a real user: each is idempotent.
func TestSaltOnlyArguments(t *testing.T) {
	needShadow(t, []string{name}, []string{g1, g2})
	raw := map[string]any{"optional_groups": []any{g1, "brine-test-no-such-group"}, "expire": 20000, "createhome": false}
	o := statetest.Run(t, "user.present", name, raw, false)
	statetest.Expect(t, o, "true", true)
	if got, _ := usrGroups(t); got != g1 {
		t.Errorf("groups %q, want %s", got, g1)
	}
	if d, err := expireDays(name); err != nil || d != 20000 {
		t.Errorf("expire %d %v, want 20000", d, err)
	}
	statetest.Expect(t, statetest.Run(t, "user.present", name, raw, false), "true", false)
	raw = map[string]any{"groups": []any{g2}, "optional_groups": []any{g1}, "expire": -1, "empty_password": true}
	statetest.Expect(t, statetest.Run(t, "user.present", name, raw, true), "None", true)
	o = statetest.Run(t, "user.present", name, raw, false)
	statetest.Expect(t, o, "true", true)
	if o.Changes["passwd"] != "" || o.Changes["expire"] != -1 {
		t.Errorf("changes %v", o.Changes)
	}
	if got, _ := usrGroups(t); got != g1+","+g2 {
		t.Errorf("groups %q, want %s,%s", got, g1, g2)
	}
	if d, _ := expireDays(name); d != -1 {
		t.Errorf("expire %d, want none", d)
	}
	if h := shadowHash(t, name); h != "" {
		t.Errorf("password hash %q, want empty", h)
	}
	statetest.Expect(t, statetest.Run(t, "user.present", name, raw, false), "true", false)
}

func usrGroups(t *testing.T) (string, error) {
	t.Helper()
	out, err := exec.Command("id", "-nG", name).Output()
	f := strings.Fields(string(out))
	var sup []string
	for _, g := range f {
		if g != name {
			sup = append(sup, g)
		}
	}
	return strings.Join(sup, ","), err
}

func shadowHash(t *testing.T, user string) string {
	t.Helper()
	out, err := exec.Command("getent", "shadow", user).Output()
	if err != nil {
		t.Fatalf("getent shadow %s: %v", user, err)
	}
	return strings.Split(string(out), ":")[1]
}
