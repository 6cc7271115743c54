package jinja

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/big"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ipParse parses an address or an address with a prefix (an interface,
// as Python's ip_interface), keeping an IPv6 zone.
func ipParse(s string) (addr netip.Addr, prefix netip.Prefix, ok bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, netip.Prefix{}, true
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr(), p, true
	}
	return netip.Addr{}, netip.Prefix{}, false
}

// pyPrivate4 and pyPrivate6 are the networks Python's ipaddress calls
// private.
var pyPrivate4, pyPrivate6, pyReserved6 = prefixes("0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/29", "192.0.0.170/31", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32"),
	prefixes("::1/128", "::/128", "::ffff:0:0/96", "100::/64", "2001::/23", "2001:2::/48", "2001:db8::/32",
		"2001:10::/28", "fc00::/7", "fe80::/10"),
	prefixes("::/8", "100::/8", "200::/7", "400::/6", "800::/5", "1000::/4", "4000::/3", "6000::/3", "8000::/3",
		"a000::/3", "c000::/3", "e000::/4", "f000::/5", "f800::/6", "fe00::/9")

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	a = a.WithZone("")
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ipOption tests one of Salt's ipaddr options on an address.
func ipOption(a netip.Addr, opt string) (bool, error) {
	private := func() bool {
		if a.Is4() {
			return inAny(a, pyPrivate4)
		}
		return inAny(a, pyPrivate6)
	}
	switch opt {
	case "global", "public":
		return !private(), nil
	case "private":
		return private(), nil
	case "multicast":
		return a.IsMulticast(), nil
	case "loopback", "lo":
		return a.IsLoopback(), nil
	case "link-local", "link_local", "linklocal", "ll":
		return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() && a.Is6(), nil
	case "reserved":
		if a.Is4() {
			return netip.MustParsePrefix("240.0.0.0/4").Contains(a), nil
		}
		return inAny(a, pyReserved6), nil
	case "site-local", "site_local", "sl":
		return a.Is6() && netip.MustParsePrefix("fec0::/10").Contains(a.WithZone("")), nil
	case "unspecified":
		return a.IsUnspecified(), nil
	}
	return false, fmt.Errorf("unknown ipaddr option %q (use global, public, private, multicast, loopback/lo, "+
		"link-local/ll, reserved, site-local/sl or unspecified)", opt)
}

// isIPv is Salt's _is_ipv: the address in Python's normal form when it
// is of the version (0: either) and passes the comma-separated options,
// else "".
func isIPv(v any, version int, options string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", nil
	}
	a, p, ok := ipParse(s)
	if !ok || (version == 4 && !a.Is4()) || (version == 6 && !a.Is6()) || a.Is4In6() && version == 4 {
		return "", nil
	}
	if options != "" {
		for _, o := range strings.Split(options, ",") {
			ok, err := ipOption(a, strings.TrimSpace(o))
			if err != nil {
				return "", err
			}
			if !ok {
				return "", nil
			}
		}
	}
	if p.IsValid() {
		return a.String() + "/" + strconv.Itoa(p.Bits()), nil
	}
	return a.String(), nil
}

// optionsArg is the options argument of the IP filters.
func optionsArg(args []any, kw *Dict) string {
	o := arg(args, kw, 0, "options", nil)
	if o == nil {
		return ""
	}
	return str(o)
}

// isIPFilter is Salt's is_ip, is_ipv4 and is_ipv6(options=None).
func isIPFilter(version int) filterFunc {
	return func(_ *renderer, v any, args []any, kw *Dict) (any, error) {
		s, err := isIPv(v, version, optionsArg(args, kw))
		return s != "", err
	}
}

// ipvList is Salt's _ipv_filter: the address, or the valid addresses of
// a list; None for anything else.
func ipvList(v any, version int, options string) (any, error) {
	if _, ok := v.(string); ok {
		s, err := isIPv(v, version, options)
		if s == "" || err != nil {
			return nil, err
		}
		return s, nil
	}
	switch v.(type) {
	case *List, Tuple:
	default:
		return nil, nil
	}
	its, _ := items(v)
	out := &List{}
	for _, e := range its {
		s, err := isIPv(e, version, options)
		if err != nil {
			return nil, err
		}
		if s != "" {
			out.items = append(out.items, s)
		}
	}
	return out, nil
}

// ipvFilter is Salt's ipv4 and ipv6(options=None).
func ipvFilter(version int) filterFunc {
	return func(_ *renderer, v any, args []any, kw *Dict) (any, error) {
		return ipvList(v, version, optionsArg(args, kw))
	}
}

