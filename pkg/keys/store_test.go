package keys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nkeys"
)

// userKeys returns n fresh user public keys.
func userKeys(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = kp.PublicKey(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// step is one operation on a store; key indexes the test's keys.
type step struct {
	op   string // submit, accept, acceptall, reject, delete
	id   string
	key  int
	want State    // submit's result
	ids  []string // acceptall's result
	err  error
}

// entry is a key as a case expects it: key indexes the test's keys.
type entry struct {
	id    string
	key   int
	state State
}

func TestStoreTransitions(t *testing.T) {
	cases := []struct {
		name   string
		steps  []step
		want   []entry
		events []string // "id keyN old>new"
	}{
		{"new id lands in pending",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}},
			[]entry{{"web1", 0, Pending}},
			[]string{"web1 k0 >pending"}},
		{"same key again keeps pending",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "submit", id: "web1", key: 0, want: Pending}},
			[]entry{{"web1", 0, Pending}},
			[]string{"web1 k0 >pending"}},
		{"accept then same key keeps accepted",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "accept", id: "web1"}, {op: "submit", id: "web1", key: 0, want: Accepted}},
			[]entry{{"web1", 0, Accepted}},
			[]string{"web1 k0 >pending", "web1 k0 pending>accepted"}},
		{"other key for an accepted id is denied, accepted key stays",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "accept", id: "web1"}, {op: "submit", id: "web1", key: 1, want: Denied}},
			[]entry{{"web1", 0, Accepted}, {"web1", 1, Denied}},
			[]string{"web1 k0 >pending", "web1 k0 pending>accepted", "web1 k1 >denied"}},
		{"other key for a pending id is denied",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "submit", id: "web1", key: 1, want: Denied}},
			[]entry{{"web1", 1, Denied}, {"web1", 0, Pending}},
			[]string{"web1 k0 >pending", "web1 k1 >denied"}},
		{"other key for a rejected id is denied",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "reject", id: "web1"}, {op: "submit", id: "web1", key: 1, want: Denied}},
			[]entry{{"web1", 1, Denied}, {"web1", 0, Rejected}},
			[]string{"web1 k0 >pending", "web1 k0 pending>rejected", "web1 k1 >denied"}},
		{"a third key replaces the denied one",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "submit", id: "web1", key: 1, want: Denied}, {op: "submit", id: "web1", key: 2, want: Denied}},
			[]entry{{"web1", 2, Denied}, {"web1", 0, Pending}},
			[]string{"web1 k0 >pending", "web1 k1 >denied", "web1 k1 denied>", "web1 k2 >denied"}},
		{"the denied key again stays denied",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "submit", id: "web1", key: 1, want: Denied}, {op: "submit", id: "web1", key: 1, want: Denied}},
			[]entry{{"web1", 1, Denied}, {"web1", 0, Pending}},
			[]string{"web1 k0 >pending", "web1 k1 >denied"}},
		{"accept takes the rejected key, never the denied one",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "reject", id: "web1"}, {op: "submit", id: "web1", key: 1, want: Denied}, {op: "accept", id: "web1"}},
			[]entry{{"web1", 0, Accepted}, {"web1", 1, Denied}},
			[]string{"web1 k0 >pending", "web1 k0 pending>rejected", "web1 k1 >denied", "web1 k0 rejected>accepted"}},
		{"reject pending, then accept rejected",
			[]step{{op: "submit", id: "db1", key: 0, want: Pending}, {op: "reject", id: "db1"}, {op: "accept", id: "db1"}},
			[]entry{{"db1", 0, Accepted}},
			[]string{"db1 k0 >pending", "db1 k0 pending>rejected", "db1 k0 rejected>accepted"}},
		{"reject accepted",
			[]step{{op: "submit", id: "db1", key: 0, want: Pending}, {op: "accept", id: "db1"}, {op: "reject", id: "db1"}, {op: "submit", id: "db1", key: 0, want: Rejected}},
			[]entry{{"db1", 0, Rejected}},
			[]string{"db1 k0 >pending", "db1 k0 pending>accepted", "db1 k0 accepted>rejected"}},
		{"accept and reject are idempotent",
			[]step{{op: "submit", id: "db1", key: 0, want: Pending}, {op: "accept", id: "db1"}, {op: "accept", id: "db1"},
				{op: "reject", id: "db1"}, {op: "reject", id: "db1"}},
			[]entry{{"db1", 0, Rejected}},
			[]string{"db1 k0 >pending", "db1 k0 pending>accepted", "db1 k0 accepted>rejected"}},
		{"unknown ids",
			[]step{{op: "accept", id: "nope", err: ErrNotFound}, {op: "reject", id: "nope", err: ErrNotFound}, {op: "delete", id: "nope", err: ErrNotFound}},
			nil, nil},
		{"delete removes every state of the id",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "accept", id: "web1"}, {op: "submit", id: "web1", key: 1, want: Denied},
				{op: "submit", id: "web2", key: 2, want: Pending}, {op: "delete", id: "web1"}},
			[]entry{{"web2", 2, Pending}},
			[]string{"web1 k0 >pending", "web1 k0 pending>accepted", "web1 k1 >denied", "web2 k2 >pending", "web1 k0 accepted>", "web1 k1 denied>"}},
		{"a deleted id starts over in pending, with any key",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "accept", id: "web1"}, {op: "delete", id: "web1"}, {op: "submit", id: "web1", key: 1, want: Pending}},
			[]entry{{"web1", 1, Pending}},
			[]string{"web1 k0 >pending", "web1 k0 pending>accepted", "web1 k0 accepted>", "web1 k1 >pending"}},
		{"accept all takes pending keys only",
			[]step{{op: "submit", id: "c", key: 0, want: Pending}, {op: "submit", id: "a", key: 1, want: Pending},
				{op: "submit", id: "r", key: 2, want: Pending}, {op: "reject", id: "r"},
				{op: "submit", id: "c", key: 3, want: Denied}, {op: "acceptall", ids: []string{"a", "c"}}, {op: "acceptall"}},
			[]entry{{"a", 1, Accepted}, {"c", 0, Accepted}, {"c", 3, Denied}, {"r", 2, Rejected}},
			[]string{"c k0 >pending", "a k1 >pending", "r k2 >pending", "r k2 pending>rejected", "c k3 >denied", "a k1 pending>accepted", "c k0 pending>accepted"}},
		{"a key belongs to one id",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "submit", id: "web2", key: 0, err: ErrKeyInUse}},
			[]entry{{"web1", 0, Pending}},
			[]string{"web1 k0 >pending"}},
		{"a denied key belongs to its id too",
			[]step{{op: "submit", id: "web1", key: 0, want: Pending}, {op: "submit", id: "web1", key: 1, want: Denied}, {op: "submit", id: "web2", key: 1, err: ErrKeyInUse}},
			[]entry{{"web1", 1, Denied}, {"web1", 0, Pending}},
			[]string{"web1 k0 >pending", "web1 k1 >denied"}},
	}
	pubs := userKeys(t, 4)
	name := func(pub string) string { return fmt.Sprintf("k%d", slices.Index(pubs, pub)) }
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			var events []string
			s.Watch(func(k Key, old, new State) {
				if k.State != new {
					t.Errorf("event key state %q, want the new state %q", k.State, new)
				}
				events = append(events, fmt.Sprintf("%s %s %s>%s", k.ID, name(k.PublicKey), old, new))
			})
			for i, st := range c.steps {
				var got State
				var ids []string
				var err error
				switch st.op {
				case "submit":
					got, err = s.Submit(st.id, pubs[st.key])
				case "accept":
					err = s.Accept(st.id)
				case "acceptall":
					ids, err = s.AcceptAll()
				case "reject":
					err = s.Reject(st.id)
				case "delete":
					err = s.Delete(st.id)
				}
				if !errors.Is(err, st.err) || (err == nil) != (st.err == nil) {
					t.Fatalf("step %d %s %s: error %v, want %v", i, st.op, st.id, err, st.err)
				}
				if got != st.want {
					t.Fatalf("step %d %s %s: state %q, want %q", i, st.op, st.id, got, st.want)
				}
				if !slices.Equal(ids, st.ids) {
					t.Fatalf("step %d %s: ids %v, want %v", i, st.op, ids, st.ids)
				}
				checkIndex(t, s, pubs)
				reopened, err := OpenStore(dir)
				if err != nil {
					t.Fatalf("step %d: reopen: %v", i, err)
				}
				if got, want := reopened.List(), s.List(); !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d: reopened store lists\n%v\nwant\n%v", i, got, want)
				}
				checkIndex(t, reopened, pubs)
			}
			var want []Key
			for _, e := range c.want {
				want = append(want, Key{ID: e.id, PublicKey: pubs[e.key], State: e.state})
			}
			if got := s.List(); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
				t.Errorf("List() =\n%v\nwant\n%v", got, want)
			}
			for _, k := range want {
				data, err := os.ReadFile(filepath.Join(dir, string(k.State), k.ID))
				if err != nil || string(data) != k.PublicKey+"\n" {
					t.Errorf("key file of %v: %q, %v", k, data, err)
				}
			}
			if !slices.Equal(events, c.events) {
				t.Errorf("events\n%q\nwant\n%q", events, c.events)
			}
		})
	}
}

