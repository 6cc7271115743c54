package keys

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestFingerprint(t *testing.T) {
	// Known answer: printf %s "$key" | sha256sum
	const key = "UAH4GH2BY3Q3LZ2QHKIILPDIYZG6OPMEX3PW6REUR4EK3AN6DTRQUXUI"
	const want = "7c:fb:71:bd:06:c4:2b:7b:ab:0d:c3:b2:c2:36:18:12:08:af:13:6e:77:e2:14:e0:57:12:61:b6:a6:79:00:dd"
	if got := Fingerprint(key); got != want {
		t.Errorf("Fingerprint(%s) = %s, want %s", key, got, want)
	}
	format := regexp.MustCompile(`^([0-9a-f]{2}:){31}[0-9a-f]{2}$`)
	pubs := userKeys(t, 2)
	a, b := Fingerprint(pubs[0]), Fingerprint(pubs[1])
	if !format.MatchString(a) || a == b || a != Fingerprint(pubs[0]) {
		t.Errorf("fingerprints %s and %s: want two stable, distinct, salt-key style fingerprints", a, b)
	}
}

func TestLoadOrCreateCreatesPrivateSeed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki", "minion")
	path := filepath.Join(dir, "minion.nk")
	kp, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		t.Fatalf("public key %q, %v: want a user key", pub, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700, filepath.Dir(dir): 0o700} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %#o", p, fi.Mode().Perm(), err, want)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(data), "SU") || !strings.HasSuffix(string(data), "\n") {
		t.Fatalf("seed file holds %d bytes, %v: want one user seed line", len(data), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the seed", len(entries))
	}

	again, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if pub2, _ := again.PublicKey(); pub2 != pub {
		t.Fatalf("reloaded key %s, want %s", pub2, pub)
	}
	msg := []byte("job")
	sig, err := again.Sign(msg)
	if err != nil || kp.Verify(msg, sig) != nil {
		t.Fatalf("the reloaded key does not sign as the created one: %v", err)
	}
}

func TestLoadOrCreateChecksExistingSeed(t *testing.T) {
	user, _ := nkeys.CreateUser()
	userSeed, _ := user.Seed()
	userPub, _ := user.PublicKey()
	acct, _ := nkeys.CreateAccount()
	acctSeed, _ := acct.Seed()
	cases := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr []string // substrings; none means success
	}{
		{"0600", string(userSeed) + "\n", 0o600, nil},
		{"0400 without newline", string(userSeed), 0o400, nil},
		{"world readable", string(userSeed), 0o644, []string{"0644", "chmod 600"}},
		{"group readable", string(userSeed), 0o640, []string{"0640", "chmod 600"}},
		{"group writable", string(userSeed), 0o620, []string{"0620", "chmod 600"}},
		{"garbage", "SUnot-a-seed\n", 0o600, []string{"not an NKey seed"}},
		{"public key", userPub, 0o600, []string{"not an NKey seed"}},
		{"account seed", string(acctSeed), 0o600, []string{"want a user seed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "minion.nk")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil {
				t.Fatal(err)
			}
			kp, err := LoadOrCreate(path)
			if c.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if pub, _ := kp.PublicKey(); pub != userPub {
					t.Fatalf("loaded %s, want %s", pub, userPub)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded a seed that must be refused")
			}
			for _, want := range append(c.wantErr, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), c.content[2:10]) {
				t.Errorf("error %q shows the seed file's content", err)
			}
			if data, _ := os.ReadFile(path); string(data) != c.content {
				t.Error("a refused seed file was rewritten")
			}
		})
	}
}

func TestLoadOrCreateRefusesDirectory(t *testing.T) {
	path := t.TempDir()
	if err := os.Chmod(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("error %v, want not a regular file", err)
	}
}

// TestLoadOrCreateConcurrent starts several processes' worth of first starts
// at once: they must all end up with the one seed on disk.
func TestLoadOrCreateConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.nk")
	const n = 16
	pubs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			kp, err := LoadOrCreate(path)
			if err != nil {
				t.Error(err)
				return
			}
			pubs[i], _ = kp.PublicKey()
		})
	}
	wg.Wait()
	final, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := final.PublicKey()
	for i, pub := range pubs {
		if pub != want {
			t.Errorf("caller %d got %s, the seed on disk is %s", i, pub, want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the seed", len(entries))
	}
}