// fIPAddr is Salt's ipaddr(options=None): the IPv4 then the IPv6
// addresses of a list, or the one address.
func fIPAddr(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	return ipaddr(v, optionsArg(args, kw), 0)
}

func ipaddr(v any, options string, version int) (any, error) {
	if version != 0 {
		return ipvList(v, version, options)
	}
	v4, err := ipvList(v, 4, options)
	if err != nil {
		return nil, err
	}
	v6, err := ipvList(v, 6, options)
	if err != nil {
		return nil, err
	}
	if v4 == nil {
		return v6, nil
	}
	if v6 == nil {
		return v4, nil
	}
	l4, ok4 := v4.(*List)
	l6, ok6 := v6.(*List)
	if ok4 && ok6 {
		return &List{items: append(append([]any{}, l4.items...), l6.items...)}, nil
	}
	return v4, nil
}

// fIPWrap is Salt's ipwrap: IPv6 addresses in brackets.
func fIPWrap(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	wrap := func(e any) any {
		if s, _ := isIPv(e, 6, ""); s != "" {
			return "[" + str(e) + "]"
		}
		return e
	}
	switch v.(type) {
	case *List, Tuple:
		its, _ := items(v)
		out := &List{}
		for _, e := range its {
			out.items = append(out.items, wrap(e))
		}
		return out, nil
	}
	return wrap(v), nil
}

// network is the network of an address or interface string, as Python's
// ip_network(strict=False).
func network(s string) (netip.Prefix, error) {
	a, p, ok := ipParse(s)
	if !ok {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or network", s)
	}
	if !p.IsValid() {
		p = netip.PrefixFrom(a.WithZone(""), a.BitLen())
	}
	return p.Masked(), nil
}

// hosts lists a network's usable hosts as Python's hosts() does.
func hosts(p netip.Prefix) ([]any, error) {
	bits := p.Addr().BitLen() - p.Bits()
	if bits > 20 {
		return nil, fmt.Errorf("network %s has more than %d hosts to list", p, maxGenerated)
	}
	n := 1 << bits
	first, last := 1, n-1
	switch {
	case bits == 0:
		first, last = 0, 1
	case bits == 1:
		first, last = 0, 2
	case p.Addr().Is6():
		last = n
	}
	out := make([]any, 0, last-first)
	a := p.Addr()
	for i := 0; i < first; i++ {
		a = a.Next()
	}
	for i := first; i < last; i++ {
		out = append(out, a.String())
		a = a.Next()
	}
	return out, nil
}

// fNetworkHosts is Salt's network_hosts(options=None, version=None): the
// host addresses of the network, or a list of them for a list.
func fNetworkHosts(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	out, err := perNetwork(v, args, kw, func(p netip.Prefix) (any, error) {
		h, err := hosts(p)
		return &List{items: h}, err
	})
	if l, ok := out.(*List); ok && len(l.items) == 0 {
		return nil, err
	}
	return out, err
}

// fNetworkSize is Salt's network_size: the number of addresses of the
// network (a list of them for a list).
func fNetworkSize(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	return perNetwork(v, args, kw, func(p netip.Prefix) (any, error) {
		bits := p.Addr().BitLen() - p.Bits()
		if bits >= 63 {
			return nil, fmt.Errorf("network %s has 2**%d addresses, more than brine's integers hold", p, bits)
		}
		return 1 << bits, nil
	})
}

// perNetwork filters v as ipaddr(options, version) does and answers one
// for the network of the address left, or a list of answers for a list.
func perNetwork(v any, args []any, kw *Dict, one func(netip.Prefix) (any, error)) (any, error) {
	version, err := intArg(arg(args, kw, 1, "version", 0), "version")
	if err != nil {
		return nil, err
	}
	ips, err := ipaddr(v, optionsArg(args, kw), version)
	if err != nil || ips == nil {
		return nil, err
	}
	ofNetwork := func(s any) (any, error) {
		p, err := network(str(s))
		if err != nil {
			return nil, err
		}
		return one(p)
	}
	l, ok := ips.(*List)
	if !ok {
		return ofNetwork(ips)
	}
	out := &List{}
	for _, e := range l.items {
		n, err := ofNetwork(e)
		if err != nil {
			return nil, err
		}
		out.items = append(out.items, n)
	}
	return out, nil
}

