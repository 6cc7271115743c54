// Package archive provides archive.extracted: a tar or zip archive (from
// the state tree, http(s) or this host) extracted into a directory, as
// Salt's state of that name does. Whether to extract is decided by listing
// the archive and looking for each of its paths below the directory.
package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/file"
)

func init() {
	states.Register("archive.extracted", states.Func[Args]{
		Doc: "Ensures the archive source (tar or zip; salt://, http(s):// with source_hash, file:// or a path) " +
			"is extracted into the directory name: extracted when a path of the archive is missing below name " +
			"(or overwrite, or source_hash_update and the archive changed), skipped when if_missing exists; " +
			"user and group own the extracted top-level paths. options are passed to tar (or unzip).",
		Apply: func(ctx context.Context, c *states.Call, a *Args) states.Outcome { return extracted(ctx, c, a) },
	})
}

// Args are archive.extracted's arguments (Salt's names).
type Args struct {
	Source             string `arg:"source,required"`
	SourceHash         string `arg:"source_hash"`
	SourceHashName     string `arg:"source_hash_name"`
	SourceHashUpdate   bool   `arg:"source_hash_update"`
	SkipVerify         bool   `arg:"skip_verify"`
	Password           string `arg:"password"`
	Options            string `arg:"options"`
	ListOptions        string `arg:"list_options"`
	Force              bool   `arg:"force"`
	Overwrite          bool   `arg:"overwrite"`
	Clean              bool   `arg:"clean"`
	User               string `arg:"user"`
	Group              string `arg:"group"`
	IfMissing          string `arg:"if_missing"`
	TrimOutput         any    `arg:"trim_output"`
	UseCmdUnzip        *bool  `arg:"use_cmd_unzip"`
	ExtractPerms       *bool  `arg:"extract_perms"`
	EnforceToplevel    *bool  `arg:"enforce_toplevel"`
	EnforceOwnershipOn string `arg:"enforce_ownership_on"`
	ArchiveFormat      string `arg:"archive_format"`
	KeepSource         *bool  `arg:"keep_source"`
	Keep               *bool  `arg:"keep"`
	// Rest takes the keyword arguments Salt passes on to its extraction
	// functions unused (e.g. recurse); they are logged and ignored.
	Rest map[string]any `arg:"*"`
}

// optser gives the run's configuration (where downloaded archives go).
type optser interface {
	Opts() map[string]any
}

