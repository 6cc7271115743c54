package testrun

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dirlock"
	"github.com/brinecm/brine/pkg/dockerx"
)

// imageLabel marks the images EnsureImage builds, with their suite.
const imageLabel = "io.brine.test.image"

// DefaultImageRepo is the repository of the images EnsureImage builds.
const DefaultImageRepo = "brine/test-debian"

// DefaultImage returns the tag of the image EnsureImage builds for a
// Debian suite: "brine/test-debian:bookworm".
func DefaultImage(suite string) string { return DefaultImageRepo + ":" + suite }

// AptSource is a Debian mirror and the suite to build from it.
type AptSource struct {
	URI   string // http://deb.debian.org/debian
	Suite string // bookworm
}

// HostSource reads the host's apt sources under root ("/" for the host):
// /etc/apt/sources.list, sources.list.d/*.list (one-line format) and
// sources.list.d/*.sources (deb822), and returns the first binary ("deb")
// source of the host's release (VERSION_CODENAME of /etc/os-release) with
// the main component; without a codename, the first source of a suite
// that is no -updates, -security or -backports pocket.
func HostSource(root string) (AptSource, error) {
	codename := osCodename(root)
	var all []AptSource
	files := []string{filepath.Join(root, "etc/apt/sources.list")}
	for _, pat := range []string{"*.list", "*.sources"} {
		m, _ := filepath.Glob(filepath.Join(root, "etc/apt/sources.list.d", pat))
		slices.Sort(m)
		files = append(files, m...)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return AptSource{}, fmt.Errorf("read apt sources: %w", err)
		}
		if strings.HasSuffix(f, ".sources") {
			all = append(all, parseDeb822(src)...)
		} else {
			all = append(all, parseOneLine(src)...)
		}
	}
	for _, s := range all {
		if codename != "" && s.Suite == codename {
			return s, nil
		}
	}
	for _, s := range all {
		if codename == "" && !strings.Contains(s.Suite, "-") && !strings.Contains(s.Suite, "/") {
			return s, nil
		}
	}
	rel := codename
	if rel == "" {
		rel = "the host's release"
	}
	return AptSource{}, fmt.Errorf("no apt source for %s with component main in %s/etc/apt/sources.list(.d): "+
		"add one (deb http://deb.debian.org/debian %s main), or give --image an image that has a shell, dpkg and apt",
		rel, strings.TrimSuffix(root, "/"), cmpOr(codename, "SUITE"))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// osCodename is VERSION_CODENAME of root's os-release, or "".
func osCodename(root string) string {
	for _, f := range []string{"etc/os-release", "usr/lib/os-release"} {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(src)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "VERSION_CODENAME="); ok {
				return strings.Trim(v, `"'`)
			}
		}
		return ""
	}
	return ""
}

// parseOneLine reads "deb [options] URI SUITE COMPONENT..." lines.
func parseOneLine(src []byte) []AptSource {
	var out []AptSource
	for line := range strings.Lines(string(src)) {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // options: [arch=amd64 signed-by=...]
			i := slices.IndexFunc(f, func(s string) bool { return strings.HasSuffix(s, "]") })
			if i < 0 {
				continue
			}
			f = f[i+1:]
		}
		if len(f) >= 3 && slices.Contains(f[2:], "main") {
			out = append(out, AptSource{URI: f[0], Suite: f[1]})
		}
	}
	return out
}