// fGenMAC is Salt's gen_mac(prefix='AC:DE:48'): a random MAC address.
func fGenMAC(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	prefix := "AC:DE:48"
	if v != nil {
		prefix = str(v)
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("gen_mac: %w", err)
	}
	return fmt.Sprintf("%s:%02X:%02X:%02X", prefix, b[0], b[1], b[2]), nil
}

// fMACToBytes is Salt's mac_str_to_bytes: the six bytes of a MAC address
// written with or without ':' or '-' separators (as a string of bytes).
func fMACToBytes(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	s := str(v)
	clean := strings.NewReplacer(":", "", "-", "").Replace(s)
	if len(clean) != 12 {
		return nil, fmt.Errorf("invalid MAC address %q: want 6 bytes written as 12 hex digits", s)
	}
	out := make([]byte, 6)
	for i := range out {
		n, err := strconv.ParseUint(clean[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("invalid MAC address %q: %w", s, err)
		}
		out[i] = byte(n)
	}
	return string(out), nil
}

// fileFilter is a filter that reads the file system of the host rendering
// the template; it fails unless Options.HostFiles allows that.
func fileFilter(name string, fn func(p string) (any, error)) filterFunc {
	return func(r *renderer, v any, _ []any, _ *Dict) (any, error) {
		if !r.env.opts.HostFiles {
			return nil, fmt.Errorf("the %s filter reads the rendering host's files, which this renderer does not allow "+
				"(SLS files are compiled on the master): read the file at run time with a state or an execution module", name)
		}
		return fn(str(v))
	}
}

// readHead reads up to n bytes of a file.
func readHead(p string, n int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(n)))
}

// textRatio reports whether at most 30% of the block are non-text bytes,
// as Salt's is_text does.
func textBlock(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	if utf8.Valid(b) {
		return true
	}
	non := 0
	for _, c := range b {
		if c < 32 && !strings.ContainsRune("\n\r\t\f\b", rune(c)) || c > 127 {
			non++
		}
	}
	return float64(non)/float64(len(b)) <= 0.30
}

// fileIsText is Salt's is_text_file: a readable file whose first 512
// bytes look like text.
func fileIsText(p string) (any, error) {
	b, err := readHead(p, 512)
	if err != nil {
		return false, nil
	}
	return textBlock(b), nil
}

// fileIsBinary is Salt's is_bin_file: a regular file whose first 2048
// bytes do not look like text.
func fileIsBinary(p string) (any, error) {
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() {
		return false, nil
	}
	b, err := readHead(p, 2048)
	if err != nil || len(b) == 0 {
		return false, nil
	}
	return !textBlock(b), nil
}

// fileIsEmpty is Salt's is_empty: whether the file has size 0.
func fileIsEmpty(p string) (any, error) {
	st, err := os.Stat(p)
	if err != nil {
		return false, nil
	}
	return st.Size() == 0, nil
}

// fFileHashsum is Salt's file_hashsum(hash_type='sha256').
func fFileHashsum(r *renderer, v any, args []any, kw *Dict) (any, error) {
	h, err := hashByName(str(arg(args, kw, 0, "hash_type", "sha256")))
	if err != nil {
		return nil, err
	}
	return fileFilter("file_hashsum", func(p string) (any, error) {
		return hashFile(p, h())
	})(r, v, nil, nil)
}

