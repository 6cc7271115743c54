package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/brinecm/brine/states"
)

// sigCheck is how file.managed checks a GPG signature of its source
// (Salt's signature, signed_by_any, signed_by_all and gnupghome).
type sigCheck struct {
	clearsigned bool   // signature: True, the source signs itself
	url         string // the URL of a detached signature
	any, all    []string
	home        string // GnuPG home with the trusted public keys; "" = gpg's default
}

// parseSignature reads file.managed's signature or source_hash_sig
// argument: True (the file is clearsigned), False or nothing (no check),
// or the URL of a detached signature.
func parseSignature(v any) (clearsigned bool, url string, fail string) {
	switch x := v.(type) {
	case nil:
		return false, "", ""
	case bool:
		return x, "", ""
	case string:
		if x == "" {
			return false, "", ""
		}
		return false, x, ""
	}
	return false, "", fmt.Sprintf("signature and source_hash_sig must be True (the file is clearsigned) or the URL of a detached signature, not %v", v)
}

// newSigCheck is the check of a signature argument (signature or
// source_hash_sig) of file.managed with the keys a names.
func newSigCheck(v any, a *ManagedArgs) (sigCheck, string) {
	clearsigned, url, fail := parseSignature(v)
	return sigCheck{clearsigned: clearsigned, url: url, any: a.SignedByAny, all: a.SignedByAll, home: a.Gnupghome}, fail
}

// on reports whether a signature is to be checked.
func (s sigCheck) on() bool { return s.clearsigned || s.url != "" }

// verifySignature checks data, the source at srcURL, against its GPG
// signature with gpg; fail says why it does not hold. insecure is the
// source's verify_ssl: False, for an https signature.
func verifySignature(ctx context.Context, env states.Env, s sigCheck, srcURL string, data []byte, insecure bool) string {
	var sig []byte
	if s.url != "" {
		src, fail := parseSource(s.url)
		if fail != "" {
			return fail
		}
		src.insecure = insecure
		var err error
		if sig, err = src.fetch(ctx, env); err != nil {
			return fmt.Sprintf("Unable to read the signature %s of %s: %v", s.url, srcURL, err)
		}
	}
	signers, err := gpgVerify(ctx, s.home, data, sig)
	if err != nil {
		return fmt.Sprintf("The signature of %s could not be verified: %v", srcURL, err)
	}
	has := func(fpr string) bool {
		fpr = strings.ToUpper(strings.ReplaceAll(fpr, " ", ""))
		return slices.ContainsFunc(signers, func(s string) bool { return s == fpr || (len(fpr) >= 16 && strings.HasSuffix(s, fpr)) })
	}
	if len(s.any) > 0 && !slices.ContainsFunc(s.any, has) {
		return fmt.Sprintf("The signature of %s is valid, but by none of signed_by_any (signed by %s)", srcURL, strings.Join(signers, ", "))
	}
	for _, fpr := range s.all {
		if !has(fpr) {
			return fmt.Sprintf("The signature of %s is valid, but not by %s of signed_by_all (signed by %s)", srcURL, fpr, strings.Join(signers, ", "))
		}
	}
	return ""
}

// gpgVerify runs gpg --verify on data (clearsigned when sig is nil, else
// with the detached signature sig) and returns the fingerprints of the
// primary keys that made a good signature.
func gpgVerify(ctx context.Context, home string, data, sig []byte) ([]string, error) {
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		return nil, errors.New("gpg is not installed (Debian package gpg)")
	}
	dir, err := os.MkdirTemp("", "brine-gpg-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	dataFile := dir + "/data"
	if err := os.WriteFile(dataFile, data, 0o600); err != nil {
		return nil, err
	}
	args := []string{"--batch", "--no-tty", "--status-fd", "1"}
	if home != "" {
		args = append(args, "--homedir", home)
	}
	args = append(args, "--verify")
	if sig != nil {
		sigFile := dir + "/data.sig"
		if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
			return nil, err
		}
		args = append(args, sigFile)
	}
	args = append(args, dataFile)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, gpg, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var signers []string
	for line := range strings.Lines(stdout.String()) {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "[GNUPG:]" && f[1] == "VALIDSIG" {
			fpr := f[2]
			if len(f) >= 12 {
				fpr = f[11] // the primary key's, when a subkey signed
			}
			signers = append(signers, strings.ToUpper(fpr))
		}
	}
	if len(signers) == 0 {
		why := strings.TrimSpace(stderr.String())
		if why == "" && runErr != nil {
			why = runErr.Error()
		}
		if why == "" {
			why = "no good signature"
		}
		return nil, fmt.Errorf("gpg: %s", why)
	}
	return signers, nil
}