// parseDeb822 reads deb822 stanzas: Types, URIs, Suites, Components,
// Enabled.
func parseDeb822(src []byte) []AptSource {
	var out []AptSource
	flush := func(st map[string]string) {
		if !slices.Contains(strings.Fields(st["types"]), "deb") || strings.EqualFold(st["enabled"], "no") ||
			!slices.Contains(strings.Fields(st["components"]), "main") {
			return
		}
		for _, uri := range strings.Fields(st["uris"]) {
			for _, suite := range strings.Fields(st["suites"]) {
				out = append(out, AptSource{URI: uri, Suite: suite})
			}
		}
	}
	st := map[string]string{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush(st)
			st, last = map[string]string{}, ""
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t': // a continuation line
			if last != "" {
				st[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if ok {
				last = strings.ToLower(strings.TrimSpace(k))
				st[last] = strings.TrimSpace(v)
			}
		}
	}
	flush(st)
	return out
}

// ImageOptions configure EnsureImage.
type ImageOptions struct {
	DataDir string // where the build lock, the package cache and the temporary root file system go
	Root    string // the host's root, for its apt sources; "" is "/"
	Ref     string // the tag to build; "" is DefaultImage(suite)
	Log     *slog.Logger
}

// buildLockWait is how long EnsureImage waits for another process that is
// building the same image.
const buildLockWait = 30 * time.Minute

// EnsureImage returns the default test image, brine/test-debian:<suite>
// for the host's suite (o.Ref when set), building it first when the Docker
// engine does not have it: a minimal Debian (debootstrap --variant=minbase)
// from the host's apt mirror, imported as an image. The image store is the
// cache: later runs reuse the image, and the default tag is put on an image
// of the suite built under another tag rather than building it again. debootstrap is installed with apt-get when
// it is missing and brine runs as root.
func EnsureImage(ctx context.Context, dc *dockerx.Client, o ImageOptions) (string, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	src, err := HostSource(o.Root)
	if err != nil {
		return "", err
	}
	ref := o.Ref
	if ref == "" {
		ref = DefaultImage(src.Suite)
	}
	reuse := o.Ref == "" // the default tag may name an image brine built under another tag
	if ok, err := hasImage(ctx, dc, ref); err != nil || ok {
		return ref, err
	}
	dir := filepath.Join(o.DataDir, "test-images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("make the image build directory: %w", err)
	}
	// The packages debootstrap downloads are kept: a rebuild (a new tag,
	// an image someone removed) reads them from here, not the mirror.
	debs, err := filepath.Abs(filepath.Join(dir, src.Suite+".debs"))
	if err == nil {
		err = os.MkdirAll(debs, 0o700)
	}
	if err != nil {
		return "", fmt.Errorf("make the package cache directory: %w", err)
	}
	lock, err := dirlock.Acquire(ctx, filepath.Join(dir, src.Suite+".lock"), buildLockWait)
	if err != nil {
		return "", fmt.Errorf("lock the build of %s: %w", ref, err)
	}
	defer func() {
		if err := lock.Release(); err != nil {
			o.Log.Warn("release the image build lock", "err", err)
		}
	}()
	if ok, err := hasImage(ctx, dc, ref); err != nil || ok { // built while we waited
		return ref, err
	}
	if reuse {
		if ok, err := tagBuilt(ctx, dc, src.Suite, ref); err != nil || ok {
			return ref, err
		}
	}
	deboot, err := debootstrap(ctx, o.Log)
	if err != nil {
		return "", err
	}
	rootfs, err := os.MkdirTemp(dir, src.Suite+".rootfs-")
	if err != nil {
		return "", fmt.Errorf("make the root file system directory: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(rootfs); err != nil {
			o.Log.Warn("remove the temporary root file system", "dir", rootfs, "err", err)
		}
	}()
	o.Log.Info("building the test image (once; a few minutes)", "image", ref, "mirror", src.URI)
	cmd := exec.CommandContext(ctx, deboot, "--variant=minbase", "--cache-dir="+debs, src.Suite, rootfs, src.URI)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("build %s: %w", ref, context.Cause(ctx))
		}
		return "", fmt.Errorf("build %s: debootstrap --variant=minbase %s from %s: %w\n%s", ref, src.Suite, src.URI, err, lastLines(out.String(), 15))
	}
	if err := importRootfs(ctx, dc, rootfs, ref, src); err != nil {
		return "", err
	}
	o.Log.Info("test image built", "image", ref)
	return ref, nil
}

func hasImage(ctx context.Context, dc *dockerx.Client, ref string) (bool, error) {
	_, err := dc.API.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case dockerx.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("look for image %s: %w", ref, err)
}

// tagBuilt tags as ref an image of the suite that EnsureImage built under
// another tag (it carries the label io.brine.test.image=<suite>), and
// reports whether there was one.
func tagBuilt(ctx context.Context, dc *dockerx.Client, suite, ref string) (bool, error) {
	list, err := dc.API.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", imageLabel+"="+suite)})
	if err != nil {
		return false, fmt.Errorf("look for a built %s image: %w", suite, err)
	}
	if len(list.Items) == 0 {
		return false, nil
	}
	if _, err := dc.API.ImageTag(ctx, client.ImageTagOptions{Source: list.Items[0].ID, Target: ref}); err != nil {
		return false, fmt.Errorf("tag image %s as %s: %w", dockerx.ShortID(list.Items[0].ID), ref, err)
	}
	return true, nil
}

// debootstrap finds debootstrap, installing it with apt-get when it is
// missing and this process is root.
func debootstrap(ctx context.Context, log *slog.Logger) (string, error) {
	if p, err := exec.LookPath("debootstrap"); err == nil {
		return p, nil
	}
	const how = "install it (apt-get install debootstrap), or give --image an image that has a shell, dpkg and apt"
	apt, err := exec.LookPath("apt-get")
	if os.Geteuid() != 0 || err != nil {
		return "", errors.New("building the default test image needs debootstrap, which is not installed: " + how)
	}
	log.Info("installing debootstrap with apt-get")
	cmd := exec.CommandContext(ctx, apt, "install", "-y", "-q", "debootstrap")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get install debootstrap: %w\n%s\n(%s)", err, lastLines(string(out), 10), how)
	}
	p, err := exec.LookPath("debootstrap")
	if err != nil {
		return "", errors.New("debootstrap is still not on PATH after apt-get installed it: " + how)
	}
	return p, nil
}

// importRootfs streams a tar of the root file system into the engine as
// image ref.
func importRootfs(ctx context.Context, dc *dockerx.Client, rootfs, ref string, src AptSource) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarRootfs(rootfs, pw)) }()
	defer pr.Close()
	res, err := dc.Slow.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, ref, client.ImageImportOptions{
		Message: "brine test run: debootstrap --variant=minbase " + src.Suite + " " + src.URI,
		Changes: []string{`CMD ["/bin/bash"]`, "LABEL " + imageLabel + "=" + src.Suite},
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	defer res.Close()
	if _, err := dockerx.ReadStream(res); err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	return nil
}

// tarRootfs writes a tar of the directory dir as a root file system:
// numeric owners, modes, symbolic and hard links, device nodes.
func tarRootfs(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	links := map[uint64]string{} // inode: first path, for hard links
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if info.Mode()&(fs.ModeSocket|fs.ModeNamedPipe) != 0 && info.Mode()&fs.ModeDevice == 0 {
			return nil
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		h.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		if st, ok := info.Sys().(*syscall.Stat_t); ok && info.Mode().IsRegular() && st.Nlink > 1 {
			if first, seen := links[st.Ino]; seen {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			} else {
				links[st.Ino] = h.Name
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pack the root file system: %w", err)
	}
	return tw.Close()
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
