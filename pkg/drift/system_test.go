package drift

import (
	"context"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/pkg/netx/nettest"
	"github.com/brinecm/brine/pkg/ovsx/ovstest"
	"github.com/brinecm/brine/pkg/sls"
)

// TestOVS changes a real Open vSwitch (userspace datapath) with
// ovs-vsctl behind the watcher's back: the OVSDB monitor yields exactly
// the states of the ports and bridges touched.
func TestOVS(t *testing.T) {
	ovstest.Switch(t)
	ovstest.RemoveBridges(t, "brine-t-drb0", "brine-t-drb1")
	ovstest.Vsctl(t, "add-br", "brine-t-drb0", "--", "set", "Bridge", "brine-t-drb0", "datapath_type=netdev",
		"--", "add-br", "brine-t-drb1", "--", "set", "Bridge", "brine-t-drb1", "datapath_type=netdev")
	addPort := func(p string) {
		ovstest.Vsctl(t, "add-port", "brine-t-drb0", p, "--", "set", "Interface", p, "type=internal")
	}
	addPort("btdp1")
	addPort("btdp2")
	w := start(t, Config{Debounce: 50 * time.Millisecond},
		low("BR", "ovs_bridge.present", "brine-t-drb0", map[string]any{"datapath_type": "netdev"}),
		low("P1", "ovs_port.present", "btdp1", map[string]any{"bridge": "brine-t-drb0", "type": "internal"}),
		low("P2", "ovs_port.present", "btdp2", map[string]any{"bridge": "brine-t-drb0", "type": "internal"}),
	)
	cases := []struct {
		name string
		do   func()
		want []string
	}{
		{"port deleted with ovs-vsctl del-port", func() { ovstest.Vsctl(t, "del-port", "brine-t-drb0", "btdp1") }, []string{"P1"}},
		{"port back (as the minion would): then its interface retyped", func() {
			paused(t, w, func() { addPort("btdp1") })
			ovstest.Vsctl(t, "set", "Interface", "btdp1", "type=internal", "options:foo=bar")
		}, []string{"P1"}},
		{"unmanaged port and bridge changed, then a managed port tagged", func() {
			addPort("btdp3")
			ovstest.Vsctl(t, "set", "Bridge", "brine-t-drb1", "other_config:x=1")
			ovstest.Vsctl(t, "set", "Port", "btdp2", "tag=42")
		}, []string{"P2"}},
		{"bridge setting changed", func() { ovstest.Vsctl(t, "set", "Bridge", "brine-t-drb0", "fail_mode=secure") }, []string{"BR"}},
		{"bridge deleted: it and its ports", func() { ovstest.Vsctl(t, "del-br", "brine-t-drb0") }, []string{"BR", "P1", "P2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.do()
			expect(t, w, c.want...)
		})
	}
}

// TestDocker stops, removes and disconnects real containers with the
// docker CLI: the event stream yields exactly the affected states.
func TestDocker(t *testing.T) {
	dc := dockertest.Engine(t)
	systemCommands(t, "docker")
	img := dockertest.Image(t, dc, dockertest.Context(t), "brine-test-drift:1", "1")
	dockertest.RemoveContainers(t, dc, "brine-test-drift-")
	dockertest.RemoveNetwork(t, dc, "brine-test-drift-net")
	run(t, "docker", "network", "create", "brine-test-drift-net")
	for _, n := range []string{"brine-test-drift-a", "brine-test-drift-b", "brine-test-drift-r-1", "brine-test-drift-other"} {
		run(t, "docker", "run", "-d", "--name", n, "--network", "brine-test-drift-net", img)
	}
	// Docker reports one removal as several events (kill, die, disconnect,
	// destroy) over a few hundred milliseconds: the debounce gathers them.
	w := start(t, Config{Debounce: time.Second},
		low("CA", "docker_container.running", "brine-test-drift-a", map[string]any{"image": img}),
		low("CB", "docker_container.running", "brine-test-drift-b", map[string]any{"image": img}),
		low("CR", "docker_container.running", "brine-test-drift-r", map[string]any{"image": img, "replicas": 1}),
		low("NET", "docker_network.present", "brine-test-drift-net", nil),
	)
	cases := []struct {
		name string
		do   func()
		want []string
	}{
		{"container stopped with docker stop", func() { run(t, "docker", "stop", "-t", "1", "brine-test-drift-a") }, []string{"CA"}},
		{"stopped container removed with docker rm", func() { run(t, "docker", "rm", "brine-test-drift-a") }, []string{"CA"}},
		{"unmanaged container stopped, then a replica killed", func() {
			run(t, "docker", "stop", "-t", "1", "brine-test-drift-other")
			run(t, "docker", "kill", "brine-test-drift-r-1")
		}, []string{"CR"}},
		{"container disconnected from its network", func() {
			run(t, "docker", "network", "disconnect", "brine-test-drift-net", "brine-test-drift-b")
		}, []string{"CB"}},
		{"containers removed by the minion, then the network removed", func() {
			paused(t, w, func() { run(t, "docker", "rm", "-f", "brine-test-drift-other", "brine-test-drift-r-1") })
			run(t, "docker", "network", "rm", "brine-test-drift-net")
		}, []string{"NET"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.do()
			expect(t, w, c.want...)
		})
	}
}

