package grains

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// osRelease reads /etc/os-release, or /usr/lib/os-release where the former
// is missing, as os-release(5) says.
func (c collector) osRelease() (map[string]string, error) {
	s, err := c.read("etc/os-release")
	if errors.Is(err, fs.ErrNotExist) {
		s, err = c.read("usr/lib/os-release")
	}
	if err != nil {
		return nil, err
	}
	return parseOSRelease(s), nil
}

// parseOSRelease parses KEY=value lines, with the value optionally in single
// or double quotes and backslash escapes inside double quotes.
func parseOSRelease(s string) map[string]string {
	kv := make(map[string]string)
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		kv[strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
	}
	return kv
}

func unquote(v string) string {
	if len(v) < 2 {
		return v
	}
	switch q := v[0]; {
	case q == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1]
	case q == '"' && v[len(v)-1] == '"':
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// osName maps os-release IDs to Salt's os grain.
func osName(id string) string {
	switch id {
	case "debian":
		return "Debian"
	case "ubuntu":
		return "Ubuntu"
	case "linuxmint":
		return "Mint"
	case "raspbian":
		return "Raspbian"
	case "devuan":
		return "Devuan"
	case "kali":
		return "Kali"
	case "rhel":
		return "RedHat"
	case "centos":
		return "CentOS"
	case "fedora":
		return "Fedora"
	case "rocky":
		return "Rocky"
	case "almalinux":
		return "AlmaLinux"
	case "ol":
		return "OEL"
	case "amzn":
		return "Amazon"
	case "alpine":
		return "Alpine"
	case "arch":
		return "Arch"
	case "manjaro":
		return "Manjaro"
	case "gentoo":
		return "Gentoo"
	case "sles", "sled", "opensuse", "opensuse-leap", "opensuse-tumbleweed":
		return "SUSE"
	case "":
		return "Linux"
	}
	return strings.ToUpper(id[:1]) + id[1:]
}

// osFamily maps Salt's os grain to its os_family grain, falling back to the
// distributions os-release says this one is like.
func osFamily(os string, idLike []string) string {
	switch os {
	case "Debian", "Ubuntu", "Mint", "Raspbian", "Devuan", "Kali":
		return "Debian"
	case "RedHat", "CentOS", "Fedora", "Rocky", "AlmaLinux", "OEL", "Amazon":
		return "RedHat"
	case "SUSE":
		return "Suse"
	case "Alpine":
		return "Alpine"
	case "Arch", "Manjaro":
		return "Arch"
	case "Gentoo":
		return "Gentoo"
	}
	for _, like := range idLike {
		switch like {
		case "debian", "ubuntu":
			return "Debian"
		case "rhel", "fedora", "centos":
			return "RedHat"
		case "suse", "opensuse":
			return "Suse"
		case "arch":
			return "Arch"
		}
	}
	return os
}

// osGrains derives os, os_family, osrelease, osrelease_info (a list of
// ints, where a part is a number), osmajorrelease (an int), osfinger,
// oscodename and osfullname from os-release fields, as Salt names and
// types them.
func osGrains(rel map[string]string) map[string]any {
	os := osName(strings.ToLower(rel["ID"]))
	g := map[string]any{
		"os":         os,
		"os_family":  osFamily(os, strings.Fields(strings.ToLower(rel["ID_LIKE"]))),
		"osfullname": rel["NAME"],
		"osrelease":  rel["VERSION_ID"],
		"oscodename": codename(rel),
	}
	if g["osfullname"] == "" {
		g["osfullname"] = os
	}
	if g["osrelease"] == "" {
		g["osrelease"] = rel["BUILD_ID"] // rolling releases: "rolling"
	}
	major, _, _ := strings.Cut(rel["VERSION_ID"], ".")
	if n, err := strconv.Atoi(major); err == nil {
		g["osmajorrelease"] = n
	}
	if r := g["osrelease"].(string); r != "" {
		info := releaseInfo(r)
		g["osrelease_info"] = info
		name := g["osfullname"].(string)
		switch os {
		case "Debian", "Raspbian":
			name = os
		}
		ver := fmt.Sprint(info[0])
		if name == "Ubuntu" || name == "Pop" {
			ver = r
		}
		g["osfinger"] = name + "-" + ver
	}
	return g
}

// releaseInfo is Salt's osrelease_info: the release split at dots, each
// all-digit part an int ("22.04" gives [22, 4]), the others left strings.
func releaseInfo(release string) []any {
	parts := strings.Split(release, ".")
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
		if n, err := strconv.Atoi(p); err == nil && p != "" && strings.Trim(p, "0123456789") == "" {
			out[i] = n
		}
	}
	return out
}

// osArch is Salt's osarch: the package architecture, as dpkg names it on
// the Debian family (amd64, arm64...), the machine name elsewhere.
func osArch(family, cpuarch string) string {
	if family != "Debian" {
		return cpuarch
	}
	switch cpuarch {
	case "x86_64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "i386", "i486", "i586", "i686":
		return "i386"
	case "armv7l", "armv6l":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return cpuarch
}

// codename is VERSION_CODENAME, else Ubuntu's own field, else the words in
// parentheses of VERSION ("9.3 (Blue Onyx)").
func codename(rel map[string]string) string {
	if c := rel["VERSION_CODENAME"]; c != "" {
		return c
	}
	if c := rel["UBUNTU_CODENAME"]; c != "" {
		return c
	}
	v := rel["VERSION"]
	if i := strings.IndexByte(v, '('); i >= 0 {
		if j := strings.IndexByte(v[i:], ')'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	return ""
}
