// Package grains gathers facts about the host a minion runs on, with the
// names and value shapes of Salt's core grains, so that recipes written for
// Salt read brine's grains unchanged.
//
// Everything comes from local files (/etc/os-release, /etc/hosts, /proc,
// /sys) and the kernel's interface list; nothing is looked up over the
// network, so Collect takes about a millisecond.
package grains

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/brinecm/brine/pkg/dict"
	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/ovsx"
)

// SaltVersion is the Salt release whose behaviour brine follows, reported
// as the saltversion grain (and saltversioninfo, as a list of ints) since
// formulas branch on it.
const SaltVersion = "3006.18"

// saltVersionInfo is SaltVersion as Salt's saltversioninfo grain: [3006, 18].
func saltVersionInfo() []any { return releaseInfo(SaltVersion) }

// Collect gathers the core grains of this host for minion id, then merges
// custom (static grains from the minion config) over them. The Docker and
// Open vSwitch probes, which wait on their daemons, run while the rest is
// read.
func Collect(ctx context.Context, id string, custom map[string]any) (map[string]any, error) {
	var docker, ovs map[string]any
	var wg sync.WaitGroup
	wg.Go(func() { docker = dockerx.Grains(ctx) })
	wg.Go(func() { ovs = ovsx.Grains(ctx) })
	c := collector{root: "/", cpus: runtime.NumCPU(), getenv: os.Getenv, nics: hostNICs}
	g, err := c.collect(ctx, id)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	maps.Copy(g, docker)
	maps.Copy(g, ovs)
	return dict.Merge(g, custom), nil
}

// Platform returns only the grains that choose providers (os, os_family,
// osrelease, oscodename..., kernel and init), read from /etc/os-release
// and /proc alone: states call it on every run, where Collect's network,
// hardware, Docker and Open vSwitch probes would cost milliseconds.
func Platform(ctx context.Context) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("platform grains: %w", err)
	}
	c := collector{root: "/"}
	rel, err := c.osRelease()
	if err != nil {
		slog.WarnContext(ctx, "grains: cannot read os-release", "err", err)
	}
	g := osGrains(rel)
	g["kernel"] = "Linux"
	g["init"] = c.init()
	return g, nil
}

// collector reads every file below root, so tests can point it at a fixture
// tree; cpus, getenv and nics stand for the parts of the host that are not
// files.
type collector struct {
	root   string
	cpus   int
	getenv func(string) string
	nics   func() ([]nic, error)
}

// collect returns the core grains. A fact that cannot be read is left out
// or given its empty value and logged; only cancellation is an error.
func (c collector) collect(ctx context.Context, id string) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("collect grains: %w", err)
	}
	g := make(map[string]any, 48)
	// The interface list comes from netlink: read it meanwhile.
	type nicList struct {
		nics []nic
		err  error
	}
	nicsDone := make(chan nicList, 1)
	go func() {
		nics, err := c.nics()
		nicsDone <- nicList{nics, err}
	}()
	warn := func(what string, err error) {
		slog.WarnContext(ctx, "grains: cannot read "+what, "err", err)
	}

	g["kernel"] = "Linux"
	g["kernelrelease"] = c.line("proc/sys/kernel/osrelease")
	g["kernelversion"] = c.line("proc/sys/kernel/version")
	g["cpuarch"] = c.cpuarch()

	rel, err := c.osRelease()
	if err != nil {
		warn("os-release", err)
	}
	for k, v := range osGrains(rel) {
		g[k] = v
	}
	g["osarch"] = osArch(g["os_family"].(string), g["cpuarch"].(string))
	g["saltversion"] = SaltVersion
	g["saltversioninfo"] = saltVersionInfo()

	for k, v := range c.hostGrains() {
		g[k] = v
	}
	g["id"] = id
	if id == "" { // as Salt, a minion without a configured id is its fqdn
		g["id"] = g["fqdn"]
	}

	g["num_cpus"] = c.cpus
	cpuinfo, err := c.read("proc/cpuinfo")
	if err != nil {
		warn("cpuinfo", err)
	}
	g["cpu_model"] = cpuModel(cpuinfo)
	if mib, ok := memTotalMiB(c.readOrEmpty("proc/meminfo")); ok {
		g["mem_total"] = mib
	}
	virtual, subtype := c.virtual(cpuinfo)
	g["virtual"] = virtual
	if subtype != "" {
		g["virtual_subtype"] = subtype
	}
	g["init"] = c.init()

	g["path"] = c.getenv("PATH")
	g["shell"] = c.getenv("SHELL")
	if g["shell"] == "" {
		g["shell"] = "/bin/sh"
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("collect grains: %w", err)
	}
	nl := <-nicsDone
	if nl.err != nil {
		warn("network interfaces", nl.err)
	}
	for k, v := range netGrains(nl.nics) {
		g[k] = v
	}
	return g, nil
}

// read returns the contents of path below the root.
func (c collector) read(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(c.root, path))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// readOrEmpty is read for files whose absence only means "unknown".
func (c collector) readOrEmpty(path string) string {
	s, _ := c.read(path)
	return s
}

// line returns the first line of path, trimmed, or "" if it is unreadable.
func (c collector) line(path string) string {
	s, _, _ := strings.Cut(c.readOrEmpty(path), "\n")
	return strings.TrimSpace(s)
}

// exists reports whether path below the root exists.
func (c collector) exists(path string) bool {
	_, err := os.Stat(filepath.Join(c.root, path))
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// goarchMachine maps Go's architecture names to the kernel's (uname -m).
func goarchMachine(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	case "arm":
		return "armv7l"
	}
	return goarch
}

// cpuarch is the kernel's machine name, as `uname -m` prints it.
func (c collector) cpuarch() string {
	if a := c.line("proc/sys/kernel/arch"); a != "" {
		return a
	}
	return goarchMachine(runtime.GOARCH)
}
