package keys

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// TestSetAndUnset: Set makes a key exactly what another master's store
// holds, on disk too, and the watchers hear each change as one transition.
func TestSetAndUnset(t *testing.T) {
	k := userKeys(t, 3)
	cases := []struct {
		name   string
		before []Key
		set    []Key
		unset  []string // "id" or "id denied"
		want   []Key
		events []string
		err    error
	}{
		{"new key", nil, []Key{{"web1", k[0], Accepted}}, nil,
			[]Key{{"web1", k[0], Accepted}}, []string{"web1 >accepted"}, nil},
		{"accepted to rejected", []Key{{"web1", k[0], Accepted}}, []Key{{"web1", k[0], Rejected}}, nil,
			[]Key{{"web1", k[0], Rejected}}, []string{"web1 accepted>rejected"}, nil},
		{"same key twice is nothing", []Key{{"web1", k[0], Pending}}, []Key{{"web1", k[0], Pending}}, nil,
			[]Key{{"web1", k[0], Pending}}, nil, nil},
		{"another key replaces", []Key{{"web1", k[0], Accepted}}, []Key{{"web1", k[1], Accepted}}, nil,
			[]Key{{"web1", k[1], Accepted}}, []string{"web1 accepted>", "web1 >accepted"}, nil},
		{"denied beside accepted", []Key{{"web1", k[0], Accepted}}, []Key{{"web1", k[1], Denied}}, nil,
			[]Key{{"web1", k[0], Accepted}, {"web1", k[1], Denied}}, []string{"web1 >denied"}, nil},
		{"unset the accepted slot only", []Key{{"web1", k[0], Accepted}, {"web1", k[1], Denied}}, nil, []string{"web1"},
			[]Key{{"web1", k[1], Denied}}, []string{"web1 accepted>"}, nil},
		{"unset a missing key", nil, nil, []string{"web1 denied"}, nil, nil, nil},
		{"a key of another id", []Key{{"web1", k[0], Accepted}}, []Key{{"web2", k[0], Accepted}}, nil,
			[]Key{{"web1", k[0], Accepted}}, nil, ErrKeyInUse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range tc.before {
				if err := s.Set(key); err != nil {
					t.Fatal(err)
				}
			}
			var events []string
			s.Watch(func(key Key, old, new State) { events = append(events, fmt.Sprintf("%s %s>%s", key.ID, old, new)) })
			var gotErr error
			for _, key := range tc.set {
				if err := s.Set(key); err != nil {
					gotErr = err
				}
			}
			for _, u := range tc.unset {
				var id string
				var denied string
				fmt.Sscan(u, &id, &denied)
				if err := s.Unset(id, denied == "denied"); err != nil {
					t.Fatal(err)
				}
			}
			if !errors.Is(gotErr, tc.err) || (tc.err == nil) != (gotErr == nil) {
				t.Fatalf("error %v, want %v", gotErr, tc.err)
			}
			if !reflect.DeepEqual(events, tc.events) {
				t.Errorf("events %q, want %q", events, tc.events)
			}
			// What is on disk is what a master opening the store reads.
			re, err := OpenStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, got := range [][]Key{s.List(), re.List()} {
				if len(got) != len(tc.want) {
					t.Fatalf("keys %+v, want %+v", got, tc.want)
				}
				for _, w := range tc.want {
					found := false
					for _, g := range got {
						found = found || g == w
					}
					if !found {
						t.Errorf("keys %+v lack %+v", got, w)
					}
				}
			}
		})
	}
}
