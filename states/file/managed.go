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
	"strings"
	"syscall"

	"github.com/brinecm/brine/pkg/diff"
	"github.com/brinecm/brine/states"
)

// ManagedArgs are file.managed's arguments.
type ManagedArgs struct {
	Source          []string       `arg:"source"` // URLs; the first that exists wins
	Contents        any            `arg:"contents"`
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
}

func managed(ctx context.Context, c *states.Call, a *ManagedArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if len(a.Source) > 0 && a.Contents != nil {
		return states.Failed("'source' cannot be used in combination with 'contents'", nil)
	}
	p, fail := resolvePerms(a.User, a.Group, a.Mode)
	if fail != "" {
		return states.Failed(fail, nil)
	}

	fd, st, err := openFile(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return managedNew(ctx, c, a, p)
	case err != nil:
		return states.Failedf("Unable to open %s: %v", name, err)
	}
	defer syscall.Close(fd)
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return states.Failedf("Specified target %s is a directory", name)
	}
	if !boolOr(a.Replace, true) {
		return managedPermsOnly(c, p, st)
	}

	want, haveWant, fail := desired(ctx, c, a)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	var old []byte
	contentDiffers := false
	if haveWant {
		old, err = readFile(fd, name, st.Size)
		if err != nil {
			return states.Failedf("Unable to read %s: %v", name, err)
		}
		contentDiffers = !bytes.Equal(old, want)
	}
	changes := p.diff(st, nil)
	if !contentDiffers && changes == nil {
		return states.Succeeded(fmt.Sprintf("File %s is in the correct state", name), nil)
	}
	if changes == nil {
		changes = map[string]any{}
	}
	if contentDiffers {
		changes["diff"] = contentDiff(old, want, boolOr(a.ShowChanges, true))
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("The file %s is set to be changed", name)+testNote, changes)
	}
	if contentDiffers {
		err = writeAtomic(ctx, name, want, keepSpec(st, p))
	} else {
		err = p.apply(name, st)
	}
	if err != nil {
		return states.Failedf("Unable to manage file %s: %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("File %s updated", name), changes)
}

// managedNew creates a file that does not exist yet.
func managedNew(ctx context.Context, c *states.Call, a *ManagedArgs, p perms) states.Outcome {
	name := c.Name
	if !boolOr(a.Create, true) {
		return states.Succeeded(fmt.Sprintf("File %s is not present and is not set for creation", name), nil)
	}
	want, haveWant, fail := desired(ctx, c, a)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("The file %s is set to be changed", name)+testNote,
			map[string]any{"newfile": name})
	}
	dir := filepath.Dir(name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if !a.Makedirs {
			return states.Failed("Parent directory not present", nil)
		}
		if err := makeParents(dir, dirModeFor(a.DirMode, a.Mode), p.uid, p.gid); err != nil {
			return states.Failedf("Unable to create parent directories of %s: %v", name, err)
		}
	} else if err != nil {
		return states.Failedf("Unable to stat %s: %v", dir, err)
	}
	if err := writeAtomic(ctx, name, want, newSpec(p)); err != nil {
		return states.Failedf("Unable to manage file %s: %v", name, err)
	}
	changes := map[string]any{"diff": "New file"}
	comment := fmt.Sprintf("File %s updated", name)
	if !haveWant {
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
func managedPermsOnly(c *states.Call, p perms, st *syscall.Stat_t) states.Outcome {
	name := c.Name
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

// desired computes the wanted contents; haveWant is false when neither
// source nor contents is given. fail is a failure comment.
func desired(ctx context.Context, c *states.Call, a *ManagedArgs) (want []byte, haveWant bool, fail string) {
	switch {
	case a.Contents != nil:
		s, err := contentsString(a.Contents)
		if err != nil {
			return nil, false, err.Error()
		}
		want = []byte(s)
		if a.Template != "" {
			if want, fail = render(ctx, c, a, c.Name, want); fail != "" {
				return nil, false, fail
			}
		}
		if boolOr(a.ContentsNewline, true) && len(want) > 0 && want[len(want)-1] != '\n' {
			want = append(want, '\n')
		}
		return want, true, ""
	case len(a.Source) > 0:
		if c.Env == nil {
			return nil, false, "No state tree is available to read " + strings.Join(a.Source, ", ")
		}
		for _, src := range a.Source {
			data, err := c.Env.Source(ctx, src)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, false, fmt.Sprintf("Unable to read source %s: %v", src, err)
			}
			if a.Template != "" {
				if data, fail = render(ctx, c, a, src, data); fail != "" {
					return nil, false, fail
				}
			}
			return data, true, ""
		}
		if len(a.Source) == 1 {
			return nil, false, fmt.Sprintf("Source file %s not found", a.Source[0])
		}
		return nil, false, "None of the specified sources were found: " + strings.Join(a.Source, ", ")
	}
	return nil, false, ""
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
	}
	return "", fmt.Errorf("expected text, got %T", v)
}

func render(ctx context.Context, c *states.Call, a *ManagedArgs, srcName string, src []byte) ([]byte, string) {
	if c.Env == nil {
		return nil, "No template renderer is available"
	}
	vars := make(map[string]any, len(a.Defaults)+len(a.Context))
	maps.Copy(vars, a.Defaults)
	maps.Copy(vars, a.Context)
	out, err := c.Env.Render(ctx, strings.ToLower(a.Template), srcName, src, vars)
	if err != nil {
		return nil, fmt.Sprintf("Unable to render %s as %s: %v", srcName, a.Template, err)
	}
	return out, ""
}

// openFile opens name for reading and returns its descriptor and status.
// It is os.Open and Stat in two system calls instead of five: a regular
// file gains nothing from the runtime's poller, which os.Open tries (and
// fails) to register it with.
func openFile(name string) (int, *syscall.Stat_t, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
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
