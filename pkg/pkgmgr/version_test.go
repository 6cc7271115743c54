package pkgmgr

import (
	"github.com/brinecm/brine/pkg/systest"
	"os/exec"
	"strings"
	"testing"
)

var compareCases = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0", 0},
	{"1.0-1", "1.0-2", -1},
	{"1.1-1", "1.0-9", 1},
	{"1.0", "1.0-0", 0},
	{"1:1.0", "2.0", 1},
	{"0:2.0", "2.0", 0},
	{"1.0~rc1", "1.0", -1},
	{"1.0~rc1", "1.0~rc2", -1},
	{"1.0~~", "1.0~", -1},
	{"1.0a", "1.0", 1},
	{"1.0+b1", "1.0", 1},
	{"1.0+b1", "1.0a", 1},
	{"1.10", "1.9", 1},
	{"1.010", "1.10", 0},
	{"5.2.15-2+b8", "5.2.15-2", 1},
	{"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
	{"1.0-1ubuntu1", "1.0-1", 1},
	{"1.2.3-1.1", "1.2.3-1", 1},
	{"99999999999999999999", "99999999999999999998", 1},
	{"a", "b", -1},
	{"1.0.0", "1.0", 1},
}

func TestCompare(t *testing.T) {
	for _, tt := range compareCases {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

// TestCompareAgreesWithDpkg checks the table against dpkg itself.
func TestCompareAgreesWithDpkg(t *testing.T) {
	systest.RequireCommands(t, "dpkg")
	ops := map[int]string{-1: "lt", 0: "eq", 1: "gt"}
	for _, tt := range compareCases {
		if err := exec.Command("dpkg", "--compare-versions", tt.a, ops[tt.want], tt.b).Run(); err != nil {
			t.Errorf("dpkg disagrees: %s %s %s", tt.a, ops[tt.want], tt.b)
		}
	}
}

func TestSpec(t *testing.T) {
	tests := []struct {
		spec  string
		v     string
		match bool
		exact string
	}{
		{"", "1.0", true, ""},
		{"1.0-1", "1.0-1", true, "1.0-1"},
		{"1.0-1", "1.0-2", false, "1.0-1"},
		{"=1.0-1", "1.0-1", true, "1.0-1"},
		{"==1.0-1", "1.0-1", true, "1.0-1"},
		{">=1.1", "1.1-1", true, ""},
		{">=1.1", "1.0-9", false, ""},
		{"> 1.0", "1.0", false, ""},
		{"<2", "1.9", true, ""},
		{"<=1.0-1", "1.0-1", true, ""},
		{"1.1*", "1.1-1", true, ""},
		{"1.1*", "1.10-1", true, ""},
		{"1.1-*", "1.10-1", false, ""},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.spec)
		if err != nil {
			t.Fatalf("ParseSpec(%q): %v", tt.spec, err)
		}
		if got := s.Matches(tt.v); got != tt.match {
			t.Errorf("%q.Matches(%q) = %v, want %v", tt.spec, tt.v, got, tt.match)
		}
		if got, _ := s.Exact(); got != tt.exact {
			t.Errorf("%q.Exact() = %q, want %q", tt.spec, got, tt.exact)
		}
	}
	for _, bad := range []string{">=", "1.[", "<  "} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		}
	}
}

func TestResolve(t *testing.T) {
	offer := Offer{Candidate: "2.0-1", Versions: []string{"2.0-1", "1.1-1", "1.0-1"}}
	tests := []struct {
		spec, want, err string
	}{
		{"", "2.0-1", ""},
		{"1.0-1", "1.0-1", ""},
		{"9.9", "9.9", ""}, // exact versions go to apt, which names what is missing
		{">=1.5", "2.0-1", ""},
		{"<2", "1.1-1", ""},
		{"1.0*", "1.0-1", ""},
		{">3", "", "no version of p matching >3 is available (available: 2.0-1, 1.1-1, 1.0-1)"},
	}
	for _, tt := range tests {
		s, _ := ParseSpec(tt.spec)
		got, err := Resolve("p", s, offer)
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %q", tt.spec, got, err, tt.want, tt.err)
		}
	}
	if _, err := Resolve("p", Spec{Op: ">=", Version: "1"}, Offer{}); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("Resolve without offer: %v", err)
	}
}
