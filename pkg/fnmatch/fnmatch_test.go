package fnmatch

import "testing"

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"web*", "web1", true},
		{"web*", "db1", false},
		{"/etc/*", "/etc/nginx/nginx.conf", true}, // '*' crosses '/', as in Python's fnmatch
		{"/etc/?otd", "/etc/motd", true},
		{"/etc/[mn]otd", "/etc/motd", true},
		{"/etc/[!m]otd", "/etc/motd", false},
		{"/srv/a.b", "/srv/aXb", false}, // '.' is literal
		{"/srv/[x", "/srv/[x", true},    // an unclosed set is literal
		{`/srv/[\]`, `/srv/\`, true},
		{"pkg-?", "pkg-a", true},
		{"[", "[", false}, // path.Match refuses the pattern
	} {
		if got := Match(c.pattern, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}
