package grains

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/brinecm/brine/pkg/testfs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/hosts")

func TestOSRelease(t *testing.T) {
	tests := []struct {
		file                                    string
		os, family, release, codename, fullname string
		major                                   any // int, or nil when there is none
		info                                    []any
		finger                                  string
	}{
		{"debian12", "Debian", "Debian", "12", "bookworm", "Debian GNU/Linux", 12, []any{12}, "Debian-12"},
		{"ubuntu2204", "Ubuntu", "Debian", "22.04", "jammy", "Ubuntu", 22, []any{22, 4}, "Ubuntu-22.04"},
		{"pop2204", "Pop", "Debian", "22.04", "jammy", "Pop!_OS", 22, []any{22, 4}, "Pop!_OS-22"},
		{"alpine319", "Alpine", "Alpine", "3.19.1", "", "Alpine Linux", 3, []any{3, 19, 1}, "Alpine Linux-3"},
		{"rocky93", "Rocky", "RedHat", "9.3", "Blue Onyx", "Rocky Linux", 9, []any{9, 3}, "Rocky Linux-9"},
		{"centos7", "CentOS", "RedHat", "7", "Core", "CentOS Linux", 7, []any{7}, "CentOS Linux-7"},
		{"arch", "Arch", "Arch", "rolling", "", "Arch Linux", nil, []any{"rolling"}, "Arch Linux-rolling"},
		{"opensuse-leap155", "SUSE", "Suse", "15.5", "", "openSUSE Leap", 15, []any{15, 5}, "openSUSE Leap-15"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "os-release", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			g := osGrains(parseOSRelease(string(b)))
			want := map[string]any{
				"os": tt.os, "os_family": tt.family, "osrelease": tt.release,
				"oscodename": tt.codename, "osfullname": tt.fullname,
			}
			if tt.major != nil {
				want["osmajorrelease"] = tt.major
			}
			if !slices.Equal(g["osrelease_info"].([]any), tt.info) {
				t.Errorf("osrelease_info = %#v, want %#v", g["osrelease_info"], tt.info)
			}
			want["osfinger"] = tt.finger
			want["osrelease_info"] = g["osrelease_info"] // compared above
			if len(g) != len(want) {
				t.Errorf("got grains %v, want %v", g, want)
			}
			for k, v := range want {
				if k != "osrelease_info" && g[k] != v {
					t.Errorf("%s = %#v, want %#v", k, g[k], v)
				}
			}
		})
	}
}

