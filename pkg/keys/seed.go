package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"
)

// maxSeedFile bounds what LoadOrCreate reads: a seed is 58 characters.
const maxSeedFile = 4096

// LoadOrCreate reads the user NKey seed at path, or creates a new user key
// pair and writes its seed there, 0600, atomically, creating missing
// directories 0700. Minions keep their identity this way, and the master its
// signing key. A seed file that group or others may access is an error naming
// the file and the chmod that fixes it.
func LoadOrCreate(path string) (nkeys.KeyPair, error) {
	kp, err := loadSeed(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return kp, err
	}
	return createSeed(path)
}

// loadSeed reads and checks the seed file at path.
func loadSeed(path string) (nkeys.KeyPair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read seed: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read seed: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read seed %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("seed file %s has mode %#o, which lets group or others at the key; run: chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSeedFile))
	defer clear(data)
	if err != nil {
		return nil, fmt.Errorf("read seed %s: %w", path, err)
	}
	seed := bytes.TrimSpace(data)
	prefix, _, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("read seed %s: not an NKey seed", path)
	}
	if prefix != nkeys.PrefixByteUser {
		return nil, fmt.Errorf("read seed %s: a %s seed, want a user seed (starting SU)", path, prefix)
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("read seed %s: %w", path, err)
	}
	return kp, nil
}

// createSeed makes a new user key pair and stores its seed at path, unless
// another process got there first, in which case it loads that one.
func createSeed(path string) (nkeys.KeyPair, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create seed: %w", err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("create seed: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("create seed: %w", err)
	}
	line := make([]byte, len(seed)+1)
	copy(line, seed)
	line[len(seed)] = '\n'
	tmp, err := writeTemp(dir, line)
	clear(line)
	if err != nil {
		return nil, fmt.Errorf("create seed %s: %w", path, err)
	}
	defer os.Remove(tmp)
	// A hard link, unlike a rename, never replaces a seed that appeared meanwhile.
	err = os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) {
		kp.Wipe()
		return loadSeed(path)
	}
	if err == nil {
		err = syncDirs(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("create seed %s: %w", path, err)
	}
	return kp, nil
}

// Fingerprint returns a key's fingerprint as salt-key -f prints it: the
// SHA-256 of the public key text, in lowercase hex bytes separated by colons.
func Fingerprint(publicKey string) string {
	sum := sha256.Sum256([]byte(publicKey))
	h := hex.EncodeToString(sum[:])
	var b strings.Builder
	b.Grow(len(h) + len(sum) - 1)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}
