package job

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

// now is the fixed present of these tests.
var now = time.Date(2026, 11, 22, 3, 15, 0, 123456000, time.UTC)

// sentinels are every error Open may refuse a job with.
var sentinels = []error{ErrMalformed, ErrUnsigned, ErrWrongSigner, ErrBadSignature, ErrWrongMinion, ErrExpired, ErrIssuedInFuture, ErrReplayed}

func newKey(t testing.TB) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

// testJob returns a job for web1, issued a minute ago, valid for an hour.
func testJob() *Job {
	return &Job{
		JID:     "20261122031400000000_0badcafe",
		Minion:  "web1",
		Fun:     "state.apply",
		Args:    []any{"nginx", 3.0, true, nil, []any{"a"}},
		Kwargs:  map[string]any{"test": true, "pillar": map[string]any{"port": 80.0}},
		Lows:    json.RawMessage(`[{"state":"file","fun":"managed","name":"/etc/motd"}]`),
		Pillar:  map[string]any{"role": "web"},
		Issued:  now.Add(-time.Minute),
		Expires: now.Add(time.Hour),
	}
}

// sign signs j with kp, failing the test on error.
func sign(t testing.TB, kp nkeys.KeyPair, j *Job) []byte {
	t.Helper()
	data, err := Sign(kp, j)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// envelope rewrites the Signed JSON in data with edit.
func envelope(t testing.TB, data []byte, edit func(*Signed)) []byte {
	t.Helper()
	var s Signed
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	edit(&s)
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signRaw signs arbitrary payload bytes, bypassing Sign's checks, as a
// master with a bug (or a stolen key) could.
func signRaw(t testing.TB, kp nkeys.KeyPair, payload []byte) []byte {
	t.Helper()
	sig, err := kp.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	out, err := json.Marshal(Signed{Payload: payload, Signature: sig, Signer: pub})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpen(t *testing.T) {
	master, trusted := newKey(t)
	other, _ := newKey(t)
	good := sign(t, master, testJob())
	withJob := func(edit func(*Job)) []byte {
		j := testJob()
		edit(j)
		return sign(t, master, j)
	}
	rawJob, _ := json.Marshal(testJob())
	badPayload, _ := json.Marshal(map[string]any{"jid": "x1", "minion": "web1", "fun": "test.ping", "issued": now, "expires": "tomorrow"})

	cases := []struct {
		name string
		data []byte
		at   time.Time
		want error // nil: opens
	}{
		{"valid", good, now, nil},
		{"valid at the last instant", withJob(func(j *Job) { j.Expires = now.Add(-ClockSkew) }), now, nil},
		{"valid though issued a little ahead", withJob(func(j *Job) { j.Issued = now.Add(ClockSkew) }), now, nil},

		{"tampered payload", envelope(t, good, func(s *Signed) {
			s.Payload = []byte(strings.Replace(string(s.Payload), "state.apply", "cmd.run", 1))
		}), now, ErrBadSignature},
		{"tampered target", envelope(t, good, func(s *Signed) {
			s.Payload = []byte(strings.Replace(string(s.Payload), `"web1"`, `"web2"`, 1))
		}), now, ErrBadSignature},
		{"tampered signature", envelope(t, good, func(s *Signed) { s.Signature[10] ^= 1 }), now, ErrBadSignature},
		{"truncated signature", envelope(t, good, func(s *Signed) { s.Signature = s.Signature[:63] }), now, ErrBadSignature},
		{"signature over nothing", envelope(t, good, func(s *Signed) { s.Payload = nil }), now, ErrBadSignature},
		{"other key claiming to be the master", envelope(t, sign(t, other, testJob()), func(s *Signed) { s.Signer = trusted }), now, ErrBadSignature},
		{"other key", sign(t, other, testJob()), now, ErrWrongSigner},
		{"signer spelt differently", envelope(t, good, func(s *Signed) { s.Signer = strings.ToLower(trusted) }), now, ErrWrongSigner},

		{"bare job", rawJob, now, ErrUnsigned},
		{"no signature", envelope(t, good, func(s *Signed) { s.Signature = nil }), now, ErrUnsigned},
		{"no signer", envelope(t, good, func(s *Signed) { s.Signer = "" }), now, ErrUnsigned},
		{"null", []byte("null"), now, ErrUnsigned},
		{"empty object", []byte("{}"), now, ErrUnsigned},

		{"empty", nil, now, ErrMalformed},
		{"not json", []byte("state.apply"), now, ErrMalformed},
		{"array", []byte("[1,2]"), now, ErrMalformed},
		{"trailing data", append(slices.Clone(good), '{'), now, ErrMalformed},
		{"signature not base64", []byte(`{"payload":"e30=","sig":"!!","signer":"` + trusted + `"}`), now, ErrMalformed},
		{"signed non-job", signRaw(t, master, []byte(`["test.ping"]`)), now, ErrMalformed},
		{"signed job with a bad time", signRaw(t, master, badPayload), now, ErrMalformed},
		{"signed job without expiry", signRaw(t, master, []byte(`{"jid":"x1","minion":"web1","fun":"test.ping","issued":"2026-11-22T03:14:00Z"}`)), now, ErrMalformed},
		{"signed job with a subject in its id", signRaw(t, master, []byte(`{"jid":"x.>","minion":"web1","fun":"test.ping","issued":"2026-11-22T03:14:00Z","expires":"2026-11-22T04:14:00Z"}`)), now, ErrMalformed},
		{"signed job for a wildcard", signRaw(t, master, []byte(`{"jid":"x1","minion":"*","fun":"test.ping","issued":"2026-11-22T03:14:00Z","expires":"2026-11-22T04:14:00Z"}`)), now, ErrMalformed},

		{"other minion", withJob(func(j *Job) { j.Minion = "web2" }), now, ErrWrongMinion},
		{"minion id prefix", withJob(func(j *Job) { j.Minion = "web10" }), now, ErrWrongMinion},

		{"expired", withJob(func(j *Job) { j.Expires = now.Add(-ClockSkew - time.Nanosecond) }), now, ErrExpired},
		{"opened too late", good, now.Add(time.Hour + ClockSkew + time.Second), ErrExpired},
		{"issued in the future", withJob(func(j *Job) { j.Issued = now.Add(ClockSkew + time.Second) }), now, ErrIssuedInFuture},
		{"opened too early", good, now.Add(-time.Minute - ClockSkew - time.Second), ErrIssuedInFuture},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j, err := Open(c.data, trusted, "web1", c.at)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if j.Minion != "web1" || j.Fun != "state.apply" {
					t.Fatalf("opened %+v", j)
				}
				return
			}
			if j != nil {
				t.Errorf("Open returned a job with error %v", err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) != (s == c.want) {
					t.Fatalf("Open error %v; want %v and no other", err, c.want)
				}
			}
		})
	}
}

