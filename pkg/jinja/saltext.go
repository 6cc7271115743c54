package jinja

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/big"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	jmespath "github.com/jmespath-community/go-jmespath"
)

// maxGenerated bounds the items a generating filter (combinations,
// product, network_hosts, list_files, ...) may produce in one call.
const maxGenerated = 1 << 20

// saltExtFilters returns the filters of Salt's Jinja documentation beyond
// the serializers and regex filters of saltFilters: set operations, IP
// address, hashing, string, date, itertools and file filters.
func saltExtFilters() map[string]filterFunc {
	m := map[string]filterFunc{
		"unique":               fSaltUnique,
		"union":                setOp("union"),
		"intersect":            setOp("intersect"),
		"difference":           setOp("difference"),
		"symmetric_difference": setOp("symmetric_difference"),
		"avg":                  fAvg,
		"skip":                 func(_ *renderer, _ any, _ []any, _ *Dict) (any, error) { return "", nil },
		"regex_escape":         strFilter(pyReEscape),
		"quote":                strFilter(shQuote),
		"to_snake_case":        strFilter(camelToSnake),
		"to_camelcase":         fToCamel,
		"md5":                  hashFilter(md5.New),
		"sha1":                 hashFilter(sha1.New),
		"sha256":               hashFilter(sha256.New),
		"sha512":               hashFilter(sha512.New),
		"hmac":                 fHMAC,
		"base64_encode": func(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
			return base64.StdEncoding.EncodeToString([]byte(str(v))), nil
		},
		"base64_decode":    fBase64Decode,
		"random_hash":      fRandomHash,
		"uuid":             fUUID,
		"human_to_bytes":   fHumanToBytes,
		"to_bytes":         func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return str(v), nil },
		"json_encode_list": identity,
		"json_encode_dict": identity,
		"path_join":        fPathJoin,
		"flatten":          fFlatten,
		"exactly_one_true": fExactlyN(true),
		"exactly_n_true":   fExactlyN(false),
		"is_list":          func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { _, ok := v.(*List); return ok, nil },
		"is_iter":          func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return isIter(v), nil },
		"is_hex":           fIsHex,
		"contains_whitespace": func(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
			return strings.IndexFunc(str(v), unicode.IsSpace) >= 0, nil
		},
		"substring_in_list":             fSubstringInList,
		"sorted_ignorecase":             fSortedIgnoreCase,
		"compare_lists":                 fCompareLists,
		"compare_dicts":                 fCompareDicts,
		"check_whitelist_blacklist":     fCheckWhiteBlack,
		"mysql_to_dict":                 fMySQLToDict,
		"method_call":                   fMethodCall,
		"dict_to_sls_yaml_params":       fDictToSLSParams,
		"python":                        func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return repr(v), nil },
		"tojson":                        fSaltToJSON,
		"to_bool":                       fToBool,
		"json_query":                    fJSONQuery,
		"strftime":                      fStrftime,
		"date_format":                   fStrftime,
		"set_dict_key_value":            dictKeyFilter("set"),
		"append_dict_key_value":         dictKeyFilter("append"),
		"extend_dict_key_value":         dictKeyFilter("extend"),
		"update_dict_key_value":         dictKeyFilter("update"),
		"combinations":                  fCombinations(false),
		"combinations_with_replacement": fCombinations(true),
		"permutations":                  fPermutations,
		"product":                       fProduct,
		"compress":                      fCompress,
		"zip":                           fZip(false),
		"zip_longest":                   fZip(true),
		"random_sample":                 fRandomSample,
		"random_shuffle":                fRandomShuffle,
		"is_ip":                         isIPFilter(0),
		"is_ipv4":                       isIPFilter(4),
		"is_ipv6":                       isIPFilter(6),
		"ipaddr":                        fIPAddr,
		"ipv4":                          ipvFilter(4),
		"ipv6":                          ipvFilter(6),
		"ipwrap":                        fIPWrap,
		"network_hosts":                 fNetworkHosts,
		"network_size":                  fNetworkSize,
		"gen_mac":                       fGenMAC,
		"mac_str_to_bytes":              fMACToBytes,
		"is_text_file":                  fileFilter("is_text_file", fileIsText),
		"is_bin_file":                   fileFilter("is_bin_file", fileIsBinary),
		"is_empty":                      fileFilter("is_empty", fileIsEmpty),
		"file_hashsum":                  fFileHashsum,
		"list_files":                    fileFilter("list_files", listFiles),
		"which":                         fileFilter("which", which),
		"dns_check":                     refused("dns_check", "it resolves names over the network while rendering; render the address into pillar, or check it at run time with a state (e.g. cmd.run with an onlyif)"),
		"http_query":                    refused("http_query", "it fetches over the network while rendering; fetch at run time with a state (e.g. file.managed with source: https://...)"),
	}
	return m
}

