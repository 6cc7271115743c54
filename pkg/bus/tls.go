package bus

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Files of the bus TLS material, under <DataDir>/tls.
const (
	caCertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
)

// Certificate lifetimes. The CA is what minions pin; the server certificate
// is issued anew at every start.
const (
	caLifetime     = 20 * 365 * 24 * time.Hour
	serverLifetime = 2 * 365 * 24 * time.Hour
)

// NeedsTLS reports whether a bus listening on listen (host:port) must use TLS:
// every address but a loopback one does. An empty host listens on every
// interface and needs TLS; a host name other than "localhost" is not trusted
// to stay on loopback.
func NeedsTLS(listen string) (bool, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false, fmt.Errorf("listen address %q: %w", listen, err)
	}
	if strings.EqualFold(host, "localhost") {
		return false, nil
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback(), nil
}

// Fingerprint is the SHA-256 fingerprint of a DER certificate, as colon-separated
// upper-case hex pairs (the form `openssl x509 -fingerprint -sha256` prints).
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// serverTLS loads the bus CA from dir, creating it on first use, issues a
// server certificate for host, and returns the server's TLS configuration and
// the CA fingerprint. The server presents its certificate followed by the CA
// certificate, so that a minion can pin the CA on first contact.
func serverTLS(dir, host string) (*tls.Config, string, error) {
	ca, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, "", err
	}
	certDER, key, err := issueCert(ca, caKey, host, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
	if err != nil {
		return nil, "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("encode server key: %w", err)
	}
	if err := writePEM(filepath.Join(dir, serverKeyFile), "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return nil, "", err
	}
	if err := writePEM(filepath.Join(dir, serverCertFile), "CERTIFICATE", certDER, 0o644); err != nil {
		return nil, "", err
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{certDER, ca.Raw}, PrivateKey: key}},
	}
	return tc, Fingerprint(ca.Raw), nil
}

// loadOrCreateCA reads the CA certificate and key from dir, or creates them
// (ECDSA P-256, key 0600) when neither exists.
func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		return parseCA(certPEM, keyPEM, dir)
	case !errors.Is(certErr, fs.ErrNotExist) && certErr != nil:
		return nil, nil, fmt.Errorf("read bus CA: %w", certErr)
	case !errors.Is(keyErr, fs.ErrNotExist) && keyErr != nil:
		return nil, nil, fmt.Errorf("read bus CA key: %w", keyErr)
	case certErr == nil || keyErr == nil:
		return nil, nil, fmt.Errorf("bus CA in %s is incomplete: one of %s and %s is missing", dir, caCertFile, caKeyFile)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create bus TLS dir: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate bus CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"brine"}, CommonName: "brine bus CA " + host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create bus CA: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode bus CA key: %w", err)
	}
	if err := writePEM(keyPath, "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse new bus CA: %w", err)
	}
	return ca, key, nil
}

func parseCA(certPEM, keyPEM []byte, dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("bus CA in %s: not PEM", dir)
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse bus CA: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse bus CA key: %w", err)
	}
	if !ca.IsCA || !key.PublicKey.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("bus CA in %s: the key does not belong to a CA certificate", dir)
	}
	return ca, key, nil
}

// issueCert issues a certificate for host with the given uses; an
// unspecified host (every interface) gets this machine's name and addresses.
func issueCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, host string, usage []x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	dns, ips := serverNames(host)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"brine"}, CommonName: "brine bus"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issue server certificate: %w", err)
	}
	return der, key, nil
}

// serverNames lists the DNS names and IP addresses a server certificate for host covers.
func serverNames(host string) ([]string, []net.IP) {
	dns := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		dns = append(dns, host)
	case !ip.IsUnspecified():
		ips = append(ips, ip)
	default:
		if name, err := os.Hostname(); err == nil {
			dns = append(dns, name)
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
					ips = append(ips, n.IP)
				}
			}
		}
	}
	return dns, ips
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return serial, nil
}