// TestNetlink changes links, addresses and routes in a network namespace
// made for the test: netlink yields exactly the affected states, and
// putting things back as wanted yields nothing.
func TestNetlink(t *testing.T) {
	ns := nettest.Namespace(t, "brine-t-drift")
	ip := func(args ...string) { nettest.MustIP(t, ns, args...) }
	ip("link", "add", "bd0", "type", "veth", "peer", "name", "bd0p")
	ip("link", "set", "bd0", "up")
	ip("addr", "add", "10.9.0.1/24", "dev", "bd0")
	ip("route", "add", "10.77.0.0/16", "dev", "bd0")
	ip("link", "add", "bd1", "type", "veth", "peer", "name", "bd1p")
	w := start(t, Config{Debounce: 50 * time.Millisecond},
		low("L", "net.link", "bd0", map[string]any{"kind": "veth", "peer": "bd0p", "netns": ns}),
		low("A", "net.address", "10.9.0.1/24", map[string]any{"dev": "bd0", "netns": ns}),
		low("R", "net.route", "10.77.0.0/16", map[string]any{"dev": "bd0", "netns": ns}),
		low("GONE", "net.absent", "bd9", map[string]any{"netns": ns}),
		low("HOST", "net.link", "bd0", map[string]any{"kind": "veth", "peer": "bd0p"}), // the host's namespace
	)
	cases := []struct {
		name string
		do   func()
		want []string
	}{
		{"unmanaged link changed, then a managed route deleted", func() {
			ip("link", "set", "bd1", "mtu", "1400")
			ip("route", "del", "10.77.0.0/16")
		}, []string{"R"}},
		{"route put back as wanted, then the address removed", func() {
			ip("route", "add", "10.77.0.0/16", "dev", "bd0")
			ip("addr", "del", "10.9.0.1/24", "dev", "bd0")
		}, []string{"A"}},
		{"address put back, then the link set down (its routes go with it)", func() {
			ip("addr", "add", "10.9.0.1/24", "dev", "bd0")
			ip("link", "set", "bd0", "down")
		}, []string{"L", "R"}},
		{"link up again and route back, then a link that must be absent made", func() {
			ip("link", "set", "bd0", "up")
			ip("route", "add", "10.77.0.0/16", "dev", "bd0")
			ip("link", "add", "bd9", "type", "veth", "peer", "name", "bd9p")
		}, []string{"GONE"}},
		{"managed link deleted: its address and route too", func() {
			ip("link", "del", "bd9")
			ip("link", "del", "bd0")
		}, []string{"L", "A", "R"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.do()
			expect(t, w, c.want...)
		})
	}
}

// TestWatchReportsWhatCannotBeArmed checks that a missing namespace is an
// error naming it, while the rest is watched.
func TestWatchReportsWhatCannotBeArmed(t *testing.T) {
	nettest.Namespace(t, "brine-t-drift2") // root and ip are there
	w := New(Config{}, nil)
	defer w.Close()
	err := w.Watch(context.Background(), []sls.Low{low("L", "net.link", "x0", map[string]any{"kind": "dummy", "netns": "brine-t-nonesuch"})})
	if err == nil || !contains(err.Error(), "network namespace brine-t-nonesuch") {
		t.Fatalf("error %v, want one naming the namespace", err)
	}
}