func extracted(ctx context.Context, c *states.Call, a *Args) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return states.Failedf("%s is not an absolute path: name is the directory to extract into", name)
	}
	if len(a.Rest) > 0 && c.Log != nil {
		keys := make([]string, 0, len(a.Rest))
		for k := range a.Rest {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		c.Log.Warn("archive.extracted: arguments ignored, as Salt's extraction ignores them", "id", c.ID, "args", keys)
	}
	format, fail := archiveFormat(a)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	if a.IfMissing != "" {
		if _, err := os.Lstat(a.IfMissing); err == nil {
			return states.Succeeded(fmt.Sprintf("Path %s exists", a.IfMissing), nil)
		}
	}
	spec := file.SourceSpec{URL: a.Source, SourceHash: a.SourceHash, SourceHashName: a.SourceHashName, SkipVerify: a.SkipVerify}
	cached, fail := obtain(ctx, c, spec)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	strip, fail := stripComponents(a.Options)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	contents, err := list(ctx, cached, format, strip)
	if err != nil {
		return states.Failedf("Unable to list the contents of %s: %v. If the archive is compressed in a way brine cannot read, "+
			"set if_missing to a path the extraction creates", a.Source, err)
	}
	if (a.EnforceToplevel == nil || *a.EnforceToplevel) && (len(contents.topDirs) > 1 || len(contents.topFiles) > 0) {
		return states.Failedf("Archive does not have a single top-level directory. To allow this archive to be extracted, "+
			"set 'enforce_toplevel' to False. To avoid a '%s-bomb' it may also be advisable to set a top-level directory "+
			"by adding it to the 'name' value (for example, setting 'name' to %s instead of %s).",
			format, filepath.Join(name, "some_dir"), name)
	}

	changes := map[string]any{}
	need, missing := a.Overwrite, false
	var wrongType []string
	for _, e := range contents.entries {
		fi, err := os.Lstat(filepath.Join(name, e.path))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			need, missing = true, true
		case errors.Is(err, fs.ErrPermission):
			return states.Failedf("Unable to check %s: %v", filepath.Join(name, e.path), err)
		case err != nil: // ENOTDIR: a file where a directory belongs, reported on that path
		case !e.kind.matches(fi.Mode()):
			wrongType = append(wrongType, e.path)
		}
	}
	if len(wrongType) > 0 && !a.Clean {
		msg := fmt.Sprintf("The below paths (relative to %s) exist, but are the incorrect type (file instead of directory, symlink instead of file, etc.).", name)
		list := "\n\n- " + strings.Join(wrongType, "\n- ")
		if !a.Force {
			return states.Failed(msg+" To proceed with extraction, set 'force' to True. Note that this will remove these paths before extracting."+list, nil)
		}
		if c.Test {
			return states.WouldChange(msg+" Since 'force' is set, they would be removed and the archive extracted."+list, nil)
		}
		var removed []string
		for _, p := range wrongType {
			full := filepath.Join(name, p)
			if err := os.RemoveAll(full); err != nil {
				return states.Failedf("Unable to remove %s, of the wrong type: %v", full, err)
			}
			removed = append(removed, full)
		}
		changes["removed"] = removed
		need = true
	}
	hashTrigger := false
	sum := sha256.Sum256(cached.data)
	digest := hex.EncodeToString(sum[:])
	record := hashRecord(c, name, a.Source)
	if !need && a.SourceHashUpdate {
		if old, err := os.ReadFile(record); err == nil && strings.TrimSpace(string(old)) != digest {
			need, hashTrigger = true, true
		}
	}
	explain := ""
	switch {
	case hashTrigger:
		explain = ", due to source_hash update"
	case missing:
		explain = ", due to absence of one or more files/dirs"
	}

	if need {
		if c.Test {
			msg := fmt.Sprintf("Archive %s would be extracted to %s", a.Source, name)
			if a.Clean {
				msg += ", after cleaning destination path(s)"
			}
			return states.WouldChange(msg+explain, nil)
		}
		if a.Clean {
			var removed []string
			for _, p := range slices.Concat(contents.topDirs, contents.topFiles) {
				full := filepath.Join(name, p)
				if _, err := os.Lstat(full); err != nil {
					continue
				}
				if err := os.RemoveAll(full); err != nil {
					return states.Failedf("One or more paths could not be cleaned: %v", err)
				}
				removed = append(removed, full)
			}
			if len(removed) > 0 {
				changes["removed"] = removed
			}
		}
		if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(name, 0o755); err != nil {
				return states.Failedf("Unable to create %s: %v", name, err)
			}
			if fail := chownTree(name, a.User, "", false); fail != "" {
				return states.Failed(fail, changes)
			}
			changes["directories_created"] = []string{name}
		}
		files, err := extract(ctx, cached.path, name, format, a)
		if err != nil {
			return states.Failedf("Unable to extract %s to %s: %v", a.Source, name, err)
		}
		if len(files) == 0 {
			return states.Failedf("No files were extracted from %s", a.Source)
		}
		changes["extracted_files"] = trim(files, a.TrimOutput)
		if err := writeRecord(record, digest); err != nil {
			return states.Failed(err.Error(), changes)
		}
	}

	owned, fail := enforceOwnership(name, contents, a, c.Test)
	if owned {
		changes["updated ownership"] = true
	}
	var out states.Outcome
	switch {
	case need:
		out = states.Succeeded(fmt.Sprintf("%s extracted to %s%s", a.Source, name, explain), changes)
	case c.Test && owned:
		out = states.WouldChange("All files in archive are already present. Ownership would be updated on one or more files/directories.", changes)
	default:
		out = states.Succeeded("All files in archive are already present", changes)
	}
	if len(out.Changes) == 0 {
		out.Changes = nil
	}
	if fail != "" {
		failed := false
		out.Result = &failed
		out.Comment += "\n\n" + fail
	}
	if cached.temp && !c.Test && ((a.KeepSource != nil && !*a.KeepSource) || (a.Keep != nil && !*a.Keep)) {
		if err := os.Remove(cached.path); err != nil && c.Log != nil {
			c.Log.Warn("archive.extracted: remove the downloaded archive", "id", c.ID, "err", err)
		}
	}
	if a.SourceHashUpdate && !need && !c.Test {
		if _, err := os.Stat(record); errors.Is(err, fs.ErrNotExist) {
			if err := writeRecord(record, digest); err != nil {
				return states.Failed(err.Error(), out.Changes)
			}
		}
	}
	return out
}

