package file

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/states"
)

// What a run's states.Env may offer besides Source and Render; each is
// optional (pkg/sls's Compiler has them all).
type (
	// sourceStater describes a file of the state tree (mode: keep).
	sourceStater interface {
		SourceStat(ctx context.Context, url string) (fs.FileInfo, error)
	}
	// sourceLister lists the files below a directory of the state tree
	// (file.recurse).
	sourceLister interface {
		SourceList(ctx context.Context, url string) ([]string, error)
	}
	// pillarer gives the minion's pillar (contents_pillar).
	pillarer interface {
		Pillar(ctx context.Context) (map[string]any, error)
	}
	// optser gives the run's configuration (where backups go).
	optser interface {
		Opts() map[string]any
	}
)

// sourceKind says where a source URL points.
type sourceKind int

const (
	srcTree  sourceKind = iota + 1 // salt:// or brine://: the state tree
	srcLocal                       // file:// or an absolute path on this host
	srcHTTP                        // http:// or https://
)

// source is one source URL of file.managed, file.recurse or file.serialize.
type source struct {
	url  string
	kind sourceKind
	path string // srcLocal: the local path; srcTree: the tree path
	// insecure (verify_ssl: False) accepts any certificate of an https
	// source (and of its hash file).
	insecure bool
}

// parseSource classifies url; fail is a failure comment.
func parseSource(url string) (source, string) {
	for _, scheme := range []string{"salt://", "brine://"} {
		if rest, ok := strings.CutPrefix(url, scheme); ok {
			if escaped, ok := strings.CutPrefix(rest, "|"); ok {
				rest = escaped
			} else {
				rest, _, _ = strings.Cut(rest, "?")
			}
			return source{url: url, kind: srcTree, path: strings.TrimPrefix(path.Clean("/"+rest), "/")}, ""
		}
	}
	if rest, ok := strings.CutPrefix(url, "file://"); ok {
		if !filepath.IsAbs(rest) {
			return source{}, fmt.Sprintf("Source %s: a file:// source needs an absolute path (file:///etc/motd)", url)
		}
		return source{url: url, kind: srcLocal, path: filepath.Clean(rest)}, ""
	}
	if strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://") {
		return source{url: url, kind: srcHTTP}, ""
	}
	if filepath.IsAbs(url) {
		return source{url: url, kind: srcLocal, path: filepath.Clean(url)}, ""
	}
	return source{}, fmt.Sprintf("Source %q is not a salt://, file://, http(s):// URL or an absolute path", url)
}

// fetch reads the source; a missing source is an error that wraps
// fs.ErrNotExist.
func (s source) fetch(ctx context.Context, env states.Env) ([]byte, error) {
	switch s.kind {
	case srcLocal:
		return os.ReadFile(s.path)
	case srcHTTP:
		return httpGet(ctx, s.url, s.insecure)
	}
	if env == nil {
		return nil, fmt.Errorf("no state tree is available to read %s", s.url)
	}
	return env.Source(ctx, s.url)
}

