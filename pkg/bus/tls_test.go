package bus

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNeedsTLS(t *testing.T) {
	tests := []struct {
		listen string
		want   bool
	}{
		{"127.0.0.1:4222", false},
		{"127.8.9.10:4222", false},
		{"[::1]:4222", false},
		{"localhost:4222", false},
		{"LocalHost:4222", false},
		{"0.0.0.0:4222", true},
		{":4222", true},
		{"[::]:4222", true},
		{"10.1.2.3:4222", true},
		{"192.0.2.7:4222", true},
		{"[2001:db8::1]:4222", true},
		{"master.example.com:4222", true},
		{"localhost.example.com:4222", true},
	}
	for _, tc := range tests {
		got, err := NeedsTLS(tc.listen)
		if err != nil || got != tc.want {
			t.Errorf("NeedsTLS(%q) = %v, %v; want %v", tc.listen, got, err, tc.want)
		}
	}
	if _, err := NeedsTLS("no-port"); err == nil {
		t.Error("NeedsTLS accepted an address without a port")
	}
}

// tlsServer starts a bus that requires TLS on loopback.
func tlsServer(t *testing.T, dataDir string, keys *keyTable) *Server {
	t.Helper()
	return startServer(t, ServerConfig{DataDir: dataDir, Listen: "127.0.0.1:0", ForceTLS: true, Auth: keys})
}

func TestTLSPinning(t *testing.T) {
	dataDir := t.TempDir()
	pinFile := filepath.Join(t.TempDir(), "minion", "master.fpr")
	keys := newKeyTable()
	const id = "edge1"
	kp, pub := newKey(t)
	keys.set(pub, RoleMinion, id)
	srv := tlsServer(t, dataDir, keys)

	fp := srv.CAFingerprint()
	if len(fp) != 32*3-1 || !strings.HasPrefix(srv.ClientURL(), "tls://127.0.0.1:") {
		t.Fatalf("fingerprint %q, url %q", fp, srv.ClientURL())
	}
	for _, name := range []string{caKeyFile, serverKeyFile} {
		st, err := os.Stat(filepath.Join(dataDir, "tls", name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, st.Mode().Perm())
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connect := func(url string) error {
		nc, err := Connect(ctx, ClientConfig{URLs: []string{url}, Name: id, Key: kp, Minion: true, PinFile: pinFile, Log: testLog(t)})
		if err != nil {
			return err
		}
		defer nc.Close()
		if !nc.TLSRequired() {
			t.Error("connection is not TLS")
		}
		// A round trip proves the session is authenticated and usable.
		return nc.Flush()
	}

	// First contact pins the CA.
	if pinned, _ := PinnedFingerprint(pinFile); pinned != "" {
		t.Fatalf("pinned before first contact: %q", pinned)
	}
	if err := connect(srv.ClientURL()); err != nil {
		t.Fatalf("first contact: %v", err)
	}
	if pinned, err := PinnedFingerprint(pinFile); err != nil || pinned != fp {
		t.Fatalf("pinned %q (%v), want %q", pinned, err, fp)
	}
	if st, err := os.Stat(pinFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("pin file: %v %v", st, err)
	}

	// A restarted master keeps its CA: the pin still matches.
	srv.Shutdown()
	again := tlsServer(t, dataDir, keys)
	if again.CAFingerprint() != fp {
		t.Fatalf("CA changed across restarts: %s -> %s", fp, again.CAFingerprint())
	}
	if err := connect(again.ClientURL()); err != nil {
		t.Fatalf("after restart: %v", err)
	}

	// Another master (another CA) is refused, naming both fingerprints.
	other := tlsServer(t, t.TempDir(), keys)
	start := time.Now()
	err := connect(other.ClientURL())
	var mismatch *PinMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("connect to another CA: %v, want a pin mismatch", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("pin mismatch took %s; it must not be retried", time.Since(start))
	}
	for _, want := range []string{fp, other.CAFingerprint(), pinFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if pinned, _ := PinnedFingerprint(pinFile); pinned != fp {
		t.Fatalf("pin overwritten with %q", pinned)
	}
}

func TestLoopbackWithoutTLS(t *testing.T) {
	srv := startServer(t, ServerConfig{Listen: "127.0.0.1:0", Auth: newKeyTable()})
	if srv.CAFingerprint() != "" || !strings.HasPrefix(srv.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("fingerprint %q, url %q", srv.CAFingerprint(), srv.ClientURL())
	}
	inproc := startServer(t, ServerConfig{Auth: newKeyTable()})
	if inproc.ClientURL() != "" {
		t.Fatalf("in-process server has URL %q", inproc.ClientURL())
	}
}

func TestBrokenCAIsAnError(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, caCertFile), []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := StartServer(ctx, ServerConfig{DataDir: dataDir, Listen: "127.0.0.1:0", ForceTLS: true, Auth: newKeyTable(), Log: testLog(t)})
	if err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("err = %v, want the incomplete CA named", err)
	}
}