// archiveFormat is archive_format, or the one the source's extension names.
func archiveFormat(a *Args) (string, string) {
	switch f := strings.ToLower(a.ArchiveFormat); f {
	case "tar", "zip":
		return f, ""
	case "rar":
		return "", "archive_format rar is not supported by brine: repack the archive as tar or zip"
	case "":
	default:
		return "", fmt.Sprintf("Invalid archive_format %q: use tar or zip", a.ArchiveFormat)
	}
	base := strings.ToLower(path.Base(strings.SplitN(a.Source, "?", 2)[0]))
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tar.lzma"} {
		if strings.HasSuffix(base, ext) {
			return "tar", ""
		}
	}
	if strings.HasSuffix(base, ".zip") {
		return "zip", ""
	}
	return "", "Could not guess archive_format from the value of the 'source' argument. Please set archive_format to one of the following: tar, zip"
}

// archiveFile is the archive on this host, with its bytes.
type archiveFile struct {
	path string
	data []byte
	temp bool // path is brine's downloaded copy, not the user's file
}

// obtain reads the source: a local file in place; a state-tree or http(s)
// source into the minion's archive cache (data_dir/archive_cache), where a
// copy matching source_hash is used again without downloading.
func obtain(ctx context.Context, c *states.Call, spec file.SourceSpec) (archiveFile, string) {
	if p, ok := localPath(spec.URL); ok {
		data, err := os.ReadFile(p)
		if err != nil {
			return archiveFile{}, fmt.Sprintf("Source file %s does not exist or cannot be read: %v", p, err)
		}
		if fail := file.Check(ctx, c.Env, spec, data); fail != "" {
			return archiveFile{}, fail
		}
		return archiveFile{path: p, data: data}, ""
	}
	key := sha256.Sum256([]byte(spec.URL))
	dst := filepath.Join(dataDir(c.Env), "archive_cache", hex.EncodeToString(key[:8]), path.Base(strings.SplitN(spec.URL, "?", 2)[0]))
	if spec.Remote() && (spec.SourceHash != "" || spec.SkipVerify) {
		if data, err := os.ReadFile(dst); err == nil && file.Check(ctx, c.Env, spec, data) == "" {
			return archiveFile{path: dst, data: data, temp: true}, ""
		}
	}
	data, fail := file.Fetch(ctx, c.Env, spec)
	if fail != "" {
		return archiveFile{}, fail
	}
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
		return archiveFile{path: dst, data: data, temp: true}, ""
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return archiveFile{}, fmt.Sprintf("Unable to cache %s: %v", spec.URL, err)
	}
	tmp := dst + ".part"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return archiveFile{}, fmt.Sprintf("Unable to cache %s: %v", spec.URL, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return archiveFile{}, fmt.Sprintf("Unable to cache %s: %v", spec.URL, err)
	}
	return archiveFile{path: dst, data: data, temp: true}, ""
}

// localPath is the path of a file:// or absolute-path source.
func localPath(url string) (string, bool) {
	if rest, ok := strings.CutPrefix(url, "file://"); ok && filepath.IsAbs(rest) {
		return filepath.Clean(rest), true
	}
	if filepath.IsAbs(url) {
		return filepath.Clean(url), true
	}
	return "", false
}

