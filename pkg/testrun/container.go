package testrun

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/dockerx"
)

// Labels every container of a test run carries.
const (
	LabelRun    = "io.brine.test.run"    // the run's id: RemoveRun removes by it
	LabelOwner  = "io.brine.test.owner"  // "HOST/PID" of the brine process that started it
	LabelMinion = "io.brine.test.minion" // the minion fixture's id
)

// Where the tree, the configuration and the binary go in a container.
const (
	binaryPath = "/usr/local/bin/brine"
	configPath = "/etc/brine/minion"
	stateDir   = "/srv/brine/states"
	pillarDir  = "/srv/brine/pillar"
	dataDir    = "/var/lib/brine/minion"
)

// cleanupTimeout bounds removing containers after the run's context ended.
const cleanupTimeout = time.Minute

// box is one running test container.
type box struct {
	dc   *dockerx.Client
	id   string
	name string
}

// containerName is "brine-test-<minion>-<run>", with what Docker does not
// accept in a name replaced.
func containerName(run, minion string) string {
	return "brine-test-" + sanitize(minion, 40) + "-" + run
}

// sanitize keeps [a-zA-Z0-9_.-] of s, '-' for anything else, at most n
// bytes, never starting with a punctuation mark.
func sanitize(s string, n int) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	out := strings.TrimLeft(string(b), "_.-")
	if len(out) > n {
		out = out[:n]
	}
	if out == "" {
		out = "minion"
	}
	return out
}

// hostname makes a host name from a minion id: letters, digits and '-'.
func hostname(id string) string {
	h := strings.Trim(strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, id), "-")
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	if h == "" {
		h = "minion"
	}
	return h
}

// owner is the value of LabelOwner for this process.
func owner() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid())
}

// startContainer creates the minion's container, copies in the binary,
// the trees and the minion configuration, and starts it.
func startContainer(ctx context.Context, dc *dockerx.Client, m Minion, o Options) (*box, error) {
	network := o.Network
	if network == "" {
		network = "none"
	}
	name := containerName(o.RunID, m.ID)
	res, err := dc.API.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:      o.Image,
			Hostname:   hostname(m.ID),
			Entrypoint: []string{"sleep", "infinity"},
			Labels:     map[string]string{LabelRun: o.RunID, LabelOwner: owner(), LabelMinion: m.ID},
			Env:        []string{"NO_COLOR=1", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(network)},
	})
	if err != nil {
		return nil, fmt.Errorf("create container %s from %s: %w", name, o.Image, err)
	}
	b := &box{dc: dc, id: res.ID, name: name}
	content, err := payload(m, o)
	if err != nil {
		return b, err
	}
	if _, err := dc.API.CopyToContainer(ctx, b.id, client.CopyToContainerOptions{DestinationPath: "/", Content: content}); err != nil {
		return b, fmt.Errorf("copy brine and the tree into container %s: %w", name, err)
	}
	if _, err := dc.API.ContainerStart(ctx, b.id, client.ContainerStartOptions{}); err != nil {
		return b, fmt.Errorf("start container %s (the image needs sleep from coreutils): %w", name, err)
	}
	return b, nil
}

// remove force-removes the container, with a context of its own: it runs
// also when the run was interrupted.
func (b *box) remove(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := b.dc.API.ContainerRemove(cctx, b.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !dockerx.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", b.name, err)
	}
	return nil
}

// execResult is what a command run in the container gave.
type execResult struct {
	code           int
	stdout, stderr []byte
}

// exec runs cmd in the container and waits for it; ctx ending abandons it
// (removing the container kills it).
func (b *box) exec(ctx context.Context, cmd []string) (execResult, error) {
	cr, err := b.dc.API.ExecCreate(ctx, b.id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return execResult{}, fmt.Errorf("run %s in %s: %w", strings.Join(cmd[:min(len(cmd), 4)], " "), b.name, err)
	}
	att, err := b.dc.API.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return execResult{}, fmt.Errorf("run %s in %s: %w", strings.Join(cmd[:min(len(cmd), 4)], " "), b.name, err)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	var out, errOut bytes.Buffer
	_, cerr := stdcopy.StdCopy(&out, &errOut, att.Reader)
	if err := ctx.Err(); err != nil {
		return execResult{}, fmt.Errorf("run %s in %s: %w", strings.Join(cmd[:min(len(cmd), 4)], " "), b.name, context.Cause(ctx))
	}
	if cerr != nil {
		return execResult{}, fmt.Errorf("read the output of %s in %s: %w", cmd[0], b.name, cerr)
	}
	ins, err := b.dc.API.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
	if err != nil {
		return execResult{}, fmt.Errorf("exit status of %s in %s: %w", cmd[0], b.name, err)
	}
	return execResult{code: ins.ExitCode, stdout: out.Bytes(), stderr: errOut.Bytes()}, nil
}

