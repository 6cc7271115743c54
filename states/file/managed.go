package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/brinecm/brine/pkg/cmdrun"
	"github.com/brinecm/brine/pkg/diff"
	"github.com/brinecm/brine/states"
)

// ManagedArgs are file.managed's arguments.
type ManagedArgs struct {
	EnvArg
	Source         []string `arg:"source"` // URLs; the first that exists wins
	SourceHash     string   `arg:"source_hash"`
	SourceHashName string   `arg:"source_hash_name"`
	SkipVerify     bool     `arg:"skip_verify"`
	// VerifySSL False accepts any certificate of an https source (and
	// of an https source_hash file).
	VerifySSL *bool `arg:"verify_ssl"`
	// Signature checks the source's GPG signature: True when the source
	// is clearsigned, else the URL of a detached signature. The keys of
	// Gnupghome (gpg's default home when empty) are trusted; SignedByAny
	// and SignedByAll name the fingerprints that must have signed.
	Signature any `arg:"signature"`
	// SourceHashSig checks the GPG signature of the source_hash file
	// the same way: True when it is clearsigned, else the URL of a
	// detached signature.
	SourceHashSig   any            `arg:"source_hash_sig"`
	SignedByAny     []string       `arg:"signed_by_any"`
	SignedByAll     []string       `arg:"signed_by_all"`
	Gnupghome       string         `arg:"gnupghome"`
	Contents        any            `arg:"contents"`
	ContentsPillar  string         `arg:"contents_pillar"`
	ContentsNewline *bool          `arg:"contents_newline"`
	Template        string         `arg:"template"`
	Context         map[string]any `arg:"context"`
	Defaults        map[string]any `arg:"defaults"`
	User            string         `arg:"user"`
	Group           string         `arg:"group"`
	Mode            states.Mode    `arg:"mode"`
	Makedirs        bool           `arg:"makedirs"`
	DirMode         states.Mode    `arg:"dir_mode"`
	Replace         *bool          `arg:"replace"`
	ShowChanges     *bool          `arg:"show_changes"`
	Create          *bool          `arg:"create"`
	FollowSymlinks  *bool          `arg:"follow_symlinks"`
	Backup          Backup         `arg:"backup"`
	// CheckCmd validates the new file before it replaces the old: each
	// command runs with the path of a temporary copy of the new contents
	// appended, and a failing one leaves the file as it was.
	CheckCmd []string `arg:"check_cmd"`
}

// Backup is file.managed's backup: "minion" keeps a copy of each file it
// replaces (Salt's backup_mode); empty or False keeps none.
type Backup bool

// DecodeArg accepts "minion", "", False or nothing.
func (b *Backup) DecodeArg(v any) error {
	switch x := v.(type) {
	case nil:
		*b = false
		return nil
	case bool:
		if !x {
			*b = false
			return nil
		}
	case string:
		switch strings.ToLower(x) {
		case "minion":
			*b = true
			return nil
		case "", "false":
			*b = false
			return nil
		}
	}
	return fmt.Errorf("expected minion (back up replaced files in the minion's file_backup directory) or False, got %v", v)
}

