package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("file.patch", states.Func[PatchArgs]{
		Doc: "Applies a patch (source: salt://, http(s):// with source_hash, a local file; optionally a " +
			"jinja template) to the file or directory name with the patch tool; a patch that reverses " +
			"cleanly is already applied.",
		Apply: patchState,
	})
}

// PatchArgs are file.patch's arguments.
type PatchArgs struct {
	EnvArg
	Source         string         `arg:"source,required"`
	SourceHash     string         `arg:"source_hash"`
	SourceHashName string         `arg:"source_hash_name"`
	SkipVerify     bool           `arg:"skip_verify"`
	Template       string         `arg:"template"`
	Context        map[string]any `arg:"context"`
	Defaults       map[string]any `arg:"defaults"`
	// Options are more options of patch, as one shell-quoted string;
	// -p / --strip among them is the strip level.
	Options string `arg:"options"`
	// Strip is patch's --strip (path components cut off the names in
	// the patch); a directory is patched with 0 unless given.
	Strip *int `arg:"strip"`
	// RejectFile is where patch writes the hunks that fail (by default
	// nowhere).
	RejectFile string `arg:"reject_file"`
}

// patchOwned are the options file.patch sets itself.
var patchOwned = []string{"-R", "--reverse", "-N", "--forward", "--dry-run", "-i", "--input", "-o", "--output", "-d", "--directory", "-r", "--reject-file"}

// patchOptions splits options and checks them; strip reports whether
// they set the strip level.
func patchOptions(options string) (opts []string, strip bool, fail string) {
	opts, err := shellSplit(options)
	if err != nil {
		return nil, false, fmt.Sprintf("Invalid options %q: %v", options, err)
	}
	for _, o := range opts {
		flag, _, _ := strings.Cut(o, "=")
		for _, own := range patchOwned {
			if flag == own || (len(own) == 2 && strings.HasPrefix(o, own) && !strings.HasPrefix(o, "--")) {
				return nil, false, fmt.Sprintf("Invalid option %q in options: file.patch sets it itself (use reject_file for -r)", o)
			}
		}
		if strings.HasPrefix(o, "-p") || flag == "--strip" {
			strip = true
		}
	}
	return opts, strip, ""
}

// shellSplit splits s into words as a POSIX shell does: quotes (” and
// "") and backslashes, no expansions.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated \" quote")
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// patchState applies the patch unless it is applied already: a dry run of
// the reverse patch that succeeds says so, as in Salt.
func patchState(ctx context.Context, c *states.Call, a *PatchArgs) states.Outcome {
	c = a.EnvArg.in(c)
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return states.Failedf("%s does not exist", name)
	}
	opts, stripInOpts, fail := patchOptions(a.Options)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	switch {
	case a.Strip != nil && stripInOpts:
		return states.Failed("The strip level is given both as strip and in options: keep one", nil)
	case a.Strip != nil && *a.Strip < 0:
		return states.Failedf("strip must be 0 or more, got %d", *a.Strip)
	case a.Strip != nil:
		opts = append(opts, "--strip="+strconv.Itoa(*a.Strip))
	case fi.IsDir() && !stripInOpts:
		opts = append(opts, "--strip=0")
	}
	if a.RejectFile != "" {
		opts = append(opts, "--reject-file="+a.RejectFile)
	} else {
		opts = append(opts, "--reject-file=-")
	}

	src, fail := parseSource(a.Source)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	w, fail := desired(ctx, c, &ManagedArgs{Source: []string{a.Source}, SourceHash: a.SourceHash, SourceHashName: a.SourceHashName,
		SkipVerify: a.SkipVerify, Template: a.Template, Context: a.Context, Defaults: a.Defaults}, []source{src})
	if fail != "" {
		return states.Failed(fail, nil)
	}
	work, err := os.MkdirTemp("", "brine-patch-")
	if err != nil {
		return states.Failedf("Unable to make a temporary directory for the patch: %v", err)
	}
	defer os.RemoveAll(work)
	patchFile := filepath.Join(work, "patch")
	if err := os.WriteFile(patchFile, w.data, 0o600); err != nil {
		return states.Failedf("Unable to write the patch to a temporary file: %v", err)
	}
	if _, err := runPatch(ctx, name, fi.IsDir(), patchFile, append(slices.Clone(opts), "--reverse", "--dry-run")); err == nil {
		return states.Succeeded("Patch was already applied", nil)
	} else if errors.Is(err, exec.ErrNotFound) {
		return states.Failed("file.patch needs the patch tool (Debian package patch)", nil)
	}
	// As Salt, try the patch on a copy first: it shows what fails (and
	// writes the rejects to reject_file) while name stays as it is.
	copyPath := filepath.Join(work, "copy")
	if fi.IsDir() {
		err = copyTree(ctx, name, copyPath, false)
	} else {
		err = copyOne(ctx, name, copyPath, fi, false)
	}
	if err != nil {
		return states.Failedf("Unable to copy %s to try the patch on: %v", name, err)
	}
	out, err := runPatch(ctx, copyPath, fi.IsDir(), patchFile, opts)
	out = strings.ReplaceAll(out, copyPath, name)
	if err != nil {
		comment := "Patch would not apply cleanly, no changes made. Results of dry-run are below."
		if a.RejectFile == "" {
			comment += " Run state again using the reject_file option to save rejects to a persistent file."
		}
		return states.Failed(comment+"\n"+out, nil)
	}
	if c.Test {
		return states.WouldChange("The patch would be applied", map[string]any{"stdout": out})
	}
	if out, err = runPatch(ctx, name, fi.IsDir(), patchFile, opts); err != nil {
		return states.Failed("Failed to apply patch\n"+out, map[string]any{"stdout": out})
	}
	return states.Succeeded("Patch successfully applied", map[string]any{"stdout": out})
}

// runPatch runs patch on name (a directory: -d name) with the patch file
// and options, not looking for a reversed patch (--forward); it returns
// the output, and an error when patch fails. Its standard input is
// empty, so it cannot wait for an answer.
func runPatch(ctx context.Context, name string, dir bool, patchFile string, opts []string) (string, error) {
	bin, err := exec.LookPath("patch")
	if err != nil {
		return "", err
	}
	args := append(opts, "--forward", "-i", patchFile)
	if dir {
		args = append(args, "-d", name)
	} else {
		args = append(args, name)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return strings.TrimRight(out.String(), "\n"), err
}