func hashFile(p string, h hash.Hash) (any, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("file_hashsum: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("file_hashsum: reading %s: %w", p, err)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// listFiles is Salt's list_files: the directory and every file and
// directory below it, sorted.
func listFiles(dir string) (any, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil && p != dir {
			return nil
		}
		if len(out) >= maxGenerated {
			return fmt.Errorf("more than %d files", maxGenerated)
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list_files %s: %w", dir, err)
	}
	if len(out) == 0 {
		out = []string{dir}
	}
	sort.Strings(out)
	return fromGo(out), nil
}

// which is Salt's which: the command's path on the rendering host, or None.
func which(name string) (any, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return nil, nil
	}
	return p, nil
}

// combine calls emit with every index tuple of the itertools function
// kind over n items taking r, stopping past maxGenerated.
func combine(kind string, n, r int, emit func([]int)) error {
	count := 0
	idx := make([]int, r)
	var rec func(pos, start int, used []bool) error
	rec = func(pos, start int, used []bool) error {
		if pos == r {
			count++
			if count > maxGenerated {
				return fmt.Errorf("%s: more than %d results", kind, maxGenerated)
			}
			emit(idx)
			return nil
		}
		from := start
		if kind == "permutations" {
			from = 0
		}
		for i := from; i < n; i++ {
			if kind == "permutations" {
				if used[i] {
					continue
				}
				used[i] = true
			}
			idx[pos] = i
			next := i + 1
			if kind == "combinations_with_replacement" {
				next = i
			}
			if err := rec(pos+1, next, used); err != nil {
				return err
			}
			if kind == "permutations" {
				used[i] = false
			}
		}
		return nil
	}
	return rec(0, 0, make([]bool, n))
}

// fCombinations is itertools.combinations(r) and
// combinations_with_replacement(r), as lists of tuples.
func fCombinations(repl bool) filterFunc {
	kind := "combinations"
	if repl {
		kind = "combinations_with_replacement"
	}
	return func(_ *renderer, v any, args []any, kw *Dict) (any, error) {
		its, err := items(v)
		if err != nil {
			return nil, err
		}
		r, err := intArg(arg(args, kw, 0, "r", nil), "r")
		if err != nil {
			return nil, fmt.Errorf("%s needs the length r: %w", kind, err)
		}
		return combos(kind, its, r)
	}
}

func combos(kind string, its []any, r int) (any, error) {
	out := &List{}
	if r < 0 {
		return nil, errors.New("r must be non-negative")
	}
	err := combine(kind, len(its), r, func(idx []int) {
		t := make(Tuple, len(idx))
		for i, j := range idx {
			t[i] = its[j]
		}
		out.items = append(out.items, t)
	})
	return out, err
}

// fPermutations is itertools.permutations(r=None).
func fPermutations(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	r := len(its)
	if x := arg(args, kw, 0, "r", nil); x != nil {
		if r, err = intArg(x, "r"); err != nil {
			return nil, err
		}
	}
	if r > len(its) {
		return &List{}, nil
	}
	return combos("permutations", its, r)
}

// fProduct is itertools.product(*iterables, repeat=1).
func fProduct(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	repeat, err := intArg(arg(nil, kw, 0, "repeat", 1), "repeat")
	if err != nil {
		return nil, err
	}
	var pools [][]any
	for _, x := range append([]any{v}, args...) {
		its, err := items(x)
		if err != nil {
			return nil, err
		}
		pools = append(pools, its)
	}
	var all [][]any
	for range repeat {
		all = append(all, pools...)
	}
	res := []Tuple{{}}
	for _, pool := range all {
		if len(res)*len(pool) > maxGenerated {
			return nil, fmt.Errorf("product: more than %d results", maxGenerated)
		}
		var next []Tuple
		for _, t := range res {
			for _, e := range pool {
				next = append(next, append(append(Tuple{}, t...), e))
			}
		}
		res = next
	}
	out := &List{items: make([]any, len(res))}
	for i, t := range res {
		out.items[i] = t
	}
	return out, nil
}

// fCompress is itertools.compress(selectors).
func fCompress(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	data, err := items(v)
	if err != nil {
		return nil, err
	}
	sel, err := items(arg(args, kw, 0, "selectors", nil))
	if err != nil {
		return nil, fmt.Errorf("compress needs a list of selectors: %w", err)
	}
	out := &List{}
	for i := 0; i < len(data) && i < len(sel); i++ {
		if t, _ := truth(sel[i]); t {
			out.items = append(out.items, data[i])
		}
	}
	return out, nil
}

// fZip is zip(*iterables) and itertools.zip_longest(*iterables,
// fillvalue=None), as lists of tuples.
func fZip(longest bool) filterFunc {
	return func(_ *renderer, v any, args []any, kw *Dict) (any, error) {
		var fill any
		if kw != nil {
			fill, _ = kw.Get("fillvalue")
		}
		var seqs [][]any
		n := -1
		for _, x := range append([]any{v}, args...) {
			its, err := items(x)
			if err != nil {
				return nil, err
			}
			seqs = append(seqs, its)
			if n < 0 || (!longest && len(its) < n) || (longest && len(its) > n) {
				n = len(its)
			}
		}
		out := &List{}
		for i := 0; i < n; i++ {
			t := make(Tuple, len(seqs))
			for j, s := range seqs {
				if i < len(s) {
					t[j] = s[i]
				} else {
					t[j] = fill
				}
			}
			out.items = append(out.items, t)
		}
		return out, nil
	}
}

// seeded returns a random source: seeded from seed when given, so that
// the same seed gives the same result on every render (not Python's
// sequence), else from the system's randomness.
func seeded(seed any) (*mrand.Rand, error) {
	if seed == nil {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		s1 := new(big.Int).SetBytes(b[:8]).Uint64()
		s2 := new(big.Int).SetBytes(b[8:]).Uint64()
		return mrand.New(mrand.NewPCG(s1, s2)), nil
	}
	var h uint64 = 14695981039346656037
	for _, c := range []byte(str(seed)) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return mrand.New(mrand.NewPCG(h, h>>7|1)), nil
}

// fRandomShuffle is Salt's random_shuffle(seed=None).
func fRandomShuffle(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	rnd, err := seeded(arg(args, kw, 0, "seed", nil))
	if err != nil {
		return nil, fmt.Errorf("random_shuffle: %w", err)
	}
	out := append([]any{}, its...)
	rnd.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return &List{items: out}, nil
}

// fRandomSample is Salt's random_sample(sample_size, seed=None).
func fRandomSample(r *renderer, v any, args []any, kw *Dict) (any, error) {
	n, err := intArg(arg(args, kw, 0, "sample_size", nil), "sample_size")
	if err != nil {
		return nil, fmt.Errorf("random_sample needs a sample size: %w", err)
	}
	sh, err := fRandomShuffle(r, v, args[min(1, len(args)):], kw)
	if err != nil {
		return nil, err
	}
	l := sh.(*List)
	if n < 0 || n > len(l.items) {
		return nil, fmt.Errorf("random_sample: sample larger than population or is negative (%d of %d)", n, len(l.items))
	}
	l.items = l.items[:n]
	return l, nil
}

// dictKeyFilter is one of Salt's set_, append_, extend_ and
// update_dict_key_value(keys, value, delimiter=':'): the value put at the
// key path, creating the dicts on the way; the dict itself is returned.
func dictKeyFilter(op string) filterFunc {
	name := op + "_dict_key_value"
	return func(_ *renderer, v any, args []any, kw *Dict) (any, error) {
		d, ok := v.(*Dict)
		if !ok {
			return nil, fmt.Errorf("%s needs a dict, not %s", name, typeName(v))
		}
		if len(args) < 2 {
			return nil, fmt.Errorf("%s needs a key path and a value", name)
		}
		delim := str(arg(args, kw, 2, "delimiter", ":"))
		keys := strings.Split(str(args[0]), delim)
		val := args[1]
		cur := d
		for _, k := range keys[:len(keys)-1] {
			next, ok := cur.Get(k)
			nd, isDict := next.(*Dict)
			if !ok || !isDict {
				if ok && op != "set" {
					return nil, fmt.Errorf("%s: %q is a %s, not a dict", name, k, typeName(next))
				}
				nd = newDict(1)
				if err := cur.Set(k, nd); err != nil {
					return nil, err
				}
			}
			cur = nd
		}
		last := keys[len(keys)-1]
		old, exists := cur.Get(last)
		switch op {
		case "set":
			return d, cur.Set(last, val)
		case "update":
			src, ok := val.(*Dict)
			if !ok {
				return nil, fmt.Errorf("cannot update <class 'dict'> with a %s", pyClass(val))
			}
			dst, ok := old.(*Dict)
			if !exists {
				dst = newDict(src.Len())
				if err := cur.Set(last, dst); err != nil {
					return nil, err
				}
			} else if !ok {
				return nil, fmt.Errorf("cannot update %s with a %s", pyClass(old), pyClass(val))
			}
			for i, k := range src.keys {
				if err := dst.Set(k, src.vals[i]); err != nil {
					return nil, err
				}
			}
			return d, nil
		}
		l, ok := old.(*List)
		if !exists {
			l = &List{}
			if err := cur.Set(last, l); err != nil {
				return nil, err
			}
		} else if !ok {
			return nil, fmt.Errorf("%s: the value at %q is a %s, not a list", name, str(args[0]), typeName(old))
		}
		if op == "append" {
			l.items = append(l.items, val)
			return d, nil
		}
		switch val.(type) {
		case *List, Tuple, *Dict, string:
		default:
			return nil, fmt.Errorf("cannot extend <class 'list'> with a %s", pyClass(val))
		}
		its, _ := items(val)
		l.items = append(l.items, its...)
		return d, nil
	}
}

// pyClass is Python's repr of type(v).
func pyClass(v any) string { return "<class '" + typeName(v) + "'>" }

// pyTime parses the date forms brine accepts for strftime: a Unix
// timestamp (number or digits, in local time as Python's fromtimestamp),
// ISO 8601 dates and date-times, and "now".
func pyTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Now(), nil
	case int:
		return time.Unix(int64(x), 0), nil
	case float64:
		sec := int64(x)
		return time.Unix(sec, int64((x-float64(sec))*1e9)), nil
	}
	s := strings.TrimSpace(str(v))
	if s == "" || strings.EqualFold(s, "now") {
		return time.Now(), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return pyTime(f)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999",
		"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02", "2006/01/02 15:04:05", "2006/01/02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a date: give a Unix timestamp or an ISO 8601 date such as 2002-12-25 or 2002-12-25 17:30:00", s)
}

