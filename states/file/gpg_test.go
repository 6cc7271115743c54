package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/states"
)

// gpgRun runs gpg with the home directory home.
func gpgRun(t *testing.T, home string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--batch", "--no-tty", "--homedir", home}, args...)...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// gpgHome makes a GnuPG home directory (short, for gpg-agent's socket)
// whose agent is stopped at the end of the test.
func gpgHome(t *testing.T) string {
	t.Helper()
	home, err := os.MkdirTemp("", "bgpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	return home
}

// gpgKey generates a signing key in home and returns its fingerprint.
func gpgKey(t *testing.T, home, uid string) string {
	t.Helper()
	gpgRun(t, home, nil, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	for line := range strings.Lines(string(gpgRun(t, home, nil, "--with-colons", "--list-keys", uid))) {
		if f := strings.Split(line, ":"); f[0] == "fpr" {
			return f[9]
		}
	}
	t.Fatalf("no fingerprint for %s", uid)
	return ""
}

// signedSources is Salt's remote_grail_scene33 fixture with its
// signatures: scene33, its detached signature by keys A and B
// (scene33.asc) and scene33 clearsigned by A (scene33.clearsign.asc),
// served over http; verifyHome holds the public keys of A and B only.
type signedSources struct {
	url, verifyHome, fprA, fprB string
	files                       map[string][]byte
	otherHome                   string // a home that trusts neither key
}

func newSignedSources(t *testing.T) *signedSources {
	t.Helper()
	signHome, verifyHome := gpgHome(t), gpgHome(t)
	s := &signedSources{verifyHome: verifyHome, otherHome: gpgHome(t)}
	s.fprA = gpgKey(t, signHome, "Key A <keya@example>")
	s.fprB = gpgKey(t, signHome, "Key B <keyb@example>")
	gpgKey(t, s.otherHome, "Key C <keyc@example>")
	gpgRun(t, verifyHome, gpgRun(t, signHome, nil, "--armor", "--export", s.fprA, s.fprB), "--import")

	scene, err := os.ReadFile("testdata/salttree/grail/scene33")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(scene)
	hashFile := []byte(hex.EncodeToString(sum[:]) + "  scene33\n")
	s.files = map[string][]byte{
		"grail/scene33.SHA256":               hashFile,
		"grail/scene33.SHA256.asc":           gpgRun(t, signHome, hashFile, "--armor", "--detach-sign", "-u", s.fprA, "-u", s.fprB),
		"grail/scene33.SHA256.clearsign.asc": gpgRun(t, signHome, hashFile, "--clearsign", "-u", s.fprA),
		"grail/scene33":                      scene,
		"grail/scene33.asc":                  gpgRun(t, signHome, scene, "--armor", "--detach-sign", "-u", s.fprA, "-u", s.fprB),
		"grail/scene33.clearsign.asc":        gpgRun(t, signHome, scene, "--clearsign", "-u", s.fprA),
		"grail/tampered":                     append([]byte("tampered\n"), scene...),
		"grail/tampered.asc":                 gpgRun(t, signHome, scene, "--armor", "--detach-sign", "-u", s.fprA),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *signedSources) hash(name string) string {
	h := sha256.Sum256(s.files[name])
	return "sha256=" + hex.EncodeToString(h[:])
}

func applyManaged(t *testing.T, name string, args map[string]any) states.Outcome {
	t.Helper()
	e, _ := states.Lookup("file.managed")
	decoded, err := e.Decode(args)
	if err != nil {
		t.Fatalf("arguments: %v", err)
	}
	return e.Apply(context.Background(), &states.Call{ID: name, Name: name, SLS: "replay"}, decoded)
}

// replayManagedSignature replays Salt's test_file_managed_signature, both
// parameter sets (signature: True on a clearsigned source, and a detached
// .asc signature), with real gpg and keys made for the test.
func replayManagedSignature(t *testing.T) {
	s := newSignedSources(t)
	for _, c := range []struct {
		name, source, contents string
		signature              any
	}{
		{"signature=True", "grail/scene33.clearsign.asc", "grail/scene33.clearsign.asc", true},
		{"signature=.asc", "grail/scene33", "grail/scene33", s.url + "/grail/scene33.asc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "test_file_managed_signature.txt")
			o := applyManaged(t, name, map[string]any{"source": s.url + "/" + c.source, "source_hash": s.hash(c.source),
				"signature": c.signature, "gnupghome": s.verifyHome})
			if o.Result == nil || !*o.Result || !o.Changed() {
				t.Fatalf("result %s, changes %v: %s", states.ResultString(o.Result), o.Changes, o.Comment)
			}
			if got, _ := os.ReadFile(name); string(got) != string(s.files[c.contents]) {
				t.Errorf("%s holds %q, want %s", name, got, c.contents)
			}
		})
	}
}

// replayManagedSignatureFail replays Salt's
// test_file_managed_signature_fail: good signatures, but not by the key
// signed_by_all asks for; then brine's own failing cases.
func replayManagedSignatureFail(t *testing.T) {
	s := newSignedSources(t)
	cases := []struct {
		name   string
		args   map[string]any
		result bool
		want   string
	}{
		{"test_file_managed_signature_fail", map[string]any{"source": s.url + "/grail/scene33", "source_hash": s.hash("grail/scene33"),
			"signature": s.url + "/grail/scene33.asc", "gnupghome": s.verifyHome,
			"signed_by_all": []any{"DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF"}}, false, "not by DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF of signed_by_all"},
		{"signed_by_all both keys (brine)", map[string]any{"source": s.url + "/grail/scene33", "skip_verify": true,
			"signature": s.url + "/grail/scene33.asc", "gnupghome": s.verifyHome,
			"signed_by_all": []any{s.fprA, s.fprB}}, true, ""},
		{"signed_by_any one key (brine)", map[string]any{"source": s.url + "/grail/scene33", "skip_verify": true,
			"signature": s.url + "/grail/scene33.asc", "gnupghome": s.verifyHome,
			"signed_by_any": []any{"DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF", strings.ToLower(s.fprB)}}, true, ""},
		{"signed_by_any other key (brine)", map[string]any{"source": s.url + "/grail/scene33.clearsign.asc", "skip_verify": true,
			"signature": true, "gnupghome": s.verifyHome, "signed_by_any": []any{s.fprB}}, false, "by none of signed_by_any"},
		{"tampered source (brine)", map[string]any{"source": s.url + "/grail/tampered", "skip_verify": true,
			"signature": s.url + "/grail/tampered.asc", "gnupghome": s.verifyHome}, false, "could not be verified"},
		{"untrusted key (brine)", map[string]any{"source": s.url + "/grail/scene33", "skip_verify": true,
			"signature": s.url + "/grail/scene33.asc", "gnupghome": s.otherHome}, false, "could not be verified"},
		{"no signature there (brine)", map[string]any{"source": s.url + "/grail/scene33", "skip_verify": true,
			"signature": s.url + "/grail/none.asc", "gnupghome": s.verifyHome}, false, "Unable to read the signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "test_file_managed_signature_fail.txt")
			o := applyManaged(t, name, c.args)
			if o.Result == nil || *o.Result != c.result {
				t.Fatalf("result %s, want %v: %s", states.ResultString(o.Result), c.result, o.Comment)
			}
			if !strings.Contains(o.Comment, c.want) {
				t.Errorf("comment %q lacks %q", o.Comment, c.want)
			}
			_, err := os.Stat(name)
			if exists := err == nil; exists != c.result || (!c.result && o.Changed()) {
				t.Errorf("exists %v, changes %v", exists, o.Changes)
			}
		})
	}
}

// replayManagedSourceHashSig replays Salt's newer
// test_file_managed_source_hash_sig (source_hash_sig: True on a
// clearsigned hash file, and a detached .asc signature of it) and
// test_file_managed_source_hash_sig_fail, then brine's own cases.
func replayManagedSourceHashSig(t *testing.T) {
	s := newSignedSources(t)
	src := s.url + "/grail/scene33"
	cases := []struct {
		name   string
		args   map[string]any
		result bool
		want   string
	}{
		{"test_file_managed_source_hash_sig[sig=True]", map[string]any{"source": src, "source_hash": src + ".SHA256.clearsign.asc",
			"source_hash_sig": true, "gnupghome": s.verifyHome}, true, ""},
		{"test_file_managed_source_hash_sig[sig=.asc]", map[string]any{"source": src, "source_hash": src + ".SHA256",
			"source_hash_sig": src + ".SHA256.asc", "gnupghome": s.verifyHome}, true, ""},
		{"test_file_managed_source_hash_sig_fail", map[string]any{"source": src, "source_hash": src + ".SHA256",
			"source_hash_sig": src + ".SHA256.asc", "gnupghome": s.verifyHome,
			"signed_by_all": []any{"DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF"}}, false, "not by DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF of signed_by_all"},
		{"untrusted hash file (brine)", map[string]any{"source": src, "source_hash": src + ".SHA256",
			"source_hash_sig": src + ".SHA256.asc", "gnupghome": s.otherHome}, false, "could not be verified"},
		{"a digest has no signature (brine)", map[string]any{"source": src, "source_hash": s.hash("grail/scene33"),
			"source_hash_sig": true, "gnupghome": s.verifyHome}, false, "source_hash_sig needs source_hash to be the URL of a hash file"},
		{"skip_verify leaves nothing to check (brine)", map[string]any{"source": src, "skip_verify": true,
			"source_hash_sig": true, "gnupghome": s.verifyHome}, false, "source_hash_sig needs a source_hash file to check"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "test_file_managed_source_hash_sig.txt")
			o := applyManaged(t, name, c.args)
			if o.Result == nil || *o.Result != c.result {
				t.Fatalf("result %s, want %v: %s", states.ResultString(o.Result), c.result, o.Comment)
			}
			if !strings.Contains(o.Comment, c.want) {
				t.Errorf("comment %q lacks %q", o.Comment, c.want)
			}
			got, err := os.ReadFile(name)
			switch {
			case c.result && string(got) != string(s.files["grail/scene33"]):
				t.Errorf("%s holds %q (%v), want scene33", name, got, err)
			case !c.result && (err == nil || o.Changed()):
				t.Errorf("a failed state wrote %s (changes %v)", name, o.Changes)
			}
		})
	}
}