// payload is the tar archive copied to the container's /: the brine
// binary, each file root and pillar root, and the minion configuration
// naming them, with the fixture's id and grains.
func payload(m Minion, o Options) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	mkdirs := func(p string) error {
		var parts []string
		for d := path.Dir(p); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parts = append(parts, d)
		}
		for i := len(parts) - 1; i >= 0; i-- {
			dirs[parts[i]] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: parts[i] + "/", Mode: 0o755}); err != nil {
				return err
			}
		}
		return nil
	}
	addFile := func(name string, mode int64, data []byte) error {
		if err := mkdirs(name); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("read the brine binary to copy into the containers: %w", err)
	}
	if err := addFile(strings.TrimPrefix(binaryPath, "/"), 0o755, bin); err != nil {
		return nil, fmt.Errorf("pack the brine binary: %w", err)
	}
	cfg := map[string]any{"id": m.ID, "data_dir": dataDir, "grains": m.Grains}
	var fileRoots, pillarRoots []string
	for i, root := range o.FileRoots {
		dst := fmt.Sprintf("%s/%d", stateDir, i)
		if err := addTree(tw, mkdirs, root, strings.TrimPrefix(dst, "/")); err != nil {
			return nil, err
		}
		fileRoots = append(fileRoots, dst)
	}
	for i, root := range o.PillarRoots {
		dst := fmt.Sprintf("%s/%d", pillarDir, i)
		if err := addTree(tw, mkdirs, root, strings.TrimPrefix(dst, "/")); err != nil {
			return nil, err
		}
		pillarRoots = append(pillarRoots, dst)
	}
	cfg["file_roots"], cfg["pillar_roots"] = fileRoots, pillarRoots
	if pillarRoots == nil {
		cfg["pillar_roots"] = []string{}
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("write the minion configuration of %s: %w", m.ID, err)
	}
	if err := addFile(strings.TrimPrefix(configPath, "/"), 0o644, y); err != nil {
		return nil, fmt.Errorf("pack the minion configuration: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack the tree: %w", err)
	}
	return &buf, nil
}

// addTree packs the directory root as dst: directories, regular files and
// symbolic links, owned by root; version control directories are left out.
func addTree(tw *tar.Writer, mkdirs func(string) error, root, dst string) error {
	if err := mkdirs(dst + "/x"); err != nil {
		return fmt.Errorf("pack %s: %w", root, err)
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".hg" || d.Name() == ".svn") {
			return filepath.SkipDir
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
		if !info.Mode().IsRegular() && !info.IsDir() && link == "" {
			return nil // sockets, pipes, devices have no place in a state tree
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = path.Join(dst, filepath.ToSlash(rel))
		if info.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "root", "root"
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
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
		return fmt.Errorf("pack the tree %s: %w", root, err)
	}
	return nil
}

// RemoveRun removes every container labelled with the run's id, running
// or not.
func RemoveRun(ctx context.Context, dc *dockerx.Client, run string) error {
	return removeWhere(ctx, dc, func(l map[string]string) bool { return l[LabelRun] == run }, LabelRun+"="+run)
}

// RemoveStale removes the test containers a brine process of this host
// started and left behind when it was killed (its pid is gone), and
// returns how many it removed.
func RemoveStale(ctx context.Context, dc *dockerx.Client) (int, error) {
	host, _ := os.Hostname()
	n := 0
	err := removeWhere(ctx, dc, func(l map[string]string) bool {
		h, pid, ok := strings.Cut(l[LabelOwner], "/")
		p, err := strconv.Atoi(pid)
		if !ok || err != nil || h != host || p <= 0 {
			return false
		}
		if errors.Is(syscall.Kill(p, 0), syscall.ESRCH) {
			n++
			return true
		}
		return false
	}, LabelRun)
	return n, err
}

// removeWhere force-removes the containers with the label filter whose
// labels match.
func removeWhere(ctx context.Context, dc *dockerx.Client, match func(map[string]string) bool, label string) error {
	list, err := dc.API.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)})
	if err != nil {
		return fmt.Errorf("list test containers: %w", err)
	}
	var errs []error
	for _, c := range list.Items {
		if !match(c.Labels) {
			continue
		}
		_, err := dc.API.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !dockerx.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", dockerx.ShortID(c.ID), err))
		}
	}
	return errors.Join(errs...)
}