// perm is the permission bits of the source, for mode: keep; ok is false
// when the source has none to give (http) or env cannot tell.
func (s source) perm(ctx context.Context, env states.Env) (uint32, bool, error) {
	var fi fs.FileInfo
	var err error
	switch s.kind {
	case srcLocal:
		fi, err = os.Stat(s.path)
	case srcTree:
		st, ok := env.(sourceStater)
		if !ok {
			return 0, false, nil
		}
		fi, err = st.SourceStat(ctx, s.url)
	default:
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return uint32(fi.Mode().Perm()) | setBits(fi.Mode()), true, nil
}

// setBits are the setuid, setgid and sticky bits of m as a Unix mode.
func setBits(m fs.FileMode) uint32 {
	var b uint32
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// httpGet downloads url; a 404 is fs.ErrNotExist. insecure accepts any
// server certificate (verify_ssl: False); otherwise a certificate the
// system does not trust fails with Salt's SSL: CERTIFICATE_VERIFY_FAILED.
func httpGet(ctx context.Context, url string, insecure bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", url, err)
	}
	client := http.DefaultClient
	if insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	resp, err := client.Do(req)
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return nil, fmt.Errorf("download %s: SSL: CERTIFICATE_VERIFY_FAILED (set verify_ssl: False to accept it): %w", url, err)
	}
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("download %s: %w", url, fs.ErrNotExist)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("download %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	return b, nil
}

// hashTypes are the checksums source_hash may give, by name and by the
// length of their hex digest.
var hashTypes = []struct {
	name string
	hex  int
	new  func() hash.Hash
}{
	{"md5", 32, md5.New},
	{"sha1", 40, sha1.New},
	{"sha224", 56, sha256.New224},
	{"sha256", 64, sha256.New},
	{"sha384", 96, sha512.New384},
	{"sha512", 128, sha512.New},
}

// checksum is an expected digest: its type and hex value (lower case).
type checksum struct {
	typ, hex string
}

// parseHash reads "sha256=abc..." or a bare hex digest whose length gives
// its type; ok is false when s is neither.
func parseHash(s string) (checksum, bool) {
	s = strings.TrimSpace(s)
	typ, digest, typed := strings.Cut(s, "=")
	if !typed {
		digest, typ = s, ""
	}
	digest = strings.ToLower(strings.TrimSpace(digest))
	if _, err := hex.DecodeString(digest); err != nil || digest == "" {
		return checksum{}, false
	}
	for _, h := range hashTypes {
		if (typed && strings.EqualFold(typ, h.name) && len(digest) == h.hex) || (!typed && len(digest) == h.hex) {
			return checksum{typ: h.name, hex: digest}, true
		}
	}
	return checksum{}, false
}

// sum is data's digest of type typ.
func sum(typ string, data []byte) string {
	for _, h := range hashTypes {
		if h.name == typ {
			w := h.new()
			w.Write(data)
			return hex.EncodeToString(w.Sum(nil))
		}
	}
	return ""
}

// expectedHash resolves source_hash for src: a digest, or a hash file (any
// source URL) holding lines such as "<hex>  <file name>" or
// "sha256=<hex>", of which the one naming the source's file (or name, when
// source_hash_name is given) wins, else the only digest in the file.
func expectedHash(ctx context.Context, env states.Env, sourceHash, hashName string, src source) (checksum, string) {
	return expectedHashSigned(ctx, env, sourceHash, hashName, src, sigCheck{})
}

// expectedHashSigned is expectedHash with the hash file's GPG signature
// checked first (source_hash_sig), when sig is on.
func expectedHashSigned(ctx context.Context, env states.Env, sourceHash, hashName string, src source, sig sigCheck) (checksum, string) {
	if h, ok := parseHash(sourceHash); ok {
		if sig.on() {
			return checksum{}, "source_hash_sig needs source_hash to be the URL of a hash file, not a digest"
		}
		return h, ""
	}
	hs, fail := parseSource(sourceHash)
	if fail != "" {
		return checksum{}, fmt.Sprintf("Invalid source_hash %q: give a digest (sha256=<hex>, or the hex alone) or the URL of a hash file", sourceHash)
	}
	hs.insecure = src.insecure
	data, err := hs.fetch(ctx, env)
	if err != nil {
		return checksum{}, fmt.Sprintf("Unable to read source_hash file %s: %v", sourceHash, err)
	}
	if sig.on() {
		if fail := verifySignature(ctx, env, sig, sourceHash, data, src.insecure); fail != "" {
			return checksum{}, fail
		}
	}
	want := hashName
	if want == "" {
		want = path.Base(strings.TrimRight(src.url, "/"))
	}
	var all []checksum
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		for _, f := range fields {
			h, ok := parseHash(strings.TrimPrefix(f, "*"))
			if !ok {
				continue
			}
			for _, other := range fields {
				if other != f && path.Base(strings.TrimPrefix(other, "*")) == path.Base(want) {
					return h, ""
				}
			}
			all = append(all, h)
			break
		}
	}
	if len(all) == 1 {
		return all[0], ""
	}
	return checksum{}, fmt.Sprintf("Unable to find a checksum for %s in source_hash file %s", want, sourceHash)
}

