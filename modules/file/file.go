// Package file provides the read-only checks of Salt's file execution
// module that tests and formulas use most: file.file_exists,
// file.directory_exists, file.contains, file.search, file.get_mode,
// file.get_user and file.get_group, and the path helpers file.dirname and
// file.basename.
package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/brinecm/brine/modules"
)

type pathArgs struct {
	Path string `arg:"path,required"`
}

type containsArgs struct {
	Path string `arg:"path,required"`
	Text string `arg:"text,required"`
}

type searchArgs struct {
	Path            string `arg:"path,required"`
	Pattern         string `arg:"pattern,required"`
	Multiline       bool   `arg:"multiline"`
	IgnoreIfMissing bool   `arg:"ignore_if_missing"`
}

// maxRead bounds how much of a file contains and search read.
const maxRead = 64 << 20

func init() {
	modules.Register("file.dirname", modules.Func[pathArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Return the directory part of path, as Python's os.path.dirname (no file system access).",
		Params:   []string{"path"},
		Call: func(_ context.Context, _ *modules.Runtime, a *pathArgs) (any, error) {
			return Dirname(a.Path), nil
		},
	})
	modules.Register("file.basename", modules.Func[pathArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "Return the last part of path, as Python's os.path.basename ('' after a trailing slash).",
		Params:   []string{"path"},
		Call: func(_ context.Context, _ *modules.Runtime, a *pathArgs) (any, error) {
			return a.Path[strings.LastIndexByte(a.Path, '/')+1:], nil
		},
	})
	modules.Register("file.file_exists", modules.Func[pathArgs]{
		ReadOnly: true,
		Doc:      "Return True when path is a regular file (after symlinks).",
		Params:   []string{"path"},
		Call: func(_ context.Context, _ *modules.Runtime, a *pathArgs) (any, error) {
			fi, err := os.Stat(a.Path)
			return err == nil && fi.Mode().IsRegular(), nil
		},
	})
	modules.Register("file.directory_exists", modules.Func[pathArgs]{
		ReadOnly: true,
		Doc:      "Return True when path is a directory (after symlinks).",
		Params:   []string{"path"},
		Call: func(_ context.Context, _ *modules.Runtime, a *pathArgs) (any, error) {
			fi, err := os.Stat(a.Path)
			return err == nil && fi.IsDir(), nil
		},
	})
	modules.Register("file.contains", modules.Func[containsArgs]{
		ReadOnly: true,
		Doc:      "Return True when the file holds text; False when it does not, or does not exist.",
		Params:   []string{"path", "text"},
		Call: func(_ context.Context, _ *modules.Runtime, a *containsArgs) (any, error) {
			b, err := read(a.Path)
			if errors.Is(err, fs.ErrNotExist) {
				return false, nil
			}
			if err != nil {
				return nil, err
			}
			return bytes.Contains(b, []byte(a.Text)), nil
		},
	})
	modules.Register("file.search", modules.Func[searchArgs]{
		ReadOnly: true,
		Doc: "Return True when the regular expression pattern matches the file's content " +
			"(multiline=True: ^ and $ match at each line); a missing file is an error unless ignore_if_missing=True.",
		Params: []string{"path", "pattern"},
		Call: func(_ context.Context, _ *modules.Runtime, a *searchArgs) (any, error) {
			expr := a.Pattern
			if a.Multiline {
				expr = "(?m)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("pattern %q is not a valid regular expression: %w", a.Pattern, err)
			}
			b, err := read(a.Path)
			if errors.Is(err, fs.ErrNotExist) && a.IgnoreIfMissing {
				return false, nil
			}
			if err != nil {
				return nil, err
			}
			return re.Match(b), nil
		},
	})
	modules.Register("file.get_mode", modules.Func[pathArgs]{
		ReadOnly: true,
		Doc:      "Return the permission bits of path as Salt does: '0644' (setuid, setgid and sticky in the first digit).",
		Params:   []string{"path"},
		Call: func(_ context.Context, _ *modules.Runtime, a *pathArgs) (any, error) {
			st, err := stat(a.Path)
			if err != nil {
				return nil, err
			}
			return fmt.Sprintf("%04o", st.Mode&0o7777), nil
		},
	})
	modules.Register("file.get_user", modules.Func[pathArgs]{
		ReadOnly: true,
		Doc:      "Return the name of the user that owns path (its uid when the user has no name).",
		Params:   []string{"path"},
		Call: func(_ context.Context, _ *modules.Runtime, a *pathArgs) (any, error) {
			st, err := stat(a.Path)
			if err != nil {
				return nil, err
			}
			id := strconv.FormatUint(uint64(st.Uid), 10)
			if u, err := user.LookupId(id); err == nil {
				return u.Username, nil
			}
			return id, nil
		},
	})
	modules.Register("file.get_group", modules.Func[pathArgs]{
		ReadOnly: true,
		Doc:      "Return the name of the group that owns path (its gid when the group has no name).",
		Params:   []string{"path"},
		Call: func(_ context.Context, _ *modules.Runtime, a *pathArgs) (any, error) {
			st, err := stat(a.Path)
			if err != nil {
				return nil, err
			}
			id := strconv.FormatUint(uint64(st.Gid), 10)
			if g, err := user.LookupGroupId(id); err == nil {
				return g.Name, nil
			}
			return id, nil
		},
	})
}

// stat returns the owner and mode of path, after symlinks.
func stat(path string) (*syscall.Stat_t, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("path not found or not readable: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("%s: no owner information on this platform", path)
	}
	return st, nil
}

// read returns a regular file's content, up to maxRead bytes.
func read(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", path)
	}
	if fi.Size() > maxRead {
		return nil, fmt.Errorf("read %s: %d bytes, over the %d-byte limit of file checks", path, fi.Size(), maxRead)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// Dirname is Python's os.path.dirname: everything before the last '/',
// without trailing slashes unless it is only slashes.
func Dirname(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	head := p[:i+1]
	if trimmed := strings.TrimRight(head, "/"); trimmed != "" {
		return trimmed
	}
	return head
}