func managed(ctx context.Context, c *states.Call, a *ManagedArgs) states.Outcome {
	c = a.EnvArg.in(c)
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if a.Contents != nil && a.ContentsPillar != "" {
		return states.Failed("Only one of 'contents' and 'contents_pillar' is permitted", nil)
	}
	if len(a.Source) > 0 && (a.Contents != nil || a.ContentsPillar != "") {
		return states.Failed("'source' cannot be used in combination with 'contents', 'contents_pillar', or 'contents_grains'", nil)
	}
	srcs := make([]source, len(a.Source))
	for i, url := range a.Source {
		s, fail := parseSource(url)
		if fail != "" {
			return states.Failed(fail, nil)
		}
		if s.kind == srcLocal && s.path == filepath.Clean(name) {
			return states.Failed("Source file cannot be the same as destination", nil)
		}
		s.insecure = !boolOr(a.VerifySSL, true)
		srcs[i] = s
	}
	p, fail := resolvePerms(a.User, a.Group, a.Mode)
	if fail != "" {
		return states.Failed(fail, nil)
	}

	fd, st, err := openFile(name, false)
	if errors.Is(err, syscall.ELOOP) {
		// name is a symlink: follow_symlinks (the default) manages its
		// target, otherwise a regular file replaces the link.
		if boolOr(a.FollowSymlinks, true) {
			if name, err = linkTarget(name); err != nil {
				return states.Failedf("Unable to follow symlink %s: %v", c.Name, err)
			}
			if slices.ContainsFunc(srcs, func(s source) bool { return s.kind == srcLocal && s.path == name }) {
				return states.Failed("Source file cannot be the same as destination", nil)
			}
			fd, st, err = openFile(name, true)
		} else {
			return managedOverLink(ctx, c, a, srcs, p)
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return managedNew(ctx, c, a, srcs, name, p)
	case err != nil:
		return states.Failedf("Unable to open %s: %v", name, err)
	}
	defer syscall.Close(fd)
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return states.Failedf("Specified target %s is a directory", name)
	}
	if !boolOr(a.Replace, true) {
		return managedPermsOnly(c, name, p, st)
	}

	w, fail := desired(ctx, c, a, srcs)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	p.mode = w.mode(p.mode)
	var old []byte
	contentDiffers := false
	if w.have {
		old, err = readFile(fd, name, st.Size)
		if err != nil {
			return states.Failedf("Unable to read %s: %v", name, err)
		}
		contentDiffers = !bytes.Equal(old, w.data)
	}
	changes := p.diff(st, nil)
	if !contentDiffers && changes == nil {
		return states.Succeeded(fmt.Sprintf("File %s is in the correct state", name), nil)
	}
	if changes == nil {
		changes = map[string]any{}
	}
	if contentDiffers {
		changes["diff"] = contentDiff(old, w.data, boolOr(a.ShowChanges, true))
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("The file %s is set to be changed", name)+testNote, changes)
	}
	if fail := checkCmd(ctx, a.CheckCmd, w.data, p); fail != "" {
		return states.Failed(fail, nil)
	}
	if contentDiffers && bool(a.Backup) {
		if _, err := backupFile(c.Env, name, old, time.Now()); err != nil {
			return states.Failedf("Unable to manage file %s: %v", name, err)
		}
	}
	if contentDiffers {
		err = writeAtomic(ctx, name, w.data, keepSpec(st, p))
	} else {
		err = p.apply(name, st)
	}
	if err != nil {
		return states.Failedf("Unable to manage file %s: %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("File %s updated", name), changes)
}

// linkTarget resolves the symlink name to the path it points at, also
// when that does not exist yet.
func linkTarget(name string) (string, error) {
	if real, err := filepath.EvalSymlinks(name); err == nil {
		return real, nil
	}
	target, err := os.Readlink(name)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(name), target)
	}
	return filepath.Clean(target), nil
}

