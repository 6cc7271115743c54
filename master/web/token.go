package web

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TokenFile is where, under the master's data dir, the hashes of the web
// tokens are kept: one token a line, "sha256-hex rights created".
const TokenFile = "web_tokens"

// tokenPrefix starts every token, so that a leaked one is recognisable.
const tokenPrefix = "brw_"

// Rights a token carries.
const (
	RightRead = "read" // every page and JSON endpoint
	RightRun  = "run"  // also run jobs and accept or reject keys
)

// NewToken makes a token, stores only its SHA-256 hash in dataDir's token
// file (created 0600) and returns the token itself, which is never stored.
// A run token may also start jobs and accept or reject keys.
func NewToken(dataDir string, run bool) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make a web token: %w", err)
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	rights := RightRead
	if run {
		rights = RightRead + "," + RightRun
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("make a web token: master data dir: %w", err)
	}
	path := filepath.Join(dataDir, TokenFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", fmt.Errorf("make a web token: %w", err)
	}
	_, werr := fmt.Fprintf(f, "%s %s %s\n", hashToken(tok), rights, time.Now().UTC().Format(time.RFC3339))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("make a web token: write %s: %w", path, werr)
	}
	return tok, nil
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// grant is what a valid token may do.
type grant struct {
	run bool
}

// lookupToken checks tok against dataDir's token file. It returns ok=false
// for an unknown token; an error only when the file cannot be read.
func lookupToken(dataDir, tok string) (grant, bool, error) {
	if tok == "" || !strings.HasPrefix(tok, tokenPrefix) || len(tok) > 128 {
		return grant{}, false, nil
	}
	path := filepath.Join(dataDir, TokenFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return grant{}, false, nil
	}
	if err != nil {
		return grant{}, false, fmt.Errorf("read web tokens: %w", err)
	}
	defer f.Close()
	want := hashToken(tok)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != want {
			continue
		}
		g := grant{}
		for r := range strings.SplitSeq(fields[1], ",") {
			if r == RightRun {
				g.run = true
			}
		}
		return g, true, nil
	}
	if err := sc.Err(); err != nil {
		return grant{}, false, fmt.Errorf("read web tokens %s: %w", path, err)
	}
	return grant{}, false, nil
}
