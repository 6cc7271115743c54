package target

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fleet is a handful of minions with grains and pillar shaped as they arrive
// from Go code ([]string, int) and from decoded JSON ([]any, float64).
func fleet() []Minion {
	return []Minion{
		{
			ID: "web01",
			Grains: map[string]any{
				"os": "Debian", "os_family": "Debian", "osmajorrelease": 12, "kernel": "Linux",
				"roles":         []any{"web", "cache"},
				"ipv4":          []any{"127.0.0.1", "10.0.1.5"},
				"ipv6":          []any{"::1", "fe80::1%eth0", "2001:db8::5"},
				"ip_interfaces": map[string]any{"eth0": []any{"10.0.1.5"}, "lo": []any{"127.0.0.1"}},
				"nested":        map[string]any{"a": map[string]any{"b": "c"}},
				"virtual":       "kvm",
				"colons":        "x:y",
				"disks":         []any{map[string]any{"name": "sda"}},
			},
			Pillar: map[string]any{"role": "web", "team": map[string]any{"name": "ops"}},
		},
		{
			ID: "web02",
			Grains: map[string]any{
				"os": "Ubuntu", "os_family": "Debian", "osmajorrelease": float64(24), "kernel": "Linux",
				"roles": []string{"web"},
				"ipv4":  []string{"127.0.0.1", "10.0.2.7"},
			},
			Pillar: map[string]any{"role": "web"},
		},
		{
			ID: "db01",
			Grains: map[string]any{
				"os": "Rocky", "os_family": "RedHat", "osmajorrelease": 9, "kernel": "Linux",
				"roles": []any{"db"},
				"ipv4":  []any{"127.0.0.1", "192.168.1.10"},
				"gpu":   true,
			},
			Pillar: map[string]any{"role": "db", "team": map[string]any{"name": "dba"}},
		},
		{ID: "mail.example.com"},
	}
}