// fStrftime is Salt's strftime and date_format(format='%Y-%m-%d').
func fStrftime(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	t, err := pyTime(v)
	if err != nil {
		return nil, err
	}
	return pyStrftime(t, str(arg(args, kw, 0, "format", "%Y-%m-%d")))
}

// pyStrftime formats t as C's strftime does for Python.
func pyStrftime(t time.Time, format string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i == len(format)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'u':
			fmt.Fprintf(&b, "%d", (int(t.Weekday())+6)%7+1)
		case 'U':
			fmt.Fprintf(&b, "%02d", (t.YearDay()+6-int(t.Weekday()))/7)
		case 'W':
			fmt.Fprintf(&b, "%02d", (t.YearDay()+6-(int(t.Weekday())+6)%7)/7)
		case 'V':
			_, w := t.ISOWeek()
			fmt.Fprintf(&b, "%02d", w)
		case 'G':
			y, _ := t.ISOWeek()
			fmt.Fprintf(&b, "%04d", y)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X', 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'R':
			b.WriteString(t.Format("15:04"))
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("strftime: unknown directive %%%c in %q", format[i], format)
		}
	}
	return b.String(), nil
}

// fDictToSLSParams is Salt's dict_to_sls_yaml_params(flow_style=False):
// a dict as a YAML list of one-key mappings, the form of state arguments.
func fDictToSLSParams(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	d, ok := v.(*Dict)
	if !ok {
		return nil, fmt.Errorf("dict_to_sls_yaml_params needs a dict, not %s", typeName(v))
	}
	flow, _ := truth(arg(args, kw, 0, "flow_style", false))
	l := &List{}
	for i, k := range d.keys {
		one := newDict(1)
		_ = one.Set(k, d.vals[i])
		l.items = append(l.items, one)
	}
	if flow {
		return marshalYAML(l, true)
	}
	var b strings.Builder
	if err := pyYAMLBlock(&b, l, 0, 0); err != nil {
		return nil, err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// pyYAMLBlock writes v in PyYAML's block style: mapping keys sorted,
// sequences inside mappings not indented.
func pyYAMLBlock(b *strings.Builder, v any, indent, depth int) error {
	if depth > 100 {
		return errors.New("value nested too deeply for YAML")
	}
	pad := strings.Repeat(" ", indent)
	switch x := v.(type) {
	case *Dict:
		if x.Len() == 0 {
			break
		}
		idx := make([]int, x.Len())
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, c int) bool {
			r, err := compare(x.keys[idx[a]], x.keys[idx[c]])
			if err != nil {
				return str(x.keys[idx[a]]) < str(x.keys[idx[c]])
			}
			return r < 0
		})
		for _, i := range idx {
			k, err := marshalYAML(x.keys[i], true)
			if err != nil {
				return err
			}
			val := x.vals[i]
			b.WriteString(pad + k + ":")
			switch e := val.(type) {
			case *Dict:
				if e.Len() > 0 {
					b.WriteByte('\n')
					if err := pyYAMLBlock(b, e, indent+2, depth+1); err != nil {
						return err
					}
					continue
				}
			case *List:
				if len(e.items) > 0 {
					b.WriteByte('\n')
					if err := pyYAMLBlock(b, e, indent, depth+1); err != nil {
						return err
					}
					continue
				}
			}
			s, err := marshalYAML(val, true)
			if err != nil {
				return err
			}
			b.WriteString(" " + s + "\n")
		}
		return nil
	case *List:
		if len(x.items) == 0 {
			break
		}
		for _, e := range x.items {
			var sub strings.Builder
			if err := pyYAMLBlock(&sub, e, indent+2, depth+1); err != nil {
				return err
			}
			b.WriteString(pad + "- " + sub.String()[indent+2:])
		}
		return nil
	}
	s, err := marshalYAML(v, true)
	if err != nil {
		return err
	}
	b.WriteString(pad + s + "\n")
	return nil
}