// dataDir is the run's data_dir, else the minion's default.
func dataDir(env states.Env) string {
	if o, ok := env.(optser); ok {
		if d, ok := o.Opts()["data_dir"].(string); ok && d != "" {
			return d
		}
	}
	return config.DefaultMinionDataDir
}

// hashRecord is where the digest of the archive last extracted into name
// from source is kept, for source_hash_update.
func hashRecord(c *states.Call, name, source string) string {
	key := sha256.Sum256([]byte(name + "\x00" + source))
	return filepath.Join(dataDir(c.Env), "archive_hash", hex.EncodeToString(key[:16]))
}

func writeRecord(p, digest string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("record the extracted archive's hash: %w", err)
	}
	if err := os.WriteFile(p, []byte(digest+"\n"), 0o600); err != nil {
		return fmt.Errorf("record the extracted archive's hash: %w", err)
	}
	return nil
}

// trim shortens the list of extracted files as trim_output asks: true is
// Salt's 100 lines, a number that many.
func trim(files []string, t any) []string {
	n := 0
	switch v := t.(type) {
	case bool:
		if v {
			n = 100
		}
	case int:
		n = v
	case int64:
		n = int(v)
	case float64:
		n = int(v)
	}
	if n > 0 && len(files) > n {
		return files[:n]
	}
	return files
}

// extract unpacks the archive into name and returns the paths extracted.
func extract(ctx context.Context, archivePath, name, format string, a *Args) ([]string, error) {
	if format == "zip" {
		if a.Options != "" || a.Password != "" || (a.UseCmdUnzip != nil && *a.UseCmdUnzip) {
			if a.UseCmdUnzip != nil && !*a.UseCmdUnzip && a.Options != "" {
				return nil, errors.New("options need the unzip command: remove use_cmd_unzip: False")
			}
			return unzipCmd(ctx, archivePath, name, a)
		}
		return unzip(archivePath, name, a.ExtractPerms == nil || *a.ExtractPerms)
	}
	return untar(ctx, archivePath, name, a.Options)
}

// untar runs tar as Salt does: "xv" plus the short options of options'
// first word, its other words as long options, -f archive, in name.
func untar(ctx context.Context, archivePath, name, options string) ([]string, error) {
	words, err := splitWords(options)
	if err != nil {
		return nil, err
	}
	short, long := "xv", []string{}
	for i, w := range words {
		switch {
		case w == "v" || w == "-v" || w == "--verbose":
		case strings.HasPrefix(w, "-") || i > 0:
			long = append(long, w)
		default:
			short += strings.NewReplacer("x", "", "f", "", "v", "").Replace(w)
		}
	}
	args := slices.Concat([]string{short}, long, []string{"-f", archivePath})
	cmd := exec.CommandContext(ctx, "tar", args...)
	cmd.Dir = name
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tar %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	var files []string
	for line := range strings.Lines(stdout.String()) {
		if f := strings.TrimRight(line, "\n"); f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// unzipCmd runs unzip with options (and -P password) into name.
func unzipCmd(ctx context.Context, archivePath, name string, a *Args) ([]string, error) {
	words, err := splitWords(a.Options)
	if err != nil {
		return nil, err
	}
	args := []string{"-o"}
	if a.Password != "" {
		args = append(args, "-P", a.Password)
	}
	args = slices.Concat(args, words, []string{archivePath, "-d", name})
	out, err := exec.CommandContext(ctx, "unzip", args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("unzip: %v: %s", err, strings.TrimSpace(string(out)))
	}
	var files []string
	for line := range strings.Lines(string(out)) {
		for _, verb := range []string{"inflating:", "extracting:", "creating:", "linking:"} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), verb); ok {
				f := strings.TrimSpace(rest)
				if rel, err := filepath.Rel(name, f); err == nil {
					f = rel
				}
				files = append(files, f)
			}
		}
	}
	return files, nil
}

// splitWords splits options as a POSIX shell would split plain words and
// quoted strings (no expansions).
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("options %q: unterminated quote", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
