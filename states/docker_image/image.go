// Package dockerimage provides the docker_image state module:
// docker_image.present builds (from a context directory of the state tree),
// loads (from a tarball) or pulls an image, and docker_image.absent removes
// one, through the Docker Engine API.
package dockerimage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("docker_image.present", states.Func[PresentArgs]{
		Doc: "Ensures the image name (with tag, default latest) is present. build: a context " +
			"directory (brine://dir or an absolute path) built with dockerfile and buildargs, " +
			"rebuilt whenever the context's content hash (files, dockerfile, buildargs) changed; " +
			"load: an image tarball (brine://file or an absolute path); otherwise the image is " +
			"pulled. force: True builds, loads or pulls even when the image is up to date. " +
			"client_timeout (default 30s).",
		Apply: present,
	})
	states.Register("docker_image.absent", states.Func[AbsentArgs]{
		Doc: "Ensures the image name (with tag, default latest) is not present; force: True " +
			"removes it even when containers use it. client_timeout.",
		Apply: absent,
	})
}

// PresentArgs are docker_image.present's arguments; the image is the
// state's name.
type PresentArgs struct {
	Tag           string            `arg:"tag"`
	Build         string            `arg:"build"`
	Dockerfile    string            `arg:"dockerfile"`
	BuildArgs     map[string]string `arg:"buildargs"`
	Load          string            `arg:"load"`
	Force         bool              `arg:"force"`
	ClientTimeout time.Duration     `arg:"client_timeout"`
}

// AbsentArgs are docker_image.absent's arguments.
type AbsentArgs struct {
	Tag           string        `arg:"tag"`
	Force         bool          `arg:"force"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

// inspect returns the image ref, or nil when it is not present.
func inspect(ctx context.Context, dc *dockerx.Client, ref string) (*image.InspectResponse, error) {
	res, err := dc.API.ImageInspect(ctx, ref)
	if dockerx.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return &res.InspectResponse, nil
}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	ref, err := dockerx.ImageRef(c.Name, a.Tag)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	if a.Build != "" && a.Load != "" {
		return states.Failed("give either build or load, not both", nil)
	}
	if a.Build == "" && (a.Dockerfile != "" || len(a.BuildArgs) > 0) {
		return states.Failed("dockerfile and buildargs need build", nil)
	}
	var hash, dir string
	if a.Build != "" {
		// Resolve and hash the context before touching the engine: a bad
		// context is the recipe's fault, whatever the engine's state.
		if dir, err = dockerx.ContextDir(ctx, c.Env, a.Build); err != nil {
			return states.Failed(err.Error(), nil)
		}
		if hash, err = dockerx.ContextHash(dir, buildInputs(a)...); err != nil {
			return states.Failed(err.Error(), nil)
		}
	}
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer dc.Close()
	have, err := inspect(ctx, dc, ref)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}

	verb := "pulled"
	switch {
	case a.Build != "":
		verb = "built"
	case a.Load != "":
		verb = "loaded"
	}
	why := reason(a, have, hash)
	if why == "" {
		return states.Succeeded(fmt.Sprintf("Image %s is present and up to date", ref), nil)
	}

	oldID := any(nil)
	if have != nil {
		oldID = dockerx.ShortID(have.ID)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Image %s would be %s: %s", ref, verb, why),
			map[string]any{"image": map[string]any{"old": oldID, "new": "(to be " + verb + ")"}})
	}
	var out string
	switch {
	case a.Build != "":
		out, err = dc.Build(ctx, dir, ref, dockerx.BuildOptions{Dockerfile: a.Dockerfile, BuildArgs: a.BuildArgs,
			Labels: map[string]string{dockerx.LabelContextHash: hash}})
	case a.Load != "":
		out, err = loadImage(ctx, dc, c.Env, a.Load)
	default:
		out, err = dc.Pull(ctx, ref)
	}
	if err != nil {
		return states.Failed(fmt.Sprintf("Image %s could not be %s: %v%s", ref, verb, err, tail(out)), nil)
	}
	now, err := inspect(ctx, dc, ref)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	if now == nil {
		return states.Failed(fmt.Sprintf("Image %s was %s, yet the engine does not know it; does %s hold it?", ref, verb, a.Load), nil)
	}
	if have != nil && have.ID == now.ID {
		return states.Succeeded(fmt.Sprintf("Image %s %s again, unchanged", ref, verb), nil)
	}
	if have != nil {
		// The previous image lost its tag; remove it unless a container or
		// another tag still holds it.
		if _, err := dc.API.ImageRemove(ctx, have.ID, client.ImageRemoveOptions{PruneChildren: true}); err != nil && c.Log != nil {
			c.Log.Debug("previous image kept", "image", have.ID, "err", err)
		}
	}
	return states.Succeeded(fmt.Sprintf("Image %s %s: %s", ref, verb, why),
		map[string]any{"image": map[string]any{"old": oldID, "new": dockerx.ShortID(now.ID)}})
}

// reason says why the image must be built, loaded or pulled; "" when it
// is up to date.
func reason(a *PresentArgs, have *image.InspectResponse, hash string) string {
	switch {
	case have == nil:
		return "it is not present"
	case a.Build != "" && (have.Config == nil || have.Config.Labels[dockerx.LabelContextHash] != hash):
		return "its build context changed"
	case a.Force:
		return "force is set"
	}
	return ""
}

// buildInputs are the inputs of a build besides the context's files.
func buildInputs(a *PresentArgs) []string {
	in := []string{"dockerfile=" + a.Dockerfile}
	for _, k := range slices.Sorted(maps.Keys(a.BuildArgs)) {
		in = append(in, "buildarg "+k+"="+a.BuildArgs[k])
	}
	return in
}

func loadImage(ctx context.Context, dc *dockerx.Client, env states.Env, src string) (string, error) {
	var r io.Reader
	switch {
	case strings.HasPrefix(src, "salt://") || strings.HasPrefix(src, "brine://"):
		if env == nil {
			return "", fmt.Errorf("%s: no state tree to read from", src)
		}
		b, err := env.Source(ctx, src)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", src, err)
		}
		r = bytes.NewReader(b)
	case filepath.IsAbs(src):
		f, err := os.Open(src)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	default:
		return "", fmt.Errorf("load %q: expected brine://…, salt://… or an absolute path", src)
	}
	return dc.Load(ctx, r)
}

// tail is the end of the engine's output, for a failure's comment.
func tail(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return ""
	}
	return "\n" + strings.Join(lines[max(0, len(lines)-10):], "\n")
}

func absent(ctx context.Context, c *states.Call, a *AbsentArgs) states.Outcome {
	ref, err := dockerx.ImageRef(c.Name, a.Tag)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer dc.Close()
	have, err := inspect(ctx, dc, ref)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	if have == nil {
		return states.Succeeded(fmt.Sprintf("Image %s is not present", ref), nil)
	}
	changes := map[string]any{"image": map[string]any{"old": dockerx.ShortID(have.ID), "new": nil}}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Image %s would be removed", ref), changes)
	}
	if _, err := dc.API.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: a.Force, PruneChildren: true}); err != nil {
		return states.Failed(fmt.Sprintf("Image %s could not be removed: %v", ref, err), nil)
	}
	return states.Succeeded(fmt.Sprintf("Image %s removed", ref), changes)
}
