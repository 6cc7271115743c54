package dockerx

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LabelContextHash is the image label holding the content hash of the
// build context an image was built from, so that docker_image.present
// rebuilds exactly when the context changed.
const LabelContextHash = "brine.context-hash"

// SourceDirer is implemented by a states.Env whose state tree can serve a
// whole directory as a local path (a build context such as "brine://api").
type SourceDirer interface {
	SourceDir(ctx context.Context, url string) (string, error)
}

// ContextDir resolves a build context to a local directory: a salt:// or
// brine:// URL through env when it can serve directories, or a local
// absolute path.
func ContextDir(ctx context.Context, env any, url string) (string, error) {
	if strings.HasPrefix(url, "salt://") || strings.HasPrefix(url, "brine://") {
		sd, ok := env.(SourceDirer)
		if !ok {
			return "", fmt.Errorf("build context %s: this state tree cannot serve directories; give an absolute path", url)
		}
		dir, err := sd.SourceDir(ctx, url)
		if err != nil {
			return "", fmt.Errorf("build context %s: %w", url, err)
		}
		return dir, nil
	}
	if !filepath.IsAbs(url) {
		return "", fmt.Errorf("build context %q: expected brine://…, salt://… or an absolute path", url)
	}
	fi, err := os.Stat(url)
	if err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("build context %s is not a directory", url)
	}
	return url, nil
}

// ContextHash hashes a build context: every file's path, type, mode,
// link target and content, plus the extra strings (Dockerfile name, build
// arguments) that change what a build produces. Modification times do not
// count, so a fresh checkout of the same tree hashes the same.
func ContextHash(dir string, extra ...string) (string, error) {
	h := sha256.New()
	for _, e := range extra {
		fmt.Fprintf(h, "extra %q\n", e)
	}
	err := walkContext(dir, func(rel string, info fs.FileInfo, path string) error {
		fmt.Fprintf(h, "%q %s\n", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", target)
		case info.Mode().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			fh := sha256.New()
			if _, err := io.Copy(fh, f); err != nil {
				return err
			}
			fmt.Fprintf(h, "%x\n", fh.Sum(nil))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash build context %s: %w", dir, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// TarContext streams dir as the tar archive the engine's build endpoint
// reads. The caller closes the reader; a walk error surfaces as a read error.
func TarContext(dir string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := walkContext(dir, func(rel string, info fs.FileInfo, path string) error {
			link := ""
			if info.Mode()&fs.ModeSymlink != 0 {
				var err error
				if link, err = os.Readlink(path); err != nil {
					return err
				}
			}
			hdr, err := tar.FileInfoHeader(info, link)
			if err != nil {
				return err
			}
			hdr.Name = rel
			if info.IsDir() {
				hdr.Name += "/"
			}
			hdr.Uname, hdr.Gname = "", ""
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		})
		if err == nil {
			err = tw.Close()
		}
		if err != nil {
			err = fmt.Errorf("archive build context %s: %w", dir, err)
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// walkContext visits every entry below dir but dir itself, in lexical
// order, with its slash-separated path relative to dir.
func walkContext(dir string, fn func(rel string, info fs.FileInfo, path string) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := fn(filepath.ToSlash(rel), info, path); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	})
}