// managedOverLink replaces the symlink name by a regular file
// (follow_symlinks: False).
func managedOverLink(ctx context.Context, c *states.Call, a *ManagedArgs, srcs []source, p perms) states.Outcome {
	name := c.Name
	w, fail := desired(ctx, c, a, srcs)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	p.mode = w.mode(p.mode)
	old, _ := os.ReadFile(name)
	changes := map[string]any{"diff": contentDiff(old, w.data, boolOr(a.ShowChanges, true))}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("The file %s is set to be changed", name)+testNote, changes)
	}
	if fail := checkCmd(ctx, a.CheckCmd, w.data, p); fail != "" {
		return states.Failed(fail, nil)
	}
	if err := writeAtomic(ctx, name, w.data, newSpec(p)); err != nil {
		return states.Failedf("Unable to manage file %s: %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("File %s updated", name), changes)
}

// managedNew creates the file name, which does not exist yet.
func managedNew(ctx context.Context, c *states.Call, a *ManagedArgs, srcs []source, name string, p perms) states.Outcome {
	if !boolOr(a.Create, true) {
		return states.Succeeded(fmt.Sprintf("File %s is not present and is not set for creation", name), nil)
	}
	w, fail := desired(ctx, c, a, srcs)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	p.mode = w.mode(p.mode)
	if c.Test {
		return states.WouldChange(fmt.Sprintf("The file %s is set to be changed", name)+testNote,
			map[string]any{"newfile": name})
	}
	if fail := checkCmd(ctx, a.CheckCmd, w.data, p); fail != "" {
		return states.Failed(fail, nil)
	}
	dir := filepath.Dir(name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if !a.Makedirs {
			return states.Failed("Parent directory not present", nil)
		}
		if err := makeParents(dir, dirModeFor(a.DirMode, p.mode), p.uid, p.gid); err != nil {
			return states.Failedf("Unable to create parent directories of %s: %v", name, err)
		}
	} else if err != nil {
		return states.Failedf("Unable to stat %s: %v", dir, err)
	}
	if err := writeAtomic(ctx, name, w.data, newSpec(p)); err != nil {
		return states.Failedf("Unable to manage file %s: %v", name, err)
	}
	changes := map[string]any{"diff": "New file"}
	comment := fmt.Sprintf("File %s updated", name)
	if !w.have {
		changes = map[string]any{"new": fmt.Sprintf("file %s created", name)}
		comment = "Empty file"
	}
	// Like Salt, report what differs from a file created with defaults
	// (owned by this process; 0600 when a mode is asked for).
	if p.uid >= 0 && p.uid != os.Geteuid() {
		changes["user"] = p.user
	}
	if p.gid >= 0 && p.gid != os.Getegid() {
		changes["group"] = p.group
	}
	if p.mode.Set && p.mode.Perm != 0o600 {
		changes["mode"] = formatMode(p.mode.Perm)
	}
	return states.Succeeded(comment, changes)
}

// managedPermsOnly is replace: False on an existing file: only its owner,
// group and mode are managed.
func managedPermsOnly(c *states.Call, name string, p perms, st *syscall.Stat_t) states.Outcome {
	changes := p.diff(st, nil)
	switch {
	case changes == nil:
		return states.Succeeded(fmt.Sprintf("File %s exists with proper permissions. No changes made.", name), nil)
	case c.Test:
		if m, ok := changes["mode"]; ok {
			return states.WouldChange(fmt.Sprintf("File %s will be updated with permissions %s from its current state of %s",
				name, m, formatMode(st.Mode&07777)), changes)
		}
		return states.WouldChange(fmt.Sprintf("File %s not updated", name), changes)
	}
	if err := p.apply(name, st); err != nil {
		return states.Failedf("Unable to manage file %s: %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("File %s updated", name), changes)
}

// wanted is the contents file.managed wants, when have, and the mode of
// the source they came from (keepOK), for mode: keep.
type wanted struct {
	data     []byte
	have     bool
	keepMode uint32
	keepOK   bool
}

// mode is the mode to manage: the source's for mode: keep.
func (w wanted) mode(m states.Mode) states.Mode {
	if !m.Keep {
		return m
	}
	if w.keepOK {
		return states.Mode{Perm: w.keepMode, Set: true}
	}
	return states.Mode{}
}

// desired computes the wanted contents; fail is a failure comment.
func desired(ctx context.Context, c *states.Call, a *ManagedArgs, srcs []source) (wanted, string) {
	var fail string
	switch {
	case a.Contents != nil || a.ContentsPillar != "":
		v := a.Contents
		if a.ContentsPillar != "" {
			if v, fail = pillarValue(ctx, c.Env, a.ContentsPillar); fail != "" {
				return wanted{}, fail
			}
		}
		s, err := contentsString(v)
		if err != nil {
			return wanted{}, err.Error()
		}
		want := []byte(s)
		if a.Template != "" {
			vars := templateVars(c, "", c.Name, a.User, a.Group, a.Mode)
			if want, fail = render(ctx, c, a, c.Name, want, vars); fail != "" {
				return wanted{}, fail
			}
		}
		if boolOr(a.ContentsNewline, true) && len(want) > 0 && want[len(want)-1] != '\n' {
			want = append(want, '\n')
		}
		return wanted{data: want, have: true}, ""
	case len(srcs) > 0:
		for _, src := range srcs {
			w, found, fail := fetchWanted(ctx, c, a, src)
			if fail != "" {
				return wanted{}, fail
			}
			if found {
				return w, ""
			}
		}
		switch {
		case len(srcs) > 1:
			return wanted{}, "None of the specified sources were found: " + strings.Join(a.Source, ", ")
		case srcs[0].kind == srcLocal:
			return wanted{}, fmt.Sprintf("Source file %s does not exist", srcs[0].path)
		}
		return wanted{}, notFound(a.Source[0], srcs[0], c.Env)
	}
	return wanted{}, ""
}

// fetchWanted reads one source, checks its source_hash and renders it;
// found is false when it does not exist.
func fetchWanted(ctx context.Context, c *states.Call, a *ManagedArgs, src source) (w wanted, found bool, fail string) {
	if src.kind == srcHTTP && a.SourceHash == "" && !a.SkipVerify {
		return w, false, fmt.Sprintf("Unable to verify upstream hash of source file %s, please set source_hash or set skip_verify to True", src.url)
	}
	data, err := src.fetch(ctx, c.Env)
	if errors.Is(err, fs.ErrNotExist) {
		return w, false, ""
	}
	if err != nil {
		return w, false, fmt.Sprintf("Unable to read source %s: %v", src.url, err)
	}
	hashSig, fail := newSigCheck(a.SourceHashSig, a)
	if fail != "" {
		return w, false, fail
	}
	// As in Salt, a salt:// source is trusted: its hash is the master's.
	if a.SourceHash != "" && !a.SkipVerify && src.kind != srcTree {
		h, fail := expectedHashSigned(ctx, c.Env, a.SourceHash, a.SourceHashName, src, hashSig)
		if fail != "" {
			return w, false, fail
		}
		if fail := verify(h, src.url, data); fail != "" {
			return w, false, fail
		}
	} else if hashSig.on() {
		return w, false, "source_hash_sig needs a source_hash file to check (and no skip_verify)"
	}
	sig, fail := newSigCheck(a.Signature, a)
	if fail != "" {
		return w, false, fail
	}
	if sig.on() {
		if fail := verifySignature(ctx, c.Env, sig, src.url, data, src.insecure); fail != "" {
			return w, false, fail
		}
	}
	if a.Mode.Keep {
		if w.keepMode, w.keepOK, err = src.perm(ctx, c.Env); err != nil {
			return w, false, fmt.Sprintf("Unable to read the mode of source %s: %v", src.url, err)
		}
	}
	if a.Template != "" {
		tplfile := src.path
		if src.kind == srcHTTP {
			tplfile = src.url
		}
		vars := templateVars(c, src.url, tplfile, a.User, a.Group, a.Mode)
		if data, fail = render(ctx, c, a, src.url, data, vars); fail != "" {
			return w, false, fail
		}
	}
	w.data, w.have = data, true
	return w, true, ""
}

// contentsString joins a list of lines with newlines, as Salt does.
func contentsString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []any:
		lines := make([]string, len(x))
		for i, it := range x {
			s, err := scalarString(it)
			if err != nil {
				return "", fmt.Errorf("contents item %d: %w", i+1, err)
			}
			lines[i] = s
		}
		return strings.Join(lines, "\n"), nil
	}
	return scalarString(v)
}

func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int, int64, float64:
		return fmt.Sprint(x), nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case map[string]any:
		return pyRepr(x), nil
	}
	return "", fmt.Errorf("expected text, got %T", v)
}

