package bus

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// busyPort holds a TCP port on loopback for the test's lifetime.
func busyPort(t *testing.T) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr)
}

func TestStartServerBusyPort(t *testing.T) {
	addr := busyPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := StartServer(ctx, ServerConfig{DataDir: t.TempDir(), Listen: addr.String(), Auth: newKeyTable(), Log: testLog(t)})
	if err == nil {
		srv.Shutdown()
		t.Fatal("the bus started on a port in use")
	}
	want := "bus listen " + addr.String() + ": address already in use; is another master running?"
	if !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("got %q, want it to contain %q and wrap EADDRINUSE", err, want)
	}
	if ctx.Err() != nil {
		t.Fatal("StartServer gave up only when its context ended")
	}
}

// TestWaitReadyListenFailure starts a real nats-server on a port in use,
// without the early check, as happens when the port is taken between the
// check and the server's own listen: waitReady must give up on the server's
// fatal error rather than wait for its context.
func TestWaitReadyListenFailure(t *testing.T) {
	addr := busyPort(t)
	ns, err := server.NewServer(&server.Options{Host: addr.IP.String(), Port: addr.Port, NoSigs: true,
		JetStream: true, StoreDir: filepath.Join(t.TempDir(), "js")})
	if err != nil {
		t.Fatal(err)
	}
	fatal := make(chan string, 1)
	ns.SetLoggerV2(serverLog{log: testLog(t), fatal: fatal}, false, false, false)
	ns.Start()
	defer ns.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = waitReady(ctx, ns, fatal)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("waitReady: got %v, want the listen failure", err)
	}
	if ctx.Err() != nil {
		t.Fatal("waitReady gave up only when its context ended")
	}
}
