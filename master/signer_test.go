package master

import (
	"bytes"
	"testing"

	"github.com/nats-io/nkeys"
)

// TestSigner: the signer's signatures are the key pair's own (Ed25519 is
// deterministic) and verify with its public key.
func TestSigner(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSigner(kp)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range [][]byte{nil, []byte("job"), bytes.Repeat([]byte{0xab}, 4096)} {
		got, err := s.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := kp.Sign(msg)
		if !bytes.Equal(got, want) {
			t.Errorf("signature of %d bytes differs from the key pair's", len(msg))
		}
		if err := kp.Verify(msg, got); err != nil {
			t.Errorf("signature of %d bytes does not verify: %v", len(msg), err)
		}
	}
	pub, _ := kp.PublicKey()
	if got, _ := s.PublicKey(); got != pub {
		t.Errorf("public key %s, want %s", got, pub)
	}
}

func BenchmarkSign(b *testing.B) {
	kp, _ := nkeys.CreateUser()
	s, _ := newSigner(kp)
	msg := bytes.Repeat([]byte("j"), 300)
	for _, c := range []struct {
		name string
		kp   nkeys.KeyPair
	}{{"nkeys", kp}, {"signer", s}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.kp.Sign(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