// render renders src with the state's template engine: Salt's template
// variables (vars), then defaults, then context.
func render(ctx context.Context, c *states.Call, a *ManagedArgs, srcName string, src []byte, vars map[string]any) ([]byte, string) {
	if c.Env == nil {
		return nil, "No template renderer is available"
	}
	maps.Copy(vars, a.Defaults)
	maps.Copy(vars, a.Context)
	out, err := c.Env.Render(ctx, strings.ToLower(a.Template), srcName, src, vars)
	if err != nil {
		return nil, fmt.Sprintf("Unable to render %s as %s: %v", srcName, a.Template, err)
	}
	return out, ""
}

// pyRepr writes a mapping as Python prints a dict, as Salt writes a
// mapping given as contents: {'k': 'v', 'n': 1}, keys sorted.
func pyRepr(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", `\'`) + "'"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, it := range x {
			parts[i] = pyRepr(it)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case nil:
		return "None"
	}
	s, _ := scalarString(v)
	return s
}

// openFile opens name for reading and returns its descriptor and status.
// It is os.Open and Stat in two system calls instead of five: a regular
// file gains nothing from the runtime's poller, which os.Open tries (and
// fails) to register it with.
//
// Without follow, a symlink at name is not opened: the error is ELOOP.
func openFile(name string, follow bool) (int, *syscall.Stat_t, error) {
	flags := syscall.O_RDONLY | syscall.O_CLOEXEC
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	var fd int
	var err error
	for {
		fd, err = syscall.Open(name, flags, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return -1, nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	st := new(syscall.Stat_t)
	if err := syscall.Fstat(fd, st); err != nil {
		syscall.Close(fd)
		return -1, nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fd, st, nil
}

// readFile reads the file open as fd, which fstat said holds size bytes:
// one allocation, and one read when it still does (a read that stops short
// at that size ends the file; one that fills the extra byte reads on).
func readFile(fd int, name string, size int64) ([]byte, error) {
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := cap(buf) - len(buf)
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return buf, &fs.PathError{Op: "read", Path: name, Err: err}
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if n < want && int64(len(buf)) == size {
			return buf, nil
		}
	}
}

// contentDiff is the "diff" change of a content change.
func contentDiff(old, want []byte, show bool) string {
	switch {
	case !show:
		return "<show_changes=False>"
	case isBinary(old) || isBinary(want):
		return "Replace binary file"
	}
	return diff.Unified(old, want)
}

func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0
}

// checkCmd runs check_cmd as Salt's file states do (mod_run_check_cmd):
// the new contents go to a temporary file, owned and moded as p asks, and
// each command runs through the shell with that file's path appended. It
// returns the failure comment of the first command that fails: Salt's
// "check_cmd execution failed" followed by the command's output.
func checkCmd(ctx context.Context, cmds []string, data []byte, p perms) string {
	if len(cmds) == 0 {
		return ""
	}
	f, err := os.CreateTemp("", "brine-check-cmd-")
	if err != nil {
		return fmt.Sprintf("Unable to check_cmd file: %v", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && (p.uid >= 0 || p.gid >= 0) {
		err = os.Chown(tmp, p.uid, p.gid)
	}
	if err == nil && p.mode.Set {
		err = syscall.Chmod(tmp, p.mode.Perm)
	}
	if err != nil {
		return fmt.Sprintf("Unable to check_cmd file: %v", err)
	}
	for _, cmd := range cmds {
		res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: cmd + " " + tmp})
		if err != nil {
			return fmt.Sprintf("Unable to check_cmd file: running %q: %v", cmd, err)
		}
		if res.Retcode != 0 {
			comment := "check_cmd execution failed"
			for _, out := range []string{res.Stdout, res.Stderr} {
				if out != "" {
					comment += "\n" + out
				}
			}
			return comment
		}
	}
	return ""
}
