package bus

import (
	"crypto/tls"
	"path/filepath"
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
	certDER, key, err := issueServerCert(ca, caKey, host)
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