func TestParseOSReleaseQuoting(t *testing.T) {
	got := parseOSRelease("# comment\nA=plain\nB=\"dq \\\"x\\\" \\\\ \\$y\"\nC='sq \"z\"'\n\n  D = spaced \nnoequals\nE=\"\n")
	want := map[string]string{"A": "plain", "B": `dq "x" \ $y`, "C": `sq "z"`, "D": "spaced", "E": `"`}
	if len(got) != len(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestFQDNFromHosts(t *testing.T) {
	hosts := `127.0.0.1 localhost
127.0.1.1 web01.example.com web01 # managed
10.0.0.9 other.example.net db01
10.0.0.7 app01 app01.corp.example.org
`
	tests := []struct{ name, want string }{
		{"web01", "web01.example.com"},
		{"WEB01", "web01.example.com"},
		{"db01", "db01"}, // the canonical name is another host's
		{"app01", "app01.corp.example.org"},
		{"nosuch", "nosuch"},
		{"localhost", "localhost"},
	}
	for _, tt := range tests {
		if got := fqdnFromHosts(hosts, tt.name); got != tt.want {
			t.Errorf("fqdnFromHosts(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCPUAndMemory(t *testing.T) {
	tests := []struct{ cpuinfo, model string }{
		{"processor\t: 0\nmodel name\t: AMD EPYC 7B13\n", "AMD EPYC 7B13"},
		{"Processor\t: ARMv7 Processor rev 4 (v7l)\nmodel name\t: ARMv7 Processor rev 4 (v7l)\n", "ARMv7 Processor rev 4 (v7l)"},
		{"processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\n", "POWER9 (architected), altivec supported"},
		{"processor\t: 0\nBogoMIPS\t: 48.00\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := cpuModel(tt.cpuinfo); got != tt.model {
			t.Errorf("cpuModel(%q) = %q, want %q", tt.cpuinfo, got, tt.model)
		}
	}
	mems := []struct {
		meminfo string
		mib     int
		ok      bool
	}{
		{"MemTotal:       24684092 kB\nMemFree: 1 kB\n", 24105, true},
		{"MemFree: 1 kB\n", 0, false},
		{"MemTotal: lots kB\n", 0, false},
	}
	for _, tt := range mems {
		if mib, ok := memTotalMiB(tt.meminfo); mib != tt.mib || ok != tt.ok {
			t.Errorf("memTotalMiB(%q) = %d, %v, want %d, %v", tt.meminfo, mib, ok, tt.mib, tt.ok)
		}
	}
}

func TestVirtual(t *testing.T) {
	flags := "flags\t: fpu vme hypervisor lahf_lm\n"
	tests := []struct {
		name             string
		files            map[string]string
		cpuinfo          string
		virtual, subtype string
	}{
		{"bare metal", nil, "flags\t: fpu vme\n", "physical", ""},
		{"docker by dockerenv", map[string]string{".dockerenv": ""}, flags, "container", "Docker"},
		{"docker by cgroup v1", map[string]string{"proc/1/cgroup": "12:pids:/docker/3f2a9c\n"}, "", "container", "Docker"},
		{"podman", map[string]string{"run/.containerenv": ""}, "", "container", "Podman"},
		{"lxc", map[string]string{"proc/1/cgroup": "10:devices:/lxc/u1\n"}, "", "container", "LXC"},
		{"kubernetes", map[string]string{"proc/1/cgroup": "1:name=systemd:/kubepods/burstable/pod1\n"}, "", "container", "kubernetes"},
		{"qemu dmi", map[string]string{"sys/class/dmi/id/product_name": "Standard PC (i440FX + PIIX, 1996)\n"}, flags, "kvm", ""},
		{"vmware", map[string]string{"sys/class/dmi/id/product_name": "VMware Virtual Platform\n"}, flags, "VMware", ""},
		{"virtualbox", map[string]string{"sys/class/dmi/id/product_name": "VirtualBox\n"}, flags, "VirtualBox", ""},
		{"hyper-v", map[string]string{"sys/class/dmi/id/product_name": "Virtual Machine\n", "sys/class/dmi/id/sys_vendor": "Microsoft Corporation\n"}, flags, "VirtualPC", ""},
		{"xen sysfs", map[string]string{"sys/hypervisor/type": "xen\n"}, flags, "xen", ""},
		{"hypervisor flag only", nil, flags, "kvm", ""},
		{"dell", map[string]string{"sys/class/dmi/id/product_name": "PowerEdge R650\n", "sys/class/dmi/id/sys_vendor": "Dell Inc.\n"}, "", "physical", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := collector{root: testfs.Temp(t, tt.files)}
			v, sub := c.virtual(tt.cpuinfo)
			if v != tt.virtual || sub != tt.subtype {
				t.Errorf("virtual = %q, %q, want %q, %q", v, sub, tt.virtual, tt.subtype)
			}
		})
	}
}

func TestInit(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"systemd pid 1", map[string]string{"proc/1/comm": "systemd\n"}, "systemd"},
		{"systemd booted", map[string]string{"proc/1/comm": "bash\n", "run/systemd/system/x": ""}, "systemd"},
		{"sysvinit", map[string]string{"proc/1/comm": "init\n"}, "sysvinit"},
		{"openrc", map[string]string{"proc/1/comm": "init\n", "sbin/openrc": ""}, "openrc"},
		{"runit", map[string]string{"proc/1/comm": "runit\n"}, "runit"},
		{"tini", map[string]string{"proc/1/comm": "tini\n"}, "tini"},
		{"unreadable", nil, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (collector{root: testfs.Temp(t, tt.files)}).init(); got != tt.want {
				t.Errorf("init = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNetGrains(t *testing.T) {
	a := netip.MustParseAddr
	g := netGrains([]nic{
		{name: "lo", addrs: []netip.Addr{a("127.0.0.1"), a("::1")}},
		{name: "eth0", mac: "02:fc:00:00:00:01", addrs: []netip.Addr{a("192.0.2.2"), a("fd00::2"), a("fe80::fc:ff:fe00:1")}},
		{name: "eth1", mac: "02:fc:00:00:00:02", addrs: []netip.Addr{a("10.0.0.5"), a("192.0.2.2")}},
		{name: "ifb0", mac: "ca:96:52:30:3a:b3"},
	})
	got, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"hwaddr_interfaces":{"eth0":"02:fc:00:00:00:01","eth1":"02:fc:00:00:00:02","ifb0":"ca:96:52:30:3a:b3","lo":"00:00:00:00:00:00"},` +
		`"ip4_interfaces":{"eth0":["192.0.2.2"],"eth1":["10.0.0.5","192.0.2.2"],"ifb0":[],"lo":["127.0.0.1"]},` +
		`"ip6_interfaces":{"eth0":["fd00::2","fe80::fc:ff:fe00:1"],"eth1":[],"ifb0":[],"lo":["::1"]},` +
		`"ip_interfaces":{"eth0":["192.0.2.2","fd00::2","fe80::fc:ff:fe00:1"],"eth1":["10.0.0.5","192.0.2.2"],"ifb0":[],"lo":["127.0.0.1","::1"]},` +
		`"ipv4":["10.0.0.5","127.0.0.1","192.0.2.2"],"ipv6":["::1","fd00::2","fe80::fc:ff:fe00:1"]}`
	if string(got) != want {
		t.Errorf("netGrains =\n%s\nwant\n%s", got, want)
	}
}

// TestFixtureHosts collects every fixture tree under testdata/hosts and
// compares the grains with its golden JSON file (go test -update rewrites).
func TestFixtureHosts(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join("testdata", "hosts"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "SHELL": "/bin/bash"}
	nics := []nic{
		{name: "lo", addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}},
		{name: "eth0", mac: "52:54:00:12:34:56", addrs: []netip.Addr{netip.MustParseAddr("10.0.2.15")}},
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			c := collector{
				root:   filepath.Join("testdata", "hosts", d.Name()),
				cpus:   4,
				getenv: func(k string) string { return env[k] },
				nics:   func() ([]nic, error) { return nics, nil },
			}
			g, err := c.collect(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "hosts", d.Name()+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("grains differ from %s:\n%s", golden, got)
			}
		})
	}
	if n == 0 {
		t.Fatal("no fixture hosts under testdata/hosts")
	}
}

// TestCollectHost runs against the machine the tests run on and checks what
// must hold on any Linux host.
func TestCollectHost(t *testing.T) {
	custom := map[string]any{
		"roles":         []any{"web"},
		"kernel":        "Custom",
		"ip_interfaces": map[string]any{"extra0": []any{"198.51.100.1"}},
	}
	g, err := Collect(context.Background(), "minion1", custom)
	if err != nil {
		t.Fatal(err)
	}
	if g["id"] != "minion1" {
		t.Errorf("id = %v", g["id"])
	}
	if g["num_cpus"] != runtime.NumCPU() {
		t.Errorf("num_cpus = %v, want %d", g["num_cpus"], runtime.NumCPU())
	}
	if g["kernel"] != "Custom" {
		t.Errorf("custom kernel did not override the core grain: %v", g["kernel"])
	}
	if r, ok := g["roles"].([]any); !ok || len(r) != 1 || r[0] != "web" {
		t.Errorf("roles = %#v", g["roles"])
	}
	ipIf, _ := g["ip_interfaces"].(map[string]any)
	if _, ok := ipIf["lo"]; !ok || ipIf["extra0"] == nil {
		t.Errorf("ip_interfaces did not deep-merge: %v", ipIf)
	}
	for _, k := range []string{"os", "os_family", "osrelease", "kernelrelease", "cpuarch", "fqdn", "host", "nodename", "virtual", "init"} {
		if s, _ := g[k].(string); s == "" {
			t.Errorf("%s is empty", k)
		}
	}
	if mib, _ := g["mem_total"].(int); mib <= 0 {
		t.Errorf("mem_total = %v", g["mem_total"])
	}
	v4, _ := g["ipv4"].([]any)
	if !slices.Contains(v4, any("127.0.0.1")) {
		t.Errorf("ipv4 %v lacks 127.0.0.1", v4)
	}
	if hw, _ := g["hwaddr_interfaces"].(map[string]any); hw["lo"] != "00:00:00:00:00:00" {
		t.Errorf("hwaddr_interfaces = %v", hw)
	}

	core, err := Collect(context.Background(), "minion1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if core["kernel"] != "Linux" {
		t.Errorf("kernel = %v", core["kernel"])
	}
}

func TestCollectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Collect(ctx, "m", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestGoarchMachine(t *testing.T) {
	for goarch, want := range map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64"} {
		if got := goarchMachine(goarch); got != want {
			t.Errorf("goarchMachine(%q) = %q, want %q", goarch, got, want)
		}
	}
}

func BenchmarkCollect(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := Collect(ctx, "bench", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPlatformMatchesCollect(t *testing.T) {
	full, err := Collect(context.Background(), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Platform(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p {
		if !reflect.DeepEqual(full[k], v) {
			t.Errorf("Platform %s = %v, Collect says %v", k, v, full[k])
		}
	}
	for _, k := range []string{"os", "os_family", "init", "kernel"} {
		if p[k] == nil || p[k] == "" {
			t.Errorf("Platform lacks %s: %v", k, p)
		}
	}
}