func matched(t *testing.T, m Matcher) string {
	t.Helper()
	var ids []string
	for _, mn := range fleet() {
		if m.Match(mn) {
			ids = append(ids, mn.ID)
		}
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

var nodegroups = map[string]string{
	"webs":     "web*",
	"debian":   "G@os_family:Debian",
	"debwebs":  "N@webs and N@debian",
	"notdb":    "not db*",
	"cycle_a":  "N@cycle_b or web01",
	"cycle_b":  "N@cycle_a",
	"self":     "N@self",
	"bad":      "G@os",
	"brokenng": "N@missing",
}

func TestMatch(t *testing.T) {
	tests := []struct {
		kind Kind
		expr string
		want string // matched ids, sorted, space-separated
	}{
		// glob on the id: fnmatch semantics, case-sensitive
		{Glob, "*", "db01 mail.example.com web01 web02"},
		{Glob, "web*", "web01 web02"},
		{Glob, "web0?", "web01 web02"},
		{Glob, "web0[2-9]", "web02"},
		{Glob, "web0[!2]", "web01"},
		{Glob, "*.example.com", "mail.example.com"},
		{Glob, "WEB*", ""},
		{Glob, "db01", "db01"},
		{Glob, "[", ""},
		// list
		{List, "web01,db01", "db01 web01"},
		{List, "web01, db01", "db01 web01"},
		{List, "web01 db01 nosuch", "db01 web01"},
		{List, "web0*", ""},
		// pcre on the id, anchored at the start
		{PCRE, `web\d+`, "web01 web02"},
		{PCRE, `web`, "web01 web02"},
		{PCRE, `eb`, ""},
		{PCRE, `.*\.com$`, "mail.example.com"},
		{PCRE, `(web|db)0[12]$`, "db01 web01 web02"},
		// grain: glob on the value, case-insensitive, lists match any element
		{Grain, "os:Debian", "web01"},
		{Grain, "os:debian", "web01"},
		{Grain, "os_family:Debian", "web01 web02"},
		{Grain, "os:*u*", "web02"},
		{Grain, "roles:web", "web01 web02"},
		{Grain, "roles:cache", "web01"},
		{Grain, "osmajorrelease:12", "web01"},
		{Grain, "osmajorrelease:24", "web02"},
		{Grain, "osmajorrelease:2?", "web02"},
		{Grain, "nested:a:b:c", "web01"},
		{Grain, "nested:a:b", "web01"},   // a key of the mapping
		{Grain, "nested:a:*", "web01"},   // any mapping
		{Grain, "nested:*:b:c", "web01"}, // wildcard level
		{Grain, "ip_interfaces:eth0:10.0.1.*", "web01"},
		{Grain, "colons:x:y", "web01"},
		{Grain, "disks:name:sda", "web01"},
		{Grain, "gpu:true", "db01"},
		{Grain, "*:Rocky", "db01"},
		{Grain, "nosuch:*", ""},
		{Grain, "os:", ""},
		// grain_pcre
		{GrainPCRE, "os:(Debian|Ubuntu)", "web01 web02"},
		{GrainPCRE, "os:deb", "web01"},
		{GrainPCRE, "os:ian", ""},
		{GrainPCRE, `osmajorrelease:\d$`, "db01"},
		{GrainPCRE, "roles:^c", "web01"},
		// pillar and pillar_pcre
		{Pillar, "role:web", "web01 web02"},
		{Pillar, "team:name:d*", "db01"},
		{Pillar, "team:name", "db01 web01"},
		{PillarPCRE, "role:^(db|nope)$", "db01"},
		// ipcidr
		{IPCIDR, "10.0.0.0/8", "web01 web02"},
		{IPCIDR, "10.0.1.5", "web01"},
		{IPCIDR, "127.0.0.1", "db01 web01 web02"},
		{IPCIDR, "192.168.0.0/16", "db01"},
		{IPCIDR, "2001:db8::/32", "web01"},
		{IPCIDR, "fe80::1", "web01"},
		{IPCIDR, "0.0.0.0/0", "db01 web01 web02"},
		// compound
		{Compound, "G@os:Debian and web* or L@db01", "db01 web01"},
		{Compound, "web* and G@os:Debian or L@db01", "db01 web01"},
		{Compound, "L@db01 or web* and G@os:Debian", "db01 web01"}, // and binds tighter than or
		{Compound, "( L@db01 or web* ) and G@os:Debian", "web01"},
		{Compound, "(L@db01 or web*) and G@os:Debian", "web01"},
		{Compound, "not web*", "db01 mail.example.com"},
		{Compound, "* and not G@kernel:Linux", "mail.example.com"},
		{Compound, "web* not G@os:Ubuntu", "web01"}, // not implies and
		{Compound, "not web* and not db*", "mail.example.com"},
		{Compound, "not ( web* or db* )", "mail.example.com"},
		{Compound, "not not web01", "web01"},
		{Compound, "E@(web|db)01", "db01 web01"},
		{Compound, "(E@(web|db)01)", "db01 web01"},
		{Compound, "P@os:(Debian|Rocky) and S@10.0.0.0/8", "web01"},
		{Compound, "I@role:web and not G@os:Ubuntu", "web01"},
		{Compound, "J@team:name:^d", "db01"},
		{Compound, "S@192.168.1.10 or L@web02", "db01 web02"},
		{Compound, "G|@nested|a|b|c", "web01"},
		{Compound, "G;@colons;x:y", "web01"},
		{Compound, "N@debwebs", "web01 web02"},
		{Compound, "N@notdb and not N@webs", "mail.example.com"},
		{Compound, "web01 or web02 or db01", "db01 web01 web02"},
		{Compound, "G@osmajorrelease:9 or G@osmajorrelease:24", "db01 web02"},
		// nodegroup
		{Nodegroup, "debwebs", "web01 web02"},
		{Nodegroup, "notdb", "mail.example.com web01 web02"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+tt.expr, func(t *testing.T) {
			m, err := Compile(tt.kind, tt.expr, nodegroups)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := matched(t, m); got != tt.want {
				t.Errorf("matched %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		kind Kind
		expr string
		pos  int
		want string // a substring of the message
	}{
		{Compound, "", 0, "empty expression"},
		{Compound, "   ", 0, "empty expression"},
		{Glob, "", 0, "empty expression"},
		{Compound, "( web* or db*", 0, "unbalanced '('"},
		{Compound, "web* or ( db* and ( G@os:Debian )", 8, "unbalanced '('"},
		{Compound, "web* )", 5, "unbalanced ')'"},
		{Compound, "web* or db*)", 11, "unbalanced ')'"},
		{Compound, ")", 0, "unexpected ')'"},
		{Compound, "( )", 2, "unexpected ')'"},
		{Compound, "and web*", 0, `unexpected "and"`},
		{Compound, "( or web* )", 2, `unexpected "or"`},
		{Compound, "web* or", 7, `ends after "or"`},
		{Compound, "web* and not", 12, `ends after "not"`},
		{Compound, "web* db*", 5, `missing 'and' or 'or' before "db*"`},
		{Compound, "( web* ) db*", 9, `missing 'and' or 'or' before "db*"`},
		{Compound, "web* and X@foo", 9, "unknown prefix X@"},
		{Compound, "g@os:Debian", 0, "unknown prefix g@"},
		{Compound, "R@%foo.bar", 0, "range targets"},
		{Compound, "web* or G@", 8, "nothing after G@"},
		{Compound, "G@os", 0, "want key:value"},
		{Compound, "E@web(", 0, "bad regular expression"},
		{Compound, "P@os:(Debian", 0, "bad regular expression"},
		{Compound, "S@10.0.0.0/33", 0, "not an IP address or CIDR network"},
		{Compound, "S@10.0.0.1/8", 0, "host bits set"},
		{Compound, "S@nonsense", 0, "not an IP address"},
		{Compound, "L;@a,b", 0, "L@ takes no delimiter"},
		{Compound, "web* or N@nosuch", 8, `unknown nodegroup "nosuch"`},
		{Compound, "N@cycle_a", 0, "nodegroup cycle cycle_a -> cycle_b -> cycle_a"},
		{Compound, "N@self", 0, "nodegroup cycle self -> self"},
		{Compound, "N@bad", 0, "want key:value"},
		{Compound, strings.Repeat("( ", 300) + "web*" + strings.Repeat(" )", 300), 400, "nested too deeply"},
		{Compound, strings.Repeat("not ", 300) + "web*", 800, "nested too deeply"},
		{Nodegroup, "nosuch", 0, `unknown nodegroup "nosuch"`},
		{Nodegroup, "brokenng", 0, `unknown nodegroup "missing"`},
		{Grain, "os", 0, "want key:value"},
		{PillarPCRE, "role:[", 0, "bad regular expression"},
		{PCRE, "(?<=x)y", 0, "bad regular expression"},
		{PCRE, "a)|(b", 0, "bad regular expression"},
		{IPCIDR, "10.0.0.0/8/8", 0, "not an IP address"},
		{IPCIDR, "fe80::1%eth0", 0, "no zone"},
		{List, " , ,", 0, "names no minion"},
		{"range", "x", 0, `unknown target kind "range"`},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+tt.expr, func(t *testing.T) {
			m, err := Compile(tt.kind, tt.expr, nodegroups)
			if err == nil {
				t.Fatalf("Compile succeeded (%T), want an error containing %q", m, tt.want)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if te.Pos != tt.pos {
				t.Errorf("Pos = %d, want %d (%v)", te.Pos, tt.pos, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.expr)) {
				t.Errorf("error %q: want it to name %q and contain %q", err, tt.expr, tt.want)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYYcd", false, false},
		{"*a*a*a*", "aaa", false, true},
		{"*a*a*a*", "aa", false, false},
		{"a/*", "a/b/c", false, true}, // '*' crosses '/'
		{"?", "é", false, true},       // one character, not one byte
		{"??", "é", false, false},
		{"[]]", "]", false, true},
		{"[!]]", "a", false, true},
		{"[!]]", "]", false, false},
		{"[a-]", "-", false, true},
		{"[z-a]", "m", false, false},
		{"[abc", "[abc", false, true}, // unclosed class is literal
		{`a\*`, `a\x`, false, true},   // no escape character
		{"Web*", "web01", false, false},
		{"Web*", "WEB01", true, true},
		{"DEBIAN", "debian", true, true},
		{"[A-C]x", "bX", true, true},
	}
	for _, tt := range tests {
		if got := compileGlob(tt.pattern, tt.fold).match(tt.s); got != tt.want {
			t.Errorf("glob %q (fold %v) on %q = %v, want %v", tt.pattern, tt.fold, tt.s, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"x", "x"}, {12, "12"}, {int64(-3), "-3"}, {float64(12), "12"}, {1.5, "1.5"},
		{true, "True"}, {false, "False"}, {nil, "None"},
	}
	for _, tt := range tests {
		if got := text(tt.v); got != tt.want {
			t.Errorf("text(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// FuzzCompound checks that no expression makes Compile or Match panic, and
// that every compile error is an *Error pointing inside the expression.
func FuzzCompound(f *testing.F) {
	for _, s := range []string{
		"G@os:Debian and web* or L@a,b", "( web* or db* ) and not G@roles:web",
		"N@debwebs or N@cycle_a", "P@os:(a|b) and E@^w", "S@10.0.0.0/8 or S@::1",
		"G|@nested|*|b", "I@team:*:name:ops", "not not ( ( x ) )", "G@*:*:*",
	} {
		f.Add(s)
	}
	minions := fleet()
	f.Fuzz(func(t *testing.T, expr string) {
		m, err := Compile(Compound, expr, nodegroups)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if te.Pos < 0 || te.Pos > len(expr) {
				t.Fatalf("Pos %d outside %q", te.Pos, expr)
			}
			return
		}
		for _, mn := range minions {
			m.Match(mn)
		}
	})
}

// BenchmarkCompound compiles one compound expression and matches it against
// 10,000 minions per iteration.
func BenchmarkCompound(b *testing.B) {
	const n = 10000
	oses := []string{"Debian", "Ubuntu", "Rocky", "Alpine"}
	minions := make([]Minion, n)
	for i := range minions {
		minions[i] = Minion{
			ID: fmt.Sprintf("%s%05d", []string{"web", "db", "cache"}[i%3], i),
			Grains: map[string]any{
				"os":    oses[i%len(oses)],
				"roles": []any{"base", []string{"web", "db", "cache"}[i%3]},
				"ipv4":  []any{"127.0.0.1", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)},
			},
			Pillar: map[string]any{"env": []string{"prod", "dev"}[i%2]},
		}
	}
	m, err := Compile(Compound, "G@os:Debian and web* or L@db00001,db00004 or ( G@roles:cache and not I@env:dev and S@10.0.0.0/16 )", nil)
	if err != nil {
		b.Fatal(err)
	}
	hits := 0
	for b.Loop() {
		hits = 0
		for _, mn := range minions {
			if m.Match(mn) {
				hits++
			}
		}
	}
	if hits == 0 || hits == n {
		b.Fatalf("%d of %d minions matched: the expression should select some", hits, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/minion")
}

func TestDeepValue(t *testing.T) {
	v := strings.Repeat("a:", 50) + "a"
	mn := Minion{ID: "x", Grains: map[string]any{"deep": v}}
	for expr, want := range map[string]bool{
		"deep:" + v:                              true,
		"deep:" + v + ":a":                       false,
		"deep:" + strings.Repeat("a:", 40) + "*": true,
	} {
		m, err := Compile(Grain, expr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(mn); got != want {
			t.Errorf("%q matched %v, want %v", expr, got, want)
		}
	}
}

func TestConcurrentMatch(t *testing.T) {
	m, err := Compile(Compound, "( G@os:Debian or P@os:^u ) and not E@db and S@10.0.0.0/8", nil)
	if err != nil {
		t.Fatal(err)
	}
	minions := fleet()
	done := make(chan string)
	for range 8 {
		go func() {
			var ids []string
			for _, mn := range minions {
				if m.Match(mn) {
					ids = append(ids, mn.ID)
				}
			}
			done <- strings.Join(ids, " ")
		}()
	}
	for range 8 {
		if got := <-done; got != "web01 web02" {
			t.Errorf("matched %q, want %q", got, "web01 web02")
		}
	}
}
