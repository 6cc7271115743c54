package bus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// WebTLS is the TLS configuration of the master's web view: a server
// certificate for host issued by the bus CA under dataDir (created on first
// use), presented with the CA, so that a browser or client that trusts the
// bus CA (DATA_DIR/tls/ca.crt) trusts the web view. Nothing is written but
// the CA, when there was none.
func WebTLS(dataDir, host string) (*tls.Config, error) {
	ca, caKey, err := loadOrCreateCA(filepath.Join(dataDir, "tls"))
	if err != nil {
		return nil, err
	}
	certDER, key, err := issueCert(ca, caKey, host, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{certDER, ca.Raw}, PrivateKey: key}},
	}, nil
}

// WebCAFile is the bus CA certificate under a master's data dir, which web
// clients may trust.
func WebCAFile(dataDir string) string { return filepath.Join(dataDir, "tls", caCertFile) }

// webClientLifetime is how long a web client certificate is valid.
const webClientLifetime = 365 * 24 * time.Hour

// IssueWebClientCert issues, with the bus CA under dataDir (created on
// first use), a client certificate for the web view whose Common Name is
// name, valid for a year. It returns the certificate and its new key as
// PEM; neither is stored.
func IssueWebClientCert(dataDir, name string) (certPEM, keyPEM []byte, err error) {
	if name == "" {
		return nil, nil, errors.New("web client certificate: a name (the Common Name) is needed")
	}
	ca, caKey, err := loadOrCreateCA(filepath.Join(dataDir, "tls"))
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate web client key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"brine"}, OrganizationalUnit: []string{"web"}, CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(webClientLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issue web client certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode web client key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
