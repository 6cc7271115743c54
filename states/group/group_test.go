package group

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

const name = "brine-test-group"

func needShadow(t *testing.T) {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "groupadd", "groupmod", "groupdel", "gpasswd")
	clean := func() { exec.Command("groupdel", name).Run() } // absent already is fine
	clean()
	t.Cleanup(clean)
}

// groupLine returns the fields of the group's /etc/group line, nil when absent.
func groupLine(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/etc/group")
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

// freeGID is a gid no group of the host has.
func freeGID(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		if f := strings.Split(line, ":"); len(f) > 2 {
			used[f[2]] = true
		}
	}
	for id := 59100; ; id++ {
		if !used[strconv.Itoa(id)] {
			return id
		}
	}
}

func apply(t *testing.T, fun string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, fun, raw, &states.Call{ID: name, Name: name, Test: test})
}

func TestGroupLifecycle(t *testing.T) {
	needShadow(t)
	gid := freeGID(t)
	steps := []struct {
		name    string
		fun     string
		args    map[string]any
		test    bool
		result  string
		comment string
		changes map[string]any
		line    string // the /etc/group line afterwards, "" for none
	}{
		{"test mode adds nothing", "group.present", map[string]any{"gid": gid}, true, "None", "Group brine-test-group set to be added",
			map[string]any{"name": name, "gid": gid}, ""},
		{"create", "group.present", map[string]any{"gid": gid, "members": []any{"root"}}, false, "True", "New group brine-test-group created",
			map[string]any{"name": name, "gid": gid, "passwd": "x", "members": []any{"root"}}, "brine-test-group:x:%d:root"},
		{"members", "group.present", map[string]any{"members": []any{"daemon", "root"}}, false, "True", "Updated group brine-test-group",
			map[string]any{"members": []any{"daemon", "root"}}, "brine-test-group:x:%d:daemon,root"},
		{"members in another order change nothing", "group.present", map[string]any{"members": []any{"root", "daemon"}}, false, "True",
			"Group brine-test-group is present and up to date", nil, "brine-test-group:x:%d:daemon,root"},
		{"test mode lists what would change", "group.present", map[string]any{"members": []any{}, "gid": gid + 1}, true, "None",
			"The following group attributes are set to be changed:\ngid: " + strconv.Itoa(gid+1) + "\nmembers: []",
			map[string]any{"gid": gid + 1, "members": []any{}}, "brine-test-group:x:%d:daemon,root"},
		{"member who does not exist", "group.present", map[string]any{"members": []any{"brine-test-nouser"}}, false, "False",
			"Failed to set the members of group brine-test-group: gpasswd: user 'brine-test-nouser' does not exist", nil, "brine-test-group:x:%d:daemon,root"},
		{"taken gid", "group.present", map[string]any{"gid": 0}, false, "False",
			"Failed to change the gid of group brine-test-group: groupmod: GID '0' already exists", nil, "brine-test-group:x:%d:daemon,root"},
		{"no members", "group.present", map[string]any{"members": []any{}}, false, "True", "Updated group brine-test-group",
			map[string]any{"members": []any{}}, "brine-test-group:x:%d:"},
		{"absent in test mode", "group.absent", nil, true, "None", "Group brine-test-group is set for removal",
			map[string]any{name: ""}, "brine-test-group:x:%d:"},
		{"absent", "group.absent", nil, false, "True", "Removed group brine-test-group", map[string]any{name: ""}, ""},
		{"absent again", "group.absent", nil, false, "True", "Group not present", nil, ""},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			o := apply(t, s.fun, s.args, s.test)
			if states.ResultString(o.Result) != s.result || o.Comment != s.comment || !reflect.DeepEqual(o.Changes, s.changes) {
				t.Fatalf("got %s %q %v; want %s %q %v", states.ResultString(o.Result), o.Comment, o.Changes, s.result, s.comment, s.changes)
			}
			line := strings.Join(groupLine(t), ":")
			if want := strings.ReplaceAll(s.line, "%d", strconv.Itoa(gid)); line != want {
				t.Errorf("/etc/group: %q, want %q", line, want)
			}
			if s.test || s.result != "True" {
				return
			}
			if again := apply(t, s.fun, s.args, false); states.ResultString(again.Result) != "True" || again.Changed() {
				t.Errorf("second run: %s %q %v", states.ResultString(again.Result), again.Comment, again.Changes)
			}
		})
		if !ok {
			break
		}
	}
}

func TestCreateBadGroups(t *testing.T) {
	needShadow(t)
	o := apply(t, "group.present", map[string]any{"gid": 0}, false)
	if states.ResultString(o.Result) != "False" || o.Comment != "Failed to create new group brine-test-group: groupadd: GID '0' already exists" {
		t.Errorf("taken gid: %s %q", states.ResultString(o.Result), o.Comment)
	}
	if groupLine(t) != nil {
		t.Error("group created anyway")
	}
	o = apply(t, "group.present", map[string]any{"system": true}, false)
	if !o.OK() {
		t.Fatal(o.Comment)
	}
	if gid, _ := strconv.Atoi(groupLine(t)[2]); gid >= 1000 {
		t.Errorf("system group got gid %d", gid)
	}
}

func TestBadArguments(t *testing.T) {
	e, _ := states.Lookup("group.present")
	if _, err := e.Decode(map[string]any{"member": []any{"a"}}); err == nil || !strings.Contains(err.Error(), "did you mean 'members'?") {
		t.Errorf("Decode: %v", err)
	}
	if _, err := e.Decode(map[string]any{"gid": "staff"}); err == nil || !strings.Contains(err.Error(), "argument 'gid'") {
		t.Errorf("Decode: %v", err)
	}
}

// TestAddDelUsers edits a real group's members with addusers/delusers:
// members not named stay, the second apply changes nothing.
func TestAddDelUsers(t *testing.T) {
	needShadow(t)
	members := func() string {
		out, err := exec.Command("getent", "group", name).Output()
		if err != nil {
			t.Fatalf("getent group %s: %v", name, err)
		}
		return strings.TrimSpace(strings.Split(string(out), ":")[3])
	}
	statetest.Expect(t, statetest.Run(t, "group.present", name, map[string]any{"addusers": []any{"daemon", "bin"}}, false), "true", true)
	if got := members(); got != "daemon,bin" {
		t.Errorf("members %q", got)
	}
	edit := map[string]any{"addusers": []any{"root"}, "delusers": []any{"daemon"}}
	statetest.Expect(t, statetest.Run(t, "group.present", name, edit, true), "None", true)
	statetest.Expect(t, statetest.Run(t, "group.present", name, edit, false), "true", true)
	statetest.Expect(t, statetest.Run(t, "group.present", name, edit, false), "true", false)
	if got := members(); got != "bin,root" {
		t.Errorf("members %q, want bin,root", got)
	}
	for _, bad := range []map[string]any{
		{"addusers": []any{"root"}, "members": []any{"bin"}},
		{"addusers": []any{"root"}, "delusers": []any{"root"}},
	} {
		statetest.Expect(t, statetest.Run(t, "group.present", name, bad, false), "false", false)
	}
}