// checkIndex verifies that Lookup and Get agree with List for every key of
// pubs, and that the files on disk are exactly the listed keys.
func checkIndex(t *testing.T, s *Store, pubs []string) {
	t.Helper()
	list := s.List()
	listed := map[string]Key{}
	for _, k := range list {
		listed[k.PublicKey] = k
	}
	if len(listed) != len(list) {
		t.Fatalf("List has a public key twice: %v", list)
	}
	for _, pub := range pubs {
		got, ok := s.Lookup(pub)
		want, listedOK := listed[pub]
		if ok != listedOK || got != want {
			t.Fatalf("Lookup(%s) = %v, %v; List has %v, %v", pub, got, ok, want, listedOK)
		}
	}
	for _, k := range list {
		got, ok := s.Get(k.ID)
		if k.State == Denied {
			if ok && got.PublicKey == k.PublicKey {
				t.Fatalf("Get(%s) returned the denied key", k.ID)
			}
			continue
		}
		if !ok || got != k {
			t.Fatalf("Get(%s) = %v, %v; want %v", k.ID, got, ok, k)
		}
	}
	var files []string
	for _, st := range states {
		entries, err := os.ReadDir(filepath.Join(s.dir, string(st)))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			files = append(files, string(st)+"/"+e.Name())
		}
	}
	var want []string
	for _, k := range list {
		want = append(want, string(k.State)+"/"+k.ID)
	}
	if !slices.Equal(files, want) {
		t.Fatalf("files on disk %v, want %v", files, want)
	}
}

