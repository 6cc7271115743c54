package group

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
)

func TestParse(t *testing.T) {
	f, err := os.Open("testdata/group")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Parse(f)
	want := []Group{
		{Name: "root", Passwd: "x", GID: 0},
		{Name: "sudo", Passwd: "x", GID: 27, Members: []string{"alice", "bob"}},
		{Name: "www-data", Passwd: "x", GID: 33},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Parse = %+v, %v", got, err)
	}
	f2, _ := os.Open("testdata/short")
	defer f2.Close()
	if _, err := Parse(f2); err == nil || err.Error() != "line 1: 3 fields, want 4" {
		t.Errorf("short line: %v", err)
	}
}

func TestInfo(t *testing.T) {
	rt := &modules.Runtime{}
	got, err := modules.Call(context.Background(), rt, "group.info", []any{"root"}, nil)
	want := map[string]any{"name": "root", "passwd": "x", "gid": 0, "members": []any{}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("group.info root = %v, %v", got, err)
	}
	got, err = modules.Call(context.Background(), rt, "group.info", []any{"brine-test-nogroup"}, nil)
	if err != nil || !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("group.info of a missing group = %v, %v", got, err)
	}
}

func TestSameMembers(t *testing.T) {
	if !SameMembers([]string{"a", "b"}, []string{"b", "a"}) || SameMembers([]string{"a"}, []string{"a", "b"}) || !SameMembers(nil, []string{}) {
		t.Error("SameMembers")
	}
}

func TestShadowReportsTheToolsMessage(t *testing.T) {
	err := Shadow(context.Background(), "", "sh", "-c", "echo 'groupadd: GID 0 already exists' >&2; exit 4")
	if err == nil || err.Error() != "groupadd: GID 0 already exists" {
		t.Errorf("err = %v", err)
	}
	err = Shadow(context.Background(), "in", "sh", "-c", "read x; [ \"$x\" = in ] || exit 9; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("err = %v", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", "-r", "a:b", "a,b", "a b", "../x"} {
		if CheckName("group", bad) == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
	if err := CheckName("group", "www-data"); err != nil {
		t.Error(err)
	}
}
