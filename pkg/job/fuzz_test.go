package job

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nkeys"
)

// FuzzOpen feeds Open arbitrary bytes: it must never panic, every refusal
// must be one of the documented errors, and whatever it accepts must carry
// the trusted key's valid signature over a job for this minion, in its window.
func FuzzOpen(f *testing.F) {
	master, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	trusted, _ := master.PublicKey()
	raw, err := nkeys.Decode(nkeys.PrefixByteUser, []byte(trusted))
	if err != nil {
		f.Fatal(err)
	}
	good := sign(f, master, testJob())
	f.Add(good)
	f.Add(envelope(f, good, func(s *Signed) { s.Signature[0] ^= 1 }))
	f.Add(envelope(f, good, func(s *Signed) { s.Signer = "" }))
	bare, _ := json.Marshal(testJob())
	f.Add(bare)
	f.Add(signRaw(f, master, []byte(`{"jid":"x","minion":"web1","fun":"f","issued":"2026-11-22T03:14:00Z","expires":"2026-11-22T03:15:00Z"}`)))
	f.Add([]byte(`{"payload":null,"sig":"","signer":"` + trusted + `"}`))
	f.Add([]byte("null"))

	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := Open(data, trusted, "web1", now)
		if err != nil {
			if j != nil {
				t.Fatalf("job returned with error %v", err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("unclassified error %v", err)
		}
		var s Signed
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("accepted an envelope that does not decode: %v", err)
		}
		if s.Signer != trusted || !ed25519.Verify(ed25519.PublicKey(raw), s.Payload, s.Signature) {
			t.Fatal("accepted a job without the trusted key's valid signature")
		}
		if j.Minion != "web1" || now.After(j.Expires.Add(ClockSkew)) || j.Issued.After(now.Add(ClockSkew)) {
			t.Fatalf("accepted a job outside its minion or window: %+v", j)
		}
	})
}
