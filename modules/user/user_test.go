package user

import (
	"context"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/brinecm/brine/modules"
)

func TestParsePasswd(t *testing.T) {
	f, err := os.Open("testdata/passwd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParsePasswd(f)
	if err != nil || len(got) != 3 {
		t.Fatalf("ParsePasswd = %v, %v", got, err)
	}
	alice := got[1]
	want := User{Name: "alice", UID: 1000, GID: 1000, GECOS: "Alice Liddell,12,555-1,555-2,rabbit hole", Home: "/home/alice", Shell: "/bin/zsh"}
	if alice != want {
		t.Errorf("alice = %+v", alice)
	}
	if alice.Fullname() != "Alice Liddell" || alice.WithFullname("Alice L.") != "Alice L.,12,555-1,555-2,rabbit hole" {
		t.Errorf("fullname: %q %q", alice.Fullname(), alice.WithFullname("Alice L."))
	}
	if got[0].WithFullname("Root") != "Root" {
		t.Errorf("root fullname: %q", got[0].WithFullname("Root"))
	}
	f2, _ := os.Open("testdata/baduid")
	defer f2.Close()
	if _, err := ParsePasswd(f2); err == nil {
		t.Error("bad uid accepted")
	}
}

func TestInfo(t *testing.T) {
	rt := &modules.Runtime{}
	got, err := modules.Call(context.Background(), rt, "user.info", []any{"root"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if m["uid"] != 0 || m["gid"] != 0 || m["home"] != "/root" || !slices.Contains(m["groups"].([]any), any("root")) {
		t.Errorf("user.info root = %v", m)
	}
	got, err = modules.Call(context.Background(), rt, "user.info", []any{"brine-test-nouser"}, nil)
	if err != nil || !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("user.info of a missing user = %v, %v", got, err)
	}
}
