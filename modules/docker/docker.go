// Package docker provides the docker execution module: docker.ps,
// docker.inspect, docker.logs, docker.images, docker.pull, docker.build
// and docker.restart, through the Docker Engine API.
package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/dockerx"
)

type psArgs struct {
	All           bool          `arg:"all"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

type nameArgs struct {
	Name          string        `arg:"name,required"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

type logsArgs struct {
	Name          string        `arg:"name,required"`
	Tail          any           `arg:"tail"`
	Timestamps    bool          `arg:"timestamps"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

type imagesArgs struct {
	All           bool          `arg:"all"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

type pullArgs struct {
	Image         string        `arg:"image,required"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

type buildArgs struct {
	Path          string            `arg:"path,required"`
	Repository    string            `arg:"repository,required"`
	Tag           string            `arg:"tag"`
	Dockerfile    string            `arg:"dockerfile"`
	BuildArgs     map[string]string `arg:"buildargs"`
	ClientTimeout time.Duration     `arg:"client_timeout"`
}

type restartArgs struct {
	Name          string        `arg:"name,required"`
	Timeout       time.Duration `arg:"timeout"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

func init() {
	modules.Register("docker.ps", modules.Func[psArgs]{
		ReadOnly: true,
		Doc:      "List the running containers (all: True for every container), keyed by name.",
		Call:     ps,
	})
	modules.Register("docker.inspect", modules.Func[nameArgs]{
		ReadOnly: true,
		Doc:      "Return the engine's description of the container, image, network or volume called name.",
		Params:   []string{"name"},
		Call:     inspect,
	})
	modules.Register("docker.logs", modules.Func[logsArgs]{
		ReadOnly: true,
		Doc:      "Return a container's output (stdout and stderr); tail: the last N lines; timestamps.",
		Params:   []string{"name"},
		Call:     logs,
	})
	modules.Register("docker.images", modules.Func[imagesArgs]{
		ReadOnly: true,
		Doc:      "List the images (all: True includes intermediate ones), keyed by short ID.",
		Call:     images,
	})
	modules.Register("docker.pull", modules.Func[pullArgs]{
		Doc:    "Pull an image from its registry; returns its ID and the engine's output.",
		Params: []string{"image"},
		Call:   pull,
	})
	modules.Register("docker.build", modules.Func[buildArgs]{
		Doc: "Build the context directory path (absolute, or brine://dir from the file roots) as " +
			"repository:tag (default latest) with dockerfile and buildargs; returns the image ID and output.",
		Params: []string{"path", "repository"},
		Call:   buildImage,
	})
	modules.Register("docker.restart", modules.Func[restartArgs]{
		Doc:    "Restart a container, giving it timeout (default 10s) to stop; returns its new state.",
		Params: []string{"name"},
		Call:   restart,
	})
}

func ps(ctx context.Context, _ *modules.Runtime, a *psArgs) (any, error) {
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	res, err := dc.API.ContainerList(ctx, client.ContainerListOptions{All: a.All})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := map[string]any{}
	for _, c := range res.Items {
		name := dockerx.ShortID(c.ID)
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		var ports []string
		for _, p := range c.Ports {
			if p.PublicPort != 0 {
				ports = append(ports, fmt.Sprintf("%s:%d->%d/%s", p.IP, p.PublicPort, p.PrivatePort, p.Type))
			}
		}
		sort.Strings(ports)
		out[name] = map[string]any{
			"id": dockerx.ShortID(c.ID), "image": c.Image, "command": c.Command,
			"state": string(c.State), "status": c.Status, "labels": c.Labels, "ports": ports,
			"created": time.Unix(c.Created, 0).UTC().Format(time.RFC3339),
		}
	}
	return out, nil
}

// asMap turns an engine answer into plain data, as the engine sent it.
func asMap(raw []byte, v any) (map[string]any, error) {
	if len(raw) == 0 {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode engine answer: %w", err)
	}
	return out, nil
}

func inspect(ctx context.Context, _ *modules.Runtime, a *nameArgs) (any, error) {
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	if res, err := dc.API.ContainerInspect(ctx, a.Name, client.ContainerInspectOptions{}); err == nil {
		return asMap(res.Raw, res.Container)
	} else if !dockerx.IsNotFound(err) {
		return nil, fmt.Errorf("inspect %s: %w", a.Name, err)
	}
	if res, err := dc.API.ImageInspect(ctx, a.Name); err == nil {
		return asMap(nil, res.InspectResponse)
	} else if !dockerx.IsNotFound(err) {
		return nil, fmt.Errorf("inspect %s: %w", a.Name, err)
	}
	if res, err := dc.API.NetworkInspect(ctx, a.Name, client.NetworkInspectOptions{}); err == nil {
		return asMap(res.Raw, res.Network)
	} else if !dockerx.IsNotFound(err) {
		return nil, fmt.Errorf("inspect %s: %w", a.Name, err)
	}
	if res, err := dc.API.VolumeInspect(ctx, a.Name, client.VolumeInspectOptions{}); err == nil {
		return asMap(res.Raw, res.Volume)
	} else if !dockerx.IsNotFound(err) {
		return nil, fmt.Errorf("inspect %s: %w", a.Name, err)
	}
	return nil, fmt.Errorf("no container, image, network or volume is called %s", a.Name)
}

func logs(ctx context.Context, _ *modules.Runtime, a *logsArgs) (any, error) {
	tail := "all"
	switch t := a.Tail.(type) {
	case nil:
	case int:
		tail = strconv.Itoa(t)
	case string:
		tail = t
	default:
		return nil, fmt.Errorf("tail: expected a number of lines or \"all\"")
	}
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	info, err := dc.API.ContainerInspect(ctx, a.Name, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", a.Name, err)
	}
	r, err := dc.API.ContainerLogs(ctx, a.Name, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: tail, Timestamps: a.Timestamps,
	})
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", a.Name, err)
	}
	defer r.Close()
	var out bytes.Buffer
	if info.Container.Config != nil && info.Container.Config.Tty {
		_, err = out.ReadFrom(r)
	} else {
		_, err = stdcopy.StdCopy(&out, &out, r)
	}
	if err != nil {
		return nil, fmt.Errorf("read logs of %s: %w", a.Name, err)
	}
	return out.String(), nil
}

func images(ctx context.Context, _ *modules.Runtime, a *imagesArgs) (any, error) {
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	res, err := dc.API.ImageList(ctx, client.ImageListOptions{All: a.All})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := map[string]any{}
	for _, img := range res.Items {
		tags := img.RepoTags
		if tags == nil {
			tags = []string{}
		}
		out[dockerx.ShortID(img.ID)] = map[string]any{
			"tags": tags, "size": img.Size, "labels": img.Labels,
			"created": time.Unix(img.Created, 0).UTC().Format(time.RFC3339),
		}
	}
	return out, nil
}

func pull(ctx context.Context, _ *modules.Runtime, a *pullArgs) (any, error) {
	ref := a.Image
	if !dockerx.HasTag(ref) {
		ref += ":latest"
	}
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	output, err := dc.Pull(ctx, ref)
	if err != nil {
		return nil, err
	}
	return imageResult(ctx, dc, ref, output)
}

func imageResult(ctx context.Context, dc *dockerx.Client, ref, output string) (any, error) {
	res, err := dc.API.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return map[string]any{"image": ref, "id": dockerx.ShortID(res.ID), "output": output}, nil
}

// contextDir resolves a build context: an absolute directory, or a
// brine:// or salt:// directory of the minion's file roots.
func contextDir(rt *modules.Runtime, path string) (string, error) {
	rest, ok := strings.CutPrefix(path, "brine://")
	if !ok {
		rest, ok = strings.CutPrefix(path, "salt://")
	}
	if !ok {
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("path %q: expected brine://…, salt://… or an absolute path", path)
		}
		return path, nil
	}
	if rt != nil {
		for _, root := range rt.FileRoots {
			dir := filepath.Join(root, filepath.FromSlash(filepath.Clean("/"+rest)))
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				return dir, nil
			}
		}
	}
	return "", fmt.Errorf("path %s: no such directory in the file roots", path)
}

func buildImage(ctx context.Context, rt *modules.Runtime, a *buildArgs) (any, error) {
	dir, err := contextDir(rt, a.Path)
	if err != nil {
		return nil, err
	}
	ref, err := dockerx.ImageRef(a.Repository, a.Tag)
	if err != nil {
		return nil, err
	}
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	output, err := dc.Build(ctx, dir, ref, dockerx.BuildOptions{Dockerfile: a.Dockerfile, BuildArgs: a.BuildArgs})
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, output)
	}
	return imageResult(ctx, dc, ref, output)
}

func restart(ctx context.Context, _ *modules.Runtime, a *restartArgs) (any, error) {
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	secs := int(timeout.Round(time.Second) / time.Second)
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	if _, err := dc.Slow.ContainerRestart(ctx, a.Name, client.ContainerRestartOptions{Timeout: &secs}); err != nil {
		return nil, fmt.Errorf("restart %s: %w", a.Name, err)
	}
	res, err := dc.API.ContainerInspect(ctx, a.Name, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", a.Name, err)
	}
	return map[string]any{"restarted": true, "state": string(res.Container.State.Status),
		"started_at": res.Container.State.StartedAt}, nil
}
