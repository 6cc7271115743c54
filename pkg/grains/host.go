package grains

import (
	"strings"
)

// hostGrains derives localhost, nodename, fqdn, host and domain from the
// kernel's host name and /etc/hosts, without any DNS query: the fqdn is the
// canonical (first) name of the /etc/hosts line naming this host, when that
// name has a dot, else the host name itself.
func (c collector) hostGrains() map[string]any {
	name := c.line("proc/sys/kernel/hostname")
	if name == "" {
		name = c.line("etc/hostname")
	}
	if name == "" {
		name = "localhost"
	}
	fqdn := name
	if !strings.Contains(name, ".") {
		fqdn = fqdnFromHosts(c.readOrEmpty("etc/hosts"), name)
	}
	host, domain, _ := strings.Cut(fqdn, ".")
	return map[string]any{
		"localhost": name,
		"nodename":  name,
		"fqdn":      fqdn,
		"host":      host,
		"domain":    domain,
	}
}

// fqdnFromHosts looks name up in the text of an /etc/hosts file: on the
// first line naming it, the first name that is name plus a domain wins.
func fqdnFromHosts(hosts, name string) string {
	for line := range strings.Lines(hosts) {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		names := f[1:]
		for _, n := range names {
			if !strings.EqualFold(n, name) {
				continue
			}
			for _, alt := range names { // "127.0.1.1 web01.example.com web01"
				if strings.HasPrefix(strings.ToLower(alt), strings.ToLower(name)+".") {
					return alt
				}
			}
			return name
		}
	}
	return name
}