func TestSubmitRejectsBadInput(t *testing.T) {
	good := userKeys(t, 1)[0]
	acct, _ := nkeys.CreateAccount()
	acctPub, _ := acct.PublicKey()
	user, _ := nkeys.CreateUser()
	seed, _ := user.Seed()
	cases := []struct {
		name, id, key string
		err           error
	}{
		{"empty id", "", good, ErrInvalidID},
		{"leading dot", ".web1", good, ErrInvalidID},
		{"leading dash", "-web1", good, ErrInvalidID},
		{"path", "../accepted/web1", good, ErrInvalidID},
		{"slash", "a/b", good, ErrInvalidID},
		{"space", "web 1", good, ErrInvalidID},
		{"subject wildcard", "web*", good, ErrInvalidID},
		{"subject tail wildcard", "web>", good, ErrInvalidID},
		{"newline", "web1\n", good, ErrInvalidID},
		{"non-ascii", "wéb1", good, ErrInvalidID},
		{"too long", strings.Repeat("a", 254), good, ErrInvalidID},
		{"empty key", "web1", "", ErrInvalidKey},
		{"seed instead of key", "web1", string(seed), ErrInvalidKey},
		{"account key", "web1", acctPub, ErrInvalidKey},
		{"bad checksum", "web1", good[:55] + otherChar(good[55]), ErrInvalidKey},
		{"lowercase", "web1", strings.ToLower(good), ErrInvalidKey},
		{"embedded newline", "web1", good[:20] + "\n" + good[20:], ErrInvalidKey},
		{"trailing newline", "web1", good + "\n", ErrInvalidKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			st, err := s.Submit(c.id, c.key)
			if !errors.Is(err, c.err) || st != "" {
				t.Fatalf("Submit(%q, %q) = %q, %v; want %v", c.id, c.key, st, err, c.err)
			}
			if len(s.List()) != 0 {
				t.Fatalf("store holds %v after a refused submit", s.List())
			}
			checkIndex(t, s, []string{c.key})
		})
	}
}

