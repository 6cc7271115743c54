package master

import (
	"crypto/ed25519"
	"fmt"

	"github.com/nats-io/nkeys"
)

// signer is the master's key pair with its Ed25519 private key derived
// once: nkeys derives it from the seed again at every Sign, which costs as
// much as the signature itself, and the master signs a job per minion.
type signer struct {
	nkeys.KeyPair
	priv ed25519.PrivateKey
}

// newSigner wraps kp, whose seed must be readable.
func newSigner(kp nkeys.KeyPair) (*signer, error) {
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	_, raw, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if len(raw) != ed25519.SeedSize {
		return nil, fmt.Errorf("signing key: seed of %d bytes, want %d", len(raw), ed25519.SeedSize)
	}
	return &signer{KeyPair: kp, priv: ed25519.NewKeyFromSeed(raw)}, nil
}

// Sign signs input with the derived private key.
func (s *signer) Sign(input []byte) ([]byte, error) { return ed25519.Sign(s.priv, input), nil }