// writePEM writes one PEM block to path with mode perm, through a temporary
// file so that a reader never sees half a file.
func writePEM(path, typ string, der []byte, perm fs.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	return writeFileAtomic(path, data, perm)
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// PinMismatchError is returned when the master presents a CA other than the
// one a minion pinned: either the master's CA was replaced or someone is in
// the middle. Remove the pin file to trust the new CA.
type PinMismatchError struct {
	PinFile string // where the pin is kept
	Pinned  string // fingerprint in the pin file
	Got     string // fingerprint the server presented
}

// Error names both fingerprints.
func (e *PinMismatchError) Error() string {
	return fmt.Sprintf("bus CA fingerprint %s does not match the pinned %s (%s); if the master's CA was replaced on purpose, remove the pin file",
		e.Got, e.Pinned, e.PinFile)
}

// pinner verifies the server's CA against the fingerprint pinned in a file,
// pinning it on first contact (trust on first use). A pin file written by
// hand beforehand pins the CA from the start.
type pinner struct {
	file     string
	log      *slog.Logger
	mu       sync.Mutex
	mismatch *PinMismatchError // last mismatch seen, for Connect to report
}

// tlsConfig is the client configuration that checks the pinned CA. Host names
// are not checked: trust comes from the pinned CA, which signs only this
// master's bus certificates.
func (p *pinner) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the chain is verified against the pinned CA in VerifyConnection
		VerifyConnection:   func(cs tls.ConnectionState) error { return p.verify(cs.PeerCertificates) },
	}
}

// verify checks a presented chain (server certificate, ..., CA certificate).
func (p *pinner) verify(chain []*x509.Certificate) error {
	if len(chain) < 2 {
		return errors.New("bus server presented no CA certificate to pin")
	}
	ca := chain[len(chain)-1]
	if !ca.IsCA || ca.CheckSignatureFrom(ca) != nil {
		return errors.New("bus server's last certificate is not a self-signed CA")
	}
	got := Fingerprint(ca.Raw)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range chain[1 : len(chain)-1] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("bus server certificate: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pinned, err := PinnedFingerprint(p.file)
	switch {
	case err != nil:
		return err
	case pinned == "":
		if err := os.MkdirAll(filepath.Dir(p.file), 0o700); err != nil {
			return fmt.Errorf("pin bus CA: %w", err)
		}
		if err := writeFileAtomic(p.file, []byte(got+"\n"), 0o600); err != nil {
			return fmt.Errorf("pin bus CA: %w", err)
		}
		p.log.Info("bus: pinned the master's CA on first contact: compare with the fingerprint the master logged",
			"fingerprint", got, "pin_file", p.file)
		return nil
	case !strings.EqualFold(pinned, got):
		p.mismatch = &PinMismatchError{PinFile: p.file, Pinned: pinned, Got: got}
		return p.mismatch
	default:
		return nil
	}
}

// lastMismatch returns the last pin mismatch seen, if any.
func (p *pinner) lastMismatch() *PinMismatchError {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mismatch
}

// PinnedFingerprint returns the CA fingerprint pinned in pinFile, "" when
// nothing is pinned yet.
func PinnedFingerprint(pinFile string) (string, error) {
	b, err := os.ReadFile(pinFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read bus CA pin: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// PinnedTLS is a client TLS configuration that trusts a server only when it
// presents a certificate chain ending in the CA with this fingerprint: a
// joining master checks the cluster it joins against its join token.
func PinnedTLS(fingerprint string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified against the fingerprint in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			chain := cs.PeerCertificates
			if len(chain) < 2 {
				return errors.New("bus server presented no CA certificate")
			}
			ca := chain[len(chain)-1]
			if got := Fingerprint(ca.Raw); !strings.EqualFold(got, fingerprint) {
				return fmt.Errorf("bus CA fingerprint %s is not the %s of the join token: not the cluster the token was made for", got, fingerprint)
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return fmt.Errorf("bus server certificate: %w", err)
			}
			return nil
		},
	}
}

// CAFingerprintOf is the fingerprint of the CA in a bus data dir, "" when it
// has none yet.
func CAFingerprintOf(dataDir string) (string, error) {
	b, err := os.ReadFile(CACertFile(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read bus CA: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", fmt.Errorf("bus CA %s: not PEM", CACertFile(dataDir))
	}
	return Fingerprint(blk.Bytes), nil
}
