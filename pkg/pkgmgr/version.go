package pkgmgr

import (
	"fmt"
	"path"
	"strings"
)

// Compare compares two Debian versions ([epoch:]upstream[-revision]) as
// dpkg does: it returns -1, 0 or 1.
func Compare(a, b string) int {
	ea, ua, ra := splitVersion(a)
	eb, ub, rb := splitVersion(b)
	if c := compareNumeric(ea, eb); c != 0 {
		return c
	}
	if c := compareFragment(ua, ub); c != 0 {
		return c
	}
	return compareFragment(ra, rb)
}

func splitVersion(v string) (epoch, upstream, revision string) {
	epoch = "0"
	if e, rest, ok := strings.Cut(v, ":"); ok {
		epoch, v = e, rest
	}
	upstream = v
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		upstream, revision = v[:i], v[i+1:]
	}
	return epoch, upstream, revision
}

// order is dpkg's weight of one non-digit character: '~' sorts before
// everything (even the end), letters before other characters.
func order(c byte) int {
	switch {
	case c == '~':
		return -1
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	case c == 0:
		return 0
	}
	return int(c) + 256
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// compareFragment is dpkg's verrevcmp: alternating runs of non-digits
// (compared by order) and digits (compared numerically).
func compareFragment(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			var ca, cb byte
			if i < len(a) && !isDigit(a[i]) {
				ca = a[i]
			}
			if j < len(b) && !isDigit(b[j]) {
				cb = b[j]
			}
			if oa, ob := order(ca), order(cb); oa != ob {
				return sign(oa - ob)
			}
			// equal weights: both are the same kind of non-digit
			i++
			j++
		}
		si := i
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := compareNumeric(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	return 0
}

// compareNumeric compares two runs of digits of any length.
func compareNumeric(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return strings.Compare(a, b)
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// Spec is a version requirement as Salt users write it: an exact version
// ("1.2-1"), a comparison (">=1.2", "<2", "=1.2-1") or a glob ("1.2*").
type Spec struct {
	Op      string // "", "=", "==", ">=", "<=", ">", "<", "glob"
	Version string
}

// ParseSpec reads a version requirement; "" is no requirement.
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{">=", "<=", "==", ">", "<", "="} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			rest = strings.TrimSpace(rest)
			if rest == "" {
				return Spec{}, fmt.Errorf("version %q: nothing after %q", s, op)
			}
			return Spec{Op: op, Version: rest}, nil
		}
	}
	if strings.ContainsAny(s, "*?[") {
		if _, err := path.Match(s, ""); err != nil {
			return Spec{}, fmt.Errorf("version %q: bad pattern", s)
		}
		return Spec{Op: "glob", Version: s}, nil
	}
	return Spec{Version: s}, nil
}

// Any reports whether the spec accepts every version.
func (s Spec) Any() bool { return s.Version == "" }

// Exact returns the one version the spec accepts, if it is exact.
func (s Spec) Exact() (string, bool) {
	switch s.Op {
	case "", "=", "==":
		return s.Version, s.Version != ""
	}
	return "", false
}

// Matches reports whether version v satisfies the spec. An exact spec
// without an epoch matches a version with epoch 0 only.
func (s Spec) Matches(v string) bool {
	if s.Any() {
		return true
	}
	if s.Op == "glob" {
		ok, _ := path.Match(s.Version, v)
		return ok
	}
	c := Compare(v, s.Version)
	switch s.Op {
	case ">=":
		return c >= 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case "<":
		return c < 0
	}
	return c == 0
}

// String is the spec as written.
func (s Spec) String() string {
	if s.Op == "glob" {
		return s.Version
	}
	return s.Op + s.Version
}

// Resolve picks the version to install for a spec from what the
// repositories offer: the exact version, else the candidate when it
// matches, else the highest matching version. It fails when nothing
// offered matches.
func Resolve(name string, s Spec, offer Offer) (string, error) {
	if v, ok := s.Exact(); ok {
		return v, nil
	}
	if offer.Candidate != "" && s.Matches(offer.Candidate) {
		return offer.Candidate, nil
	}
	for _, v := range offer.Versions {
		if s.Matches(v) {
			return v, nil
		}
	}
	if offer.Candidate == "" && len(offer.Versions) == 0 {
		return "", fmt.Errorf("package %s is not available from any configured repository", name)
	}
	return "", fmt.Errorf("no version of %s matching %s is available (available: %s)", name, s, strings.Join(offer.Versions, ", "))
}