// refused is a filter brine does not run while rendering, with the reason
// and the way to get the same result.
func refused(name, why string) filterFunc {
	return func(_ *renderer, _ any, _ []any, _ *Dict) (any, error) {
		return nil, fmt.Errorf("the %s filter is not available in brine: %s", name, why)
	}
}

// hashable reports whether Python would consider v hashable for Salt's
// set filters: strings, numbers and tuples.
func hashable(v any) bool {
	switch v.(type) {
	case *List, *Dict:
		return false
	}
	return true
}

// uniqueItems keeps the first of equal items, in order.
func uniqueItems(its []any) []any {
	out := make([]any, 0, len(its))
	for _, e := range its {
		dup := false
		for _, o := range out {
			if equal(o, e) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// fSaltUnique is Salt's unique: the distinct items, first seen first.
// Salt returns a set for strings and tuples; brine returns a list in
// first-seen order, which holds the same items.
func fSaltUnique(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	return &List{items: uniqueItems(its)}, nil
}

// setOp is one of Salt's union, intersect, difference and
// symmetric_difference: order-preserving and without duplicates.
func setOp(op string) filterFunc {
	return func(_ *renderer, v any, args []any, _ *Dict) (any, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("%s needs one list to compare with", op)
		}
		a, err := items(v)
		if err != nil {
			return nil, err
		}
		b, err := items(args[0])
		if err != nil {
			return nil, err
		}
		in := func(x any, l []any) bool {
			for _, e := range l {
				if equal(e, x) {
					return true
				}
			}
			return false
		}
		var out []any
		switch op {
		case "union":
			out = append(append(out, a...), b...)
		case "intersect":
			for _, e := range a {
				if in(e, b) {
					out = append(out, e)
				}
			}
		case "difference":
			for _, e := range a {
				if !in(e, b) {
					out = append(out, e)
				}
			}
		case "symmetric_difference":
			for _, e := range a {
				if !in(e, b) {
					out = append(out, e)
				}
			}
			for _, e := range b {
				if !in(e, a) {
					out = append(out, e)
				}
			}
		}
		return &List{items: uniqueItems(out)}, nil
	}
}

// fAvg is Salt's avg: the mean of a list as a float, or a number as a float.
func fAvg(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	if hashable(v) {
		if _, isTuple := v.(Tuple); !isTuple {
			return toNumber(v)
		}
	}
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	if len(its) == 0 {
		return nil, errors.New("avg of an empty list (division by zero)")
	}
	sum := 0.0
	for _, e := range its {
		n, ok := number(e)
		if !ok {
			return nil, fmt.Errorf("avg needs numbers, not %s", typeName(e))
		}
		sum += toFloat(n)
	}
	return sum / float64(len(its)), nil
}

// toNumber is Python's float(v).
func toNumber(v any) (any, error) {
	if n, ok := number(v); ok {
		return toFloat(n), nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(str(v)), 64)
	if err != nil {
		return nil, fmt.Errorf("could not convert %s to float", repr(v))
	}
	return f, nil
}

// pyReEscape is Python's re.escape.
func pyReEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("()[]{}?*+-|^$\\.&~# \t\n\r\v\f", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// shSafe matches what Python's shlex.quote leaves unquoted.
var shSafe = regexp.MustCompile(`^[\w@%+=:,./-]+$`)

// shQuote is Python's shlex.quote.
func shQuote(s string) string {
	if s == "" {
		return "''"
	}
	if shSafe.MatchString(s) && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r > 0x7f }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// camelToSnake is Salt's camel_to_snake_case.
func camelToSnake(s string) string {
	rs := []rune(s)
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteRune(unicode.ToLower(rs[0]))
	for i := 1; i < len(rs); i++ {
		r := rs[i]
		if unicode.IsUpper(r) && (unicode.IsLower(rs[i-1]) || (i != len(rs)-1 && unicode.IsLower(rs[i+1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// fToCamel is Salt's to_camelcase(uppercamel=False).
func fToCamel(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	upper, _ := truth(arg(args, kw, 0, "uppercamel", false))
	words := strings.Split(str(v), "_")
	if upper {
		words[0] = pyCapitalize(words[0])
	}
	for i := 1; i < len(words); i++ {
		words[i] = pyCapitalize(words[i])
	}
	return strings.Join(words, ""), nil
}

// hashFilter hex-encodes a digest of the value's text.
func hashFilter(h func() hash.Hash) filterFunc {
	return func(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
		d := h()
		d.Write([]byte(str(v)))
		return hex.EncodeToString(d.Sum(nil)), nil
	}
}

// fHMAC is Salt's hmac(shared_secret, challenge_hmac): whether
// challenge_hmac is the base64 HMAC-SHA256 of the value with the secret.
func fHMAC(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	secret := arg(args, kw, 0, "shared_secret", nil)
	challenge := arg(args, kw, 1, "challenge_hmac", nil)
	if secret == nil || challenge == nil {
		return nil, errors.New("hmac needs a shared secret and the HMAC to check")
	}
	m := hmac.New(sha256.New, []byte(str(secret)))
	m.Write([]byte(str(v)))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(want), []byte(str(challenge))), nil
}

// fBase64Decode is Salt's base64_decode: the decoded text.
func fBase64Decode(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(str(v)))
	if err != nil {
		return nil, fmt.Errorf("base64_decode: %w", err)
	}
	return string(b), nil
}

// hashByName returns the hash for Salt's hash_type names.
func hashByName(name string) (func() hash.Hash, error) {
	switch strings.ToLower(name) {
	case "md5":
		return md5.New, nil
	case "sha1":
		return sha1.New, nil
	case "sha224":
		return sha256.New224, nil
	case "sha256", "":
		return sha256.New, nil
	case "sha384":
		return sha512.New384, nil
	case "sha512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("unknown hash type %q (use md5, sha1, sha224, sha256, sha384 or sha512)", name)
}

// fRandomHash is Salt's random_hash(size=9999999999, hash_type='sha256'):
// the hex digest of a random number in [0, size].
func fRandomHash(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	size := 9999999999
	if v != nil {
		n, ok := v.(int)
		if !ok || n < 0 {
			return nil, fmt.Errorf("random_hash needs a non-negative integer bound, not %s", repr(v))
		}
		size = n
	}
	h, err := hashByName(str(arg(args, kw, 0, "hash_type", "sha256")))
	if err != nil {
		return nil, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(size)+1))
	if err != nil {
		return nil, fmt.Errorf("random_hash: %w", err)
	}
	d := h()
	d.Write([]byte(n.String()))
	return hex.EncodeToString(d.Sum(nil)), nil
}

// saltUUIDNamespace is the namespace of Salt's uuid filter,
// 91633ebf-1c86-5e33-935a-28061f4b480e.
var saltUUIDNamespace = [16]byte{0x91, 0x63, 0x3e, 0xbf, 0x1c, 0x86, 0x5e, 0x33, 0x93, 0x5a, 0x28, 0x06, 0x1f, 0x4b, 0x48, 0x0e}

// fUUID is Salt's uuid: the name-based (version 5) UUID of the value in
// Salt's namespace, so the same value gives the UUID Salt gives.
func fUUID(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	d := sha1.New()
	d.Write(saltUUIDNamespace[:])
	d.Write([]byte(str(v)))
	u := d.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// humanRe splits a human size into value and unit.
var humanRe = regexp.MustCompile(`^([0-9.]*)\s*(.*)$`)

// fHumanToBytes is Salt's human_to_bytes(default_unit='B',
// handle_metric=False): '2 KB' → 2048, '1M' → 1048576, 0 when unparsable.
func fHumanToBytes(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	m := humanRe.FindStringSubmatch(strings.TrimSpace(str(v)))
	unit := strings.ToLower(m[2])
	if unit == "" {
		unit = strings.ToLower(str(arg(args, kw, 0, "default_unit", "B")))
	}
	metric, _ := truth(arg(args, kw, 1, "handle_metric", false))
	var value float64
	isInt := false
	if i, err := strconv.Atoi(m[1]); err == nil {
		value, isInt = float64(i), true
	} else if f, err := strconv.ParseFloat(m[1], 64); err == nil {
		value = f
	} else {
		return 0, nil
	}
	dec := false
	switch {
	case regexp.MustCompile(`^[kmgtpezy]b$`).MatchString(unit):
		dec = metric
	case !regexp.MustCompile(`^(b|[kmgtpezy](ib)?)$`).MatchString(unit):
		return 0, nil
	}
	power := strings.IndexByte("bkmgtpezy", unit[0])
	mult := math.Pow(2, float64(power*10))
	if dec {
		mult = math.Pow(10, float64(power*3))
	}
	res := value * mult
	if res >= math.MaxInt64 {
		return nil, fmt.Errorf("human_to_bytes: %s is too large", repr(v))
	}
	if isInt {
		return int(value) * int(mult), nil
	}
	return int(res), nil
}

// pyNormpath is Python's posixpath.normpath.
func pyNormpath(p string) string {
	if p == "" {
		return "."
	}
	c := path.Clean(p)
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		return "/" + c
	}
	return c
}

// fPathJoin is Salt's path_join: os.path.join of the normalised parts,
// normalised; an absolute part starts the path anew.
func fPathJoin(_ *renderer, v any, args []any, _ *Dict) (any, error) {
	parts := append([]any{v}, args...)
	out := ""
	for i, p := range parts {
		s := pyNormpath(str(p))
		switch {
		case i == 0 || strings.HasPrefix(s, "/"):
			out = s
		case out == "" || strings.HasSuffix(out, "/"):
			out += s
		default:
			out += "/" + s
		}
	}
	return pyNormpath(out), nil
}

// isIter is Salt's is_iter: iterable and not a string.
func isIter(v any) bool {
	switch v.(type) {
	case *List, Tuple, *Dict:
		return true
	}
	return false
}

// fFlatten is Salt's flatten(levels=None, preserve_nulls=False).
func fFlatten(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	levels := -1
	if l := arg(args, kw, 0, "levels", nil); l != nil {
		n, err := intArg(l, "levels")
		if err != nil {
			return nil, err
		}
		levels = n
	}
	keepNulls, _ := truth(arg(args, kw, 1, "preserve_nulls", false))
	var walk func(v any, levels, depth int) ([]any, error)
	walk = func(v any, levels, depth int) ([]any, error) {
		if depth > 100 {
			return nil, errors.New("flatten: list nested too deeply (reference cycle?)")
		}
		its, err := items(v)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, e := range its {
			switch {
			case !keepNulls && (e == nil || e == "None" || e == "null"):
			case isIter(e) && levels != 0:
				sub, err := walk(e, levels-1, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, sub...)
			default:
				out = append(out, e)
			}
			if len(out) > maxGenerated {
				return nil, fmt.Errorf("flatten: more than %d items", maxGenerated)
			}
		}
		return out, nil
	}
	out, err := walk(v, levels, 0)
	if err != nil {
		return nil, err
	}
	return &List{items: out}, nil
}

// fExactlyN is Salt's exactly_one_true and exactly_n_true(amount=1).
func fExactlyN(one bool) filterFunc {
	return func(_ *renderer, v any, args []any, kw *Dict) (any, error) {
		want := 1
		if !one {
			n, err := intArg(arg(args, kw, 0, "amount", 1), "amount")
			if err != nil {
				return nil, err
			}
			want = n
		}
		its, err := items(v)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range its {
			if t, _ := truth(e); t {
				n++
			}
		}
		return n == want, nil
	}
}

// fIsHex is Salt's is_hex: whether int(value, 16) succeeds.
func fIsHex(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	s, ok := v.(string)
	if !ok {
		return false, nil
	}
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if s == "" {
		return false, nil
	}
	_, ok = new(big.Int).SetString(s, 16)
	return ok, nil
}

// fSubstringInList is Salt's substring_in_list(list): whether the value is
// part of any item's text.
func fSubstringInList(_ *renderer, v any, args []any, _ *Dict) (any, error) {
	if len(args) != 1 {
		return nil, errors.New("substring_in_list needs the list to search")
	}
	its, err := items(args[0])
	if err != nil {
		return nil, err
	}
	for _, e := range its {
		if strings.Contains(str(e), str(v)) {
			return true, nil
		}
	}
	return false, nil
}

// fSortedIgnoreCase is Salt's sorted_ignorecase.
func fSortedIgnoreCase(r *renderer, v any, _ []any, _ *Dict) (any, error) {
	kw := newDict(1)
	_ = kw.Set("case_sensitive", false)
	return fSort(r, v, nil, kw)
}

// fCompareLists is Salt's compare_lists(new): {'new': added, 'old': removed}.
func fCompareLists(_ *renderer, v any, args []any, _ *Dict) (any, error) {
	if len(args) != 1 {
		return nil, errors.New("compare_lists needs the new list")
	}
	old, err := items(v)
	if err != nil {
		return nil, err
	}
	nw, err := items(args[0])
	if err != nil {
		return nil, err
	}
	out := newDict(2)
	add := func(key string, from, other []any) {
		for _, e := range from {
			c, _ := contains(&List{items: other}, e)
			if c {
				continue
			}
			l, ok := out.Get(key)
			if !ok {
				l = &List{}
				_ = out.Set(key, l)
			}
			l.(*List).items = append(l.(*List).items, e)
		}
	}
	add("new", nw, old)
	add("old", old, nw)
	return out, nil
}

// fCompareDicts is Salt's compare_dicts(new): for each changed key
// {'old': ..., 'new': ...}, ” standing for a missing side.
func fCompareDicts(_ *renderer, v any, args []any, _ *Dict) (any, error) {
	old, ok1 := v.(*Dict)
	var nw *Dict
	if len(args) == 1 {
		nw, _ = args[0].(*Dict)
	}
	if !ok1 || nw == nil {
		return nil, errors.New("compare_dicts needs two dictionaries")
	}
	out := newDict(0)
	change := func(k, o, n any) error {
		d := newDict(2)
		_ = d.Set("old", o)
		_ = d.Set("new", n)
		return out.Set(k, d)
	}
	for i, k := range old.keys {
		n, ok := nw.Get(k)
		switch {
		case !ok:
			if err := change(k, old.vals[i], ""); err != nil {
				return nil, err
			}
		case !equal(n, old.vals[i]):
			if err := change(k, old.vals[i], n); err != nil {
				return nil, err
			}
		}
	}
	for i, k := range nw.keys {
		if _, ok := old.Get(k); !ok {
			if err := change(k, "", nw.vals[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// exprMatch is Salt's expr_match: equal, a glob, or a full regex match.
func exprMatch(line, expr string) bool {
	if line == expr {
		return true
	}
	if ok, err := path.Match(expr, line); err == nil && ok {
		return true
	}
	re, err := regexp.Compile(`\A(?:` + expr + `)\z`)
	return err == nil && re.MatchString(line)
}

// fCheckWhiteBlack is Salt's check_whitelist_blacklist(whitelist=None,
// blacklist=None): False when a blacklist entry matches; with a
// whitelist, True only when one of its entries matches.
func fCheckWhiteBlack(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	list := func(x any) ([]any, error) {
		switch x.(type) {
		case nil:
			return nil, nil
		case string:
			return []any{x}, nil
		}
		return items(x)
	}
	white, err := list(arg(args, kw, 0, "whitelist", nil))
	if err != nil {
		return nil, fmt.Errorf("whitelist: %w", err)
	}
	black, err := list(arg(args, kw, 1, "blacklist", nil))
	if err != nil {
		return nil, fmt.Errorf("blacklist: %w", err)
	}
	s := str(v)
	for _, b := range black {
		if exprMatch(s, str(b)) {
			return false, nil
		}
	}
	if white != nil {
		for _, w := range white {
			if exprMatch(s, str(w)) {
				return true, nil
			}
		}
		return false, nil
	}
	return true, nil
}

// fMySQLToDict is Salt's mysql_to_dict(key): a table printed by the mysql
// client as a dict of rows keyed by the column key.
func fMySQLToDict(r *renderer, v any, args []any, kw *Dict) (any, error) {
	key := arg(args, kw, 0, "key", nil)
	if key == nil {
		return nil, errors.New("mysql_to_dict needs the name of the key column")
	}
	var lines []any
	if s, ok := v.(string); ok {
		for _, l := range strings.Split(s, "\n") {
			lines = append(lines, l)
		}
	} else {
		var err error
		if lines, err = items(v); err != nil {
			return nil, err
		}
	}
	out := newDict(0)
	var headers []string
	for _, l := range lines {
		line := strings.TrimSpace(str(l))
		if line == "" || strings.HasPrefix(line, "+") {
			continue
		}
		comps := strings.Split(line, "|")
		for i := range comps {
			comps[i] = strings.TrimSpace(comps[i])
		}
		if headers == nil {
			headers = comps
			continue
		}
		row := newDict(len(headers))
		for f := 1; f < len(headers)-1 && f < len(comps); f++ {
			n, _ := fStrToNum(r, comps[f], nil, nil)
			_ = row.Set(headers[f], n)
		}
		k, ok := row.Get(key)
		if !ok {
			return nil, fmt.Errorf("mysql_to_dict: no column %s in %v", repr(key), headers)
		}
		if err := out.Set(k, row); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fMethodCall is Salt's method_call(name, *args, **kwargs): the value's
// method called, or None when it has no such method.
func fMethodCall(r *renderer, v any, args []any, kw *Dict) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("method_call needs a method name")
	}
	name, rest := str(args[0]), args[1:]
	switch x := v.(type) {
	case int:
		switch name {
		case "bit_length":
			if x < 0 {
				x = -x
			}
			n := 0
			for ; x > 0; x >>= 1 {
				n++
			}
			return n, nil
		case "conjugate":
			return x, nil
		}
	case float64:
		switch name {
		case "is_integer":
			return x == math.Trunc(x) && !math.IsInf(x, 0), nil
		case "conjugate":
			return x, nil
		}
	case *Dict:
		if name == "fromkeys" {
			if len(rest) < 1 {
				return nil, errors.New("fromkeys needs the keys")
			}
			keys, err := items(rest[0])
			if err != nil {
				return nil, err
			}
			var val any
			if len(rest) > 1 {
				val = rest[1]
			}
			d := newDict(len(keys))
			for _, k := range keys {
				if err := d.Set(k, val); err != nil {
					return nil, err
				}
			}
			return d, nil
		}
	}
	m := method(v, name)
	if m == nil {
		return nil, nil
	}
	return m.fn(r, rest, kw)
}

// fSaltToJSON is Salt's tojson(indent=None, sort_keys=False,
// ensure_ascii=True): JSON with <, >, & and ' escaped for HTML.
func fSaltToJSON(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	indent, err := intArg(arg(args, kw, 0, "indent", 0), "indent")
	if err != nil {
		return nil, err
	}
	sortKeys, _ := truth(arg(nil, kw, 0, "sort_keys", false))
	ascii, _ := truth(arg(nil, kw, 0, "ensure_ascii", true))
	var b strings.Builder
	if err := writeJSON(&b, v, jsonOpts{ascii: ascii, htmlSafe: true, sortKeys: sortKeys, indent: indent}, 0); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// jmesIn converts a template value to the data go-jmespath works on:
// numbers are float64, as in JSON.
func jmesIn(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case *Dict, *List, Tuple:
		p := plain(x)
		return jmesNums(p)
	}
	return v
}

// jmesNums turns the ints of plain data into float64.
func jmesNums(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = jmesNums(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jmesNums(e)
		}
	}
	return v
}

// jmesOut converts a go-jmespath result back; integral floats become ints,
// as the template's own numbers were.
func jmesOut(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = jmesOut(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jmesOut(e)
		}
	}
	return v
}

// fJSONQuery is Salt's json_query(query): a JMESPath query on the value.
func fJSONQuery(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	q := arg(args, kw, 0, "query", nil)
	if q == nil {
		return nil, errors.New("json_query needs a JMESPath query")
	}
	res, err := jmespath.Search(str(q), jmesIn(v))
	if err != nil {
		return nil, fmt.Errorf("json_query %s: %w", repr(q), err)
	}
	return fromGo(jmesOut(res)), nil
}
