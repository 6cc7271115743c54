package network

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/systest"
)

func call(t *testing.T, fun string, args []any, kw map[string]any) (any, error) {
	t.Helper()
	return modules.Call(context.Background(), &modules.Runtime{ID: "m1", Opts: map[string]any{}}, fun, args, kw)
}

// TestListening opens real sockets on loopback and asks the kernel's
// tables through network.listening, as a saltcheck test does.
func TestListening(t *testing.T) {
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	// A port that was listening and is closed again listens no more.
	gone, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gonePort := gone.Addr().(*net.TCPAddr).Port
	gone.Close()
	tcpPort, udpPort := tcp.Addr().(*net.TCPAddr).Port, udp.LocalAddr().(*net.UDPAddr).Port

	tests := []struct {
		name string
		args []any
		kw   map[string]any
		want bool
	}{
		{"tcp port", []any{tcpPort}, nil, true},
		{"tcp port on its address", []any{tcpPort}, map[string]any{"address": "127.0.0.1"}, true},
		{"tcp port on another address", []any{tcpPort}, map[string]any{"address": "10.255.255.1"}, false},
		{"tcp port asked as udp", []any{tcpPort}, map[string]any{"proto": "udp"}, false},
		{"udp port", []any{udpPort}, map[string]any{"proto": "udp"}, true},
		{"udp port asked as tcp", []any{udpPort}, nil, udpPort == tcpPort},
		{"closed port", []any{gonePort}, nil, false},
		{"port given as a string", []any{strconv.Itoa(tcpPort)}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := call(t, "network.listening", tt.args, tt.kw)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("network.listening %v %v = %v, want %v", tt.args, tt.kw, got, tt.want)
			}
		})
	}

	got, err := call(t, "network.listeners", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "tcp 127.0.0.1:" + strconv.Itoa(tcpPort)
	if l, ok := got.([]any); !ok || !slices.Contains(l, any(want)) {
		t.Errorf("network.listeners = %v, want it to hold %q", got, want)
	}
}

// TestListeningIPv6 listens on ::1 when the host has IPv6 loopback.
func TestListeningIPv6(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	systest.Require(t, err == nil, fmt.Sprintf("IPv6 loopback (::1): %v", err))
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	for _, tt := range []struct {
		address string
		want    bool
	}{{"", true}, {"::1", true}, {"127.0.0.1", false}} {
		got, err := call(t, "network.listening", []any{port}, map[string]any{"address": tt.address})
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("network.listening %d address=%q = %v, want %v", port, tt.address, got, tt.want)
		}
	}
}

func TestListeningBadInput(t *testing.T) {
	tests := []struct {
		args []any
		kw   map[string]any
		want string
	}{
		{[]any{0}, nil, "port 0: give a port from 1 to 65535"},
		{[]any{70000}, nil, "port 70000"},
		{[]any{80}, map[string]any{"proto": "sctp"}, `proto "sctp": give tcp or udp`},
		{[]any{80}, map[string]any{"address": "localhost"}, `address "localhost": give an IP address`},
	}
	for _, tt := range tests {
		_, err := call(t, "network.listening", tt.args, tt.kw)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("network.listening %v %v: error %v, want %q", tt.args, tt.kw, err, tt.want)
		}
	}
}

// TestParseAddr reads the kernel's address format.
func TestParseAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000:0016", "0.0.0.0:22"},
		{"00000000000000000000000001000000:0050", "[::1]:80"},
		{"0000000000000000FFFF00000100007F:0035", "[::ffff:127.0.0.1]:53"},
	}
	for _, tt := range tests {
		s, err := parseAddr(tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if got := net.JoinHostPort(s.addr.String(), strconv.Itoa(int(s.port))); got != tt.want {
			t.Errorf("parseAddr(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"0100007F", "01007F:0016", "zz00007F:0016", "0100007F:fffff"} {
		if _, err := parseAddr(bad); err == nil {
			t.Errorf("parseAddr(%q) gave no error", bad)
		}
	}
}