// verify checks data against source_hash; fail names both digests.
func verify(want checksum, src string, data []byte) string {
	if got := sum(want.typ, data); got != want.hex {
		return fmt.Sprintf("Specified %s checksum for %s (%s) does not match actual checksum (%s)", want.typ, src, want.hex, got)
	}
	return ""
}

// templateVars are the variables Salt gives a file template besides
// grains, pillar, opts and saltenv (which the renderer adds): the state's
// arguments and where the template and the SLS live.
func templateVars(c *states.Call, src, tplfile string, user, group string, mode states.Mode) map[string]any {
	slsPath := strings.ReplaceAll(c.SLS, ".", "/")
	slsDir := path.Dir(slsPath)
	if slsDir == "." {
		slsDir = ""
	}
	tpldir := path.Dir(tplfile)
	if filepath.IsAbs(tplfile) {
		tpldir = filepath.Dir(tplfile)
	}
	tplroot := strings.Split(strings.TrimPrefix(tpldir, "/"), "/")[0]
	var m any
	switch {
	case mode.Keep:
		m = "keep"
	case mode.Set:
		m = formatMode(mode.Perm)
	}
	return map[string]any{
		"source": src, "name": c.Name, "user": user, "group": group, "mode": m,
		"sls": c.SLS, "slspath": slsDir, "sls_path": strings.ReplaceAll(slsDir, "/", "_"),
		"slsdotpath": strings.ReplaceAll(slsDir, "/", "."), "slscolonpath": strings.ReplaceAll(slsDir, "/", ":"),
		"tplpath": tplfile, "tplfile": tplfile, "tpldir": tpldir, "tplroot": tplroot,
		"tpldot":      strings.ReplaceAll(strings.TrimPrefix(tpldir, "."), "/", "."),
		"accumulator": accumulatorVar(c.Env, c.Name),
	}
}

// pillarValue looks up a colon-delimited key ("app:motd") in the pillar.
func pillarValue(ctx context.Context, env states.Env, key string) (any, string) {
	p, ok := env.(pillarer)
	if !ok {
		return nil, "No pillar is available to read " + key + " from"
	}
	cur, err := p.Pillar(ctx)
	if err != nil {
		return nil, fmt.Sprintf("Unable to read the pillar for %s: %v", key, err)
	}
	var v any = cur
	for part := range strings.SplitSeq(key, ":") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Sprintf("Pillar %s does not exist", key)
		}
		if v, ok = m[part]; !ok {
			return nil, fmt.Sprintf("Pillar %s does not exist", key)
		}
	}
	return v, ""
}

// backupRoot is where backup: minion keeps the files it replaces, as
// Salt's cachedir/file_backup: file_backup_dir of the configuration, else
// file_backup under its data_dir (the minion's default data directory when
// none is given).
func backupRoot(env states.Env) string {
	if o, ok := env.(optser); ok {
		opts := o.Opts()
		if d, ok := opts["file_backup_dir"].(string); ok && d != "" {
			return d
		}
		if d, ok := opts["data_dir"].(string); ok && d != "" {
			return filepath.Join(d, "file_backup")
		}
	}
	return filepath.Join(config.DefaultMinionDataDir, "file_backup")
}

// backupFile copies the file at name, about to be replaced, into the
// backup root as Salt names its backups: the path below the root, then
// the time ("/etc/motd" -> <root>/etc/motd_Tue_Jan_02_15:04:05_000000_2006).
func backupFile(env states.Env, name string, old []byte, now time.Time) (string, error) {
	stamp := now.Format("Mon_Jan_02_15:04:05") + fmt.Sprintf("_%06d_", now.Nanosecond()/1000) + now.Format("2006")
	dst := filepath.Join(backupRoot(env), strings.TrimPrefix(name, "/")) + "_" + stamp
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", fmt.Errorf("back up %s: %w", name, err)
	}
	if err := os.WriteFile(dst, old, 0o600); err != nil {
		return "", fmt.Errorf("back up %s: %w", name, err)
	}
	return dst, nil
}