func TestSignOpenRoundTrip(t *testing.T) {
	master, trusted := newKey(t)
	want := testJob()
	data := sign(t, master, want)
	got, err := Open(data, trusted, "web1", now)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Issued.Equal(want.Issued) || !got.Expires.Equal(want.Expires) {
		t.Errorf("times %v..%v, want %v..%v", got.Issued, got.Expires, want.Issued, want.Expires)
	}
	got.Issued, got.Expires = want.Issued, want.Expires
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip\n%+v\nwant\n%+v", got, want)
	}
}

func TestOpenRefusesBadTrustedKey(t *testing.T) {
	master, trusted := newKey(t)
	data := sign(t, master, testJob())
	seed, _ := master.Seed()
	for _, bad := range []string{"", "nonsense", string(seed), trusted[:55]} {
		j, err := Open(data, bad, "web1", now)
		if err == nil || j != nil || !strings.Contains(err.Error(), "trusted master key") {
			t.Errorf("Open with trusted %q: %v, want a configuration error", bad, err)
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				t.Errorf("a bad trusted key is reported as %v", s)
			}
		}
	}
}

func TestSignRefusesBadJobs(t *testing.T) {
	master, trusted := newKey(t)
	public, _ := nkeys.FromPublicKey(trusted)
	cases := []struct {
		name string
		kp   nkeys.KeyPair
		edit func(*Job)
		want string
	}{
		{"no jid", master, func(j *Job) { j.JID = "" }, "job id"},
		{"jid with a dot", master, func(j *Job) { j.JID = "2026.1" }, "job id"},
		{"no minion", master, func(j *Job) { j.Minion = "" }, "invalid minion id"},
		{"wildcard minion", master, func(j *Job) { j.Minion = "web*" }, "invalid minion id"},
		{"no function", master, func(j *Job) { j.Fun = "" }, "no function"},
		{"no issue time", master, func(j *Job) { j.Issued = time.Time{} }, "no issue time"},
		{"no expiry", master, func(j *Job) { j.Expires = time.Time{} }, "not after"},
		{"expires when issued", master, func(j *Job) { j.Expires = j.Issued }, "not after"},
		{"unencodable argument", master, func(j *Job) { j.Args = []any{make(chan int)} }, "unsupported type"},
		{"public key only", public, func(*Job) {}, "sign job"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := testJob()
			c.edit(j)
			data, err := Sign(c.kp, j)
			if err == nil || data != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Sign: %q, %v; want an error containing %q", data, err, c.want)
			}
		})
	}
	if _, err := Sign(master, nil); err == nil {
		t.Error("Sign(nil) succeeded")
	}
}

func TestNewJID(t *testing.T) {
	format := regexp.MustCompile(`^[0-9]{20}_[0-9a-f]{16}$`)
	local := now.In(time.FixedZone("CET", 3600))
	jid := NewJID(local)
	if !format.MatchString(jid) || !strings.HasPrefix(jid, "20261122031500123456_") || !ValidJID(jid) {
		t.Fatalf("NewJID = %q, want 20261122031500123456_ and 16 hex digits", jid)
	}
	seen := map[string]bool{}
	for range 10000 {
		jid := NewJID(now)
		if seen[jid] {
			t.Fatalf("NewJID repeated %s", jid)
		}
		seen[jid] = true
	}
	if a, b := NewJID(now), NewJID(now.Add(time.Microsecond)); a[:20] >= b[:20] {
		t.Errorf("later JID %s does not sort after %s", b, a)
	}
}

// BenchmarkOpen measures what a minion spends verifying one job.
func BenchmarkOpen(b *testing.B) {
	master, trusted := newKey(b)
	data := sign(b, master, testJob())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(data, trusted, "web1", now); err != nil {
			b.Fatal(err)
		}
	}
}

func TestValidJID(t *testing.T) {
	cases := []struct {
		jid  string
		want bool
	}{
		{"20261122031500123456_1a2b3c4d", true},
		{"a", true},
		{"A-Z_0-9", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"a.b", false},
		{"a*", false},
		{"a>", false},
		{"a b", false},
		{"jid\n", false},
		{"é", false},
	}
	for _, c := range cases {
		if got := ValidJID(c.jid); got != c.want {
			t.Errorf("ValidJID(%q) = %v, want %v", c.jid, got, c.want)
		}
	}
}