// otherChar returns a base32 character other than c.
func otherChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestSubmitAcceptsValidIDs(t *testing.T) {
	ids := []string{"a", "0", "web1", "web-1.example.com", "Web_1", strings.Repeat("a", 253)}
	pubs := userKeys(t, len(ids))
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if st, err := s.Submit(id, pubs[i]); err != nil || st != Pending {
			t.Errorf("Submit(%q) = %q, %v; want pending", id, st, err)
		}
	}
}

func TestOpenStoreRefusesInconsistentFiles(t *testing.T) {
	pubs := userKeys(t, 2)
	cases := []struct {
		name  string
		files map[string]string // path under the store -> content ("" for a directory)
		bad   string            // path the error must name
	}{
		{"garbage key", map[string]string{"accepted/web1": "not a key\n"}, "accepted/web1"},
		{"bad file name", map[string]string{"pending/web 1": pubs[0]}, "pending/web 1"},
		{"directory", map[string]string{"accepted/web1": ""}, "accepted/web1"},
		{"id in two states", map[string]string{"accepted/web1": pubs[0], "pending/web1": pubs[1]}, "pending/web1"},
		{"key of two ids", map[string]string{"accepted/web1": pubs[0], "pending/web2": pubs[0]}, "pending/web2"},
		{"denied copy of the accepted key", map[string]string{"accepted/web1": pubs[0], "denied/web1": pubs[0]}, "denied/web1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, st := range states {
				if err := os.Mkdir(filepath.Join(dir, string(st)), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for name, content := range c.files {
				path := filepath.Join(dir, name)
				var err error
				if content == "" {
					err = os.Mkdir(path, 0o700)
				} else {
					err = os.WriteFile(path, []byte(content), 0o600)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err := OpenStore(dir)
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, c.bad)) {
				t.Fatalf("OpenStore error %v, want one naming %s", err, c.bad)
			}
		})
	}
}

func TestOpenStoreSkipsTemporaryFiles(t *testing.T) {
	pubs := userKeys(t, 1)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pending"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pending", ".tmp-123"), []byte("half a ke"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pending", "web1"), []byte(pubs[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Key{{ID: "web1", PublicKey: pubs[0], State: Pending}}
	if got := s.List(); !reflect.DeepEqual(got, want) {
		t.Fatalf("List() = %v, want %v", got, want)
	}
}

func TestStoreDirectoriesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submit("web1", userKeys(t, 1)[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "pending")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want mode 0700", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "pending", "web1")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

// TestWatchCanReadStore checks that watchers run after the change is visible
// and may call the store without deadlocking.
func TestWatchCanReadStore(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pub := userKeys(t, 1)[0]
	var seen []State
	s.Watch(func(k Key, old, new State) {
		got, ok := s.Lookup(k.PublicKey)
		if new == "" {
			if ok {
				t.Errorf("deleted key still found: %v", got)
			}
		} else if !ok || got.State != new {
			t.Errorf("in watcher after %s>%s, Lookup = %v, %v", old, new, got, ok)
		}
		seen = append(seen, new)
	})
	if _, err := s.Submit("web1", pub); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(string) error{s.Accept, s.Reject, s.Delete} {
		if err := f("web1"); err != nil {
			t.Fatal(err)
		}
	}
	if want := []State{Pending, Accepted, Rejected, ""}; !slices.Equal(seen, want) {
		t.Fatalf("watcher saw %q, want %q", seen, want)
	}
}

// TestConcurrentSubmitLookup runs submissions, decisions and lookups at once
// (meaningful under -race) and checks that the watcher saw each change once.
func TestConcurrentSubmitLookup(t *testing.T) {
	const n = 64
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	last := map[string]State{}
	s.Watch(func(k Key, old, new State) {
		mu.Lock()
		defer mu.Unlock()
		if last[k.PublicKey] != old {
			t.Errorf("%s: event %s>%s after %s", k.ID, old, new, last[k.PublicKey])
		}
		last[k.PublicKey] = new
	})
	pubs := userKeys(t, n)
	var wg sync.WaitGroup
	for i, pub := range pubs {
		id := fmt.Sprintf("m%03d", i)
		wg.Go(func() {
			if st, err := s.Submit(id, pub); err != nil || st != Pending {
				t.Errorf("Submit(%s) = %q, %v", id, st, err)
			}
			if i%4 == 0 {
				if err := s.Reject(id); err != nil {
					t.Errorf("Reject(%s): %v", id, err)
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				if k, ok := s.Lookup(pub); ok && (k.ID != id || k.PublicKey != pub) {
					t.Errorf("Lookup(%s) = %v", pub, k)
				}
				s.Get(id)
			}
		})
		if i%16 == 0 {
			wg.Go(func() {
				if _, err := s.AcceptAll(); err != nil {
					t.Errorf("AcceptAll: %v", err)
				}
				s.List()
			})
		}
	}
	wg.Wait()
	if _, err := s.AcceptAll(); err != nil {
		t.Fatal(err)
	}
	list := s.List()
	if len(list) != n {
		t.Fatalf("%d keys, want %d", len(list), n)
	}
	for _, k := range list {
		var i int
		fmt.Sscanf(k.ID, "m%d", &i)
		want := Accepted
		if i%4 == 0 {
			want = Rejected
		}
		if k.State != want || last[k.PublicKey] != want {
			t.Errorf("%s: %s (watcher saw %s), want %s", k.ID, k.State, last[k.PublicKey], want)
		}
	}
	checkIndex(t, s, pubs)
	reopened, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reopened.List(), list) {
		t.Fatal("reopened store differs")
	}
}

// BenchmarkLookup measures the per-connection authentication lookup with
// 10,000 accepted keys loaded from disk.
func BenchmarkLookup(b *testing.B) {
	const n = 10000
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "accepted"), 0o700); err != nil {
		b.Fatal(err)
	}
	pubs := make([]string, n)
	for i := range pubs {
		raw := make([]byte, 32)
		raw[0], raw[1], raw[2] = byte(i), byte(i>>8), 1
		enc, err := nkeys.Encode(nkeys.PrefixByteUser, raw)
		if err != nil {
			b.Fatal(err)
		}
		pubs[i] = string(enc)
		if err := os.WriteFile(filepath.Join(dir, "accepted", fmt.Sprintf("minion%05d", i)), enc, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	s, err := OpenStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	if got := len(s.List()); got != n {
		b.Fatalf("%d keys loaded, want %d", got, n)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if k, ok := s.Lookup(pubs[i%n]); !ok || k.State != Accepted {
			b.Fatalf("Lookup(%s) = %v, %v", pubs[i%n], k, ok)
		}
		i++
	}
}

// TestSubmitToDeniedOnlyID covers an id whose only key on disk is a denied
// one: it is a known id, so any other key is denied too.
func TestSubmitToDeniedOnlyID(t *testing.T) {
	pubs := userKeys(t, 2)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "denied"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "denied", "web1"), []byte(pubs[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("web1"); ok {
		t.Fatal("Get returned a denied key")
	}
	if err := s.Accept("web1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Accept of a denied-only id: %v, want ErrNotFound", err)
	}
	for _, pub := range []string{pubs[0], pubs[1]} {
		if st, err := s.Submit("web1", pub); err != nil || st != Denied {
			t.Fatalf("Submit = %q, %v; want denied", st, err)
		}
	}
	want := []Key{{ID: "web1", PublicKey: pubs[1], State: Denied}}
	if got := s.List(); !reflect.DeepEqual(got, want) {
		t.Fatalf("List() = %v, want %v", got, want)
	}
	checkIndex(t, s, pubs)
}

// TestLimitPending: a store at its pending limit refuses new keys, and
// takes them again once one is accepted; keys already known still answer.
func TestLimitPending(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.LimitPending(2)
	k := userKeys(t, 4)
	for i, id := range []string{"m0", "m1"} {
		if st, err := s.Submit(id, k[i]); err != nil || st != Pending {
			t.Fatalf("submit %s: %v %v", id, st, err)
		}
	}
	if _, err := s.Submit("m2", k[2]); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("third pending key: %v, want ErrTooManyPending", err)
	}
	if _, ok := s.Get("m2"); ok {
		t.Fatal("the refused key was stored")
	}
	if st, err := s.Submit("m0", k[0]); err != nil || st != Pending {
		t.Fatalf("a known key asking again: %v %v", st, err)
	}
	if err := s.Accept("m0"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Submit("m2", k[2]); err != nil || st != Pending {
		t.Fatalf("after an accept: %v %v", st, err)
	}
}
