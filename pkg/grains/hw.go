package grains

import (
	"strconv"
	"strings"
)

// cpuModel returns the processor model from /proc/cpuinfo text: "model name"
// on x86, "Processor", "cpu model" or "cpu" on other architectures.
func cpuModel(cpuinfo string) string {
	fallback := ""
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			return v
		case "Processor", "cpu model", "cpu", "uarch":
			if fallback == "" {
				fallback = v
			}
		}
	}
	return fallback
}

// memTotalMiB returns MemTotal from /proc/meminfo text, in MiB.
func memTotalMiB(meminfo string) (int, bool) {
	for line := range strings.Lines(meminfo) {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		kb, err := strconv.Atoi(f[0])
		if err != nil {
			return 0, false
		}
		return kb / 1024, true
	}
	return 0, false
}

// virtual tells what the host runs on, as Salt's virtual grain: a container
// runtime first (virtual "container" with virtual_subtype naming it), then
// the hypervisor from DMI and Xen's sysfs, then the CPU's hypervisor flag;
// "physical" when nothing says otherwise.
func (c collector) virtual(cpuinfo string) (virtual, subtype string) {
	cgroup := c.readOrEmpty("proc/1/cgroup")
	switch {
	case strings.Contains(cgroup, "/lxc/") || strings.Contains(cgroup, ".lxc"):
		return "container", "LXC"
	case strings.Contains(cgroup, "/kubepods"):
		return "container", "kubernetes"
	case strings.Contains(cgroup, "libpod") || c.exists("run/.containerenv"):
		return "container", "Podman"
	case c.exists(".dockerenv") || strings.Contains(cgroup, "/docker/") ||
		strings.Contains(cgroup, "/docker-") || strings.Contains(cgroup, "/system.slice/docker"):
		return "container", "Docker"
	}

	product := c.line("sys/class/dmi/id/product_name")
	vendor := c.line("sys/class/dmi/id/sys_vendor")
	switch dmi := strings.ToLower(product + " " + vendor); {
	case strings.Contains(dmi, "virtualbox"):
		return "VirtualBox", ""
	case strings.Contains(dmi, "vmware"):
		return "VMware", ""
	case strings.Contains(dmi, "parallels"):
		return "Parallels", ""
	case strings.Contains(dmi, "bhyve"):
		return "bhyve", ""
	case strings.Contains(dmi, "microsoft") && strings.Contains(dmi, "virtual machine"):
		return "VirtualPC", ""
	case strings.Contains(dmi, "google compute engine"):
		return "gce", ""
	case strings.Contains(dmi, "hvm domu") || strings.Contains(dmi, "xen"):
		return "xen", ""
	case strings.Contains(dmi, "kvm") || strings.Contains(dmi, "qemu") ||
		strings.Contains(dmi, "standard pc") || strings.Contains(dmi, "openstack") ||
		strings.Contains(dmi, "amazon ec2"):
		return "kvm", ""
	}
	if c.line("sys/hypervisor/type") == "xen" {
		return "xen", ""
	}
	if strings.Contains(cpuinfo, "QEMU Virtual CPU") || hasHypervisorFlag(cpuinfo) {
		return "kvm", "" // the flag alone cannot name the hypervisor; KVM is by far the most common
	}
	return "physical", ""
}

// hasHypervisorFlag reports whether the first processor's flags in
// /proc/cpuinfo text include "hypervisor".
func hasHypervisorFlag(cpuinfo string) bool {
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				if f == "hypervisor" {
					return true
				}
			}
			return false
		}
	}
	return false
}

// init names the init system: "systemd" when PID 1 is systemd or systemd
// marked the boot (/run/systemd/system), "sysvinit" for a classic init,
// else the name of PID 1 as the kernel reports it.
func (c collector) init() string {
	comm := c.line("proc/1/comm")
	if comm == "systemd" || c.exists("run/systemd/system") {
		return "systemd"
	}
	switch comm {
	case "init":
		if c.exists("sbin/openrc") {
			return "openrc"
		}
		return "sysvinit"
	case "runit", "runit-init":
		return "runit"
	case "openrc-init":
		return "openrc"
	case "":
		return "unknown"
	}
	return comm
}
