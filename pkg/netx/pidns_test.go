package netx

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/netx/nettest"
)

// inNamespace starts a process in the named namespace and returns its PID;
// it is killed when the test ends.
func inNamespace(t *testing.T, ns string) int {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// ip enters the namespace, then execs sleep in the same process.
	comm := fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid)
	for range 500 {
		if b, err := os.ReadFile(comm); err == nil && strings.TrimSpace(string(b)) == "sleep" {
			return cmd.Process.Pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("ip netns exec %s sleep did not start", ns)
	return 0
}

func TestPIDNamespaceVeth(t *testing.T) {
	a := nettest.Namespace(t, "brine-t-pidns-a")
	b := nettest.Namespace(t, "brine-t-pidns-b")
	host, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	ctr, err := OpenPID(inNamespace(t, a))
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	other, err := Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	t.Cleanup(func() { _ = host.DeleteLink("brtpidvb"); _ = host.DeleteLink("brtpidvo") })

	mac, _ := net.ParseMAC("02:00:5e:10:00:01")
	if err := host.AddVethTo("brtpidvb", ctr, "eth1", mac); err != nil {
		t.Fatal(err)
	}
	if err := host.AddVethTo("brtpidvo", other, "eth1", nil); err != nil {
		t.Fatal(err)
	}
	// A name taken in the peer's namespace is an error naming both ends.
	if err := host.AddVethTo("brtpidvx", ctr, "eth1", nil); err == nil || !strings.Contains(err.Error(), "eth1") {
		t.Fatalf("a second eth1 in the namespace: %v", err)
	}
	for _, tc := range []struct {
		link string
		peer *NS
		want string
	}{
		{"brtpidvb", ctr, "eth1"},
		{"brtpidvo", ctr, ""}, // its other end is in another namespace
		{"brtpidvo", other, "eth1"},
		{"brtpidnone", ctr, ""},
		{"lo", ctr, ""}, // not a veth
	} {
		got, err := host.VethPeerIn(tc.link, tc.peer)
		if err != nil || got != tc.want {
			t.Errorf("VethPeerIn(%s, %s) = %q, %v; want %q", tc.link, tc.peer.Name, got, err, tc.want)
		}
	}

	want := []netip.Prefix{netip.MustParsePrefix("10.89.0.10/24")}
	for _, step := range []func() error{
		func() error { return ctr.SetAddrs("eth1", []netip.Prefix{netip.MustParsePrefix("10.89.0.9/24")}) },
		func() error { return ctr.SetAddrs("eth1", want) },
		func() error { return ctr.SetUp("eth1") },
		func() error { return ctr.SetTxChecksum("eth1", false) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	in, err := ctr.Iface("eth1")
	if err != nil || in == nil {
		t.Fatalf("Iface: %v, %v", in, err)
	}
	if in.MAC.String() != mac.String() || !in.Up || !slices.Equal(in.Addrs, want) {
		t.Fatalf("eth1: %+v, want MAC %s, up, %v", in, mac, want)
	}
	if on, err := ctr.TxChecksum("eth1"); err != nil || on {
		t.Fatalf("tx checksum offload on=%v, %v after turning it off", on, err)
	}
	if on, err := other.TxChecksum("eth1"); err != nil || !on {
		t.Fatalf("tx checksum offload of an untouched veth on=%v, %v", on, err)
	}
	// Independently: ip in the namespace sees one address and the MAC.
	out := nettest.MustIP(t, a, "-o", "-4", "addr", "show", "dev", "eth1")
	if strings.Count(out, "inet ") != 1 || !strings.Contains(out, "10.89.0.10/24") {
		t.Fatalf("ip addr: %s", out)
	}
	if out := nettest.MustIP(t, a, "-o", "link", "show", "dev", "eth1"); !strings.Contains(out, mac.String()) {
		t.Fatalf("ip link: %s", out)
	}

	mac2, _ := net.ParseMAC("02:00:5e:10:00:02")
	if err := ctr.SetMAC("eth1", mac2); err != nil {
		t.Fatal(err)
	}
	if out := nettest.MustIP(t, a, "-o", "link", "show", "dev", "eth1"); !strings.Contains(out, mac2.String()) || !strings.Contains(out, ",UP") {
		t.Fatalf("after SetMAC: %s", out)
	}

	if _, err := OpenPID(0); err == nil {
		t.Fatal("OpenPID(0) succeeded")
	}
}
