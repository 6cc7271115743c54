package dockerx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// ImageRef joins an image name and an optional tag into a reference:
// ("api", "2") is "api:2", ("api", "") is "api:latest", and a name that
// already carries a tag or digest is kept as is (then tag must be empty).
func ImageRef(name, tag string) (string, error) {
	if name == "" {
		return "", errors.New("image name is empty")
	}
	if HasTag(name) {
		if tag != "" {
			return "", fmt.Errorf("image %q already has a tag; do not also give tag %q", name, tag)
		}
		return name, nil
	}
	if tag == "" {
		tag = "latest"
	}
	return name + ":" + tag, nil
}

// HasTag reports whether an image reference names a tag or a digest
// ("api:2", "api@sha256:…"); a registry port ("host:5000/api") is not a tag.
func HasTag(ref string) bool {
	if strings.Contains(ref, "@") {
		return true
	}
	return strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":")
}

// ShortID shortens an image or container ID for people: "sha256:0123…" is
// "0123456789ab".
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ReadStream reads a JSON progress stream as the engine sends it while
// building, loading or pulling, and returns the text output (the "stream"
// and "status" lines). An error message in the stream is returned as an
// error, with the output so far.
func ReadStream(r io.Reader) (string, error) {
	var out strings.Builder
	dec := json.NewDecoder(r)
	for {
		var m struct {
			jsonstream.Message
			ErrorText string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out.String(), nil
			}
			return out.String(), fmt.Errorf("read engine progress: %w", err)
		}
		switch {
		case m.Error != nil && m.Error.Message != "":
			return out.String(), errors.New(m.Error.Message)
		case m.ErrorText != "":
			return out.String(), errors.New(m.ErrorText)
		case m.Stream != "":
			out.WriteString(m.Stream)
		case m.Status != "" && m.Progress == nil:
			if m.ID != "" {
				out.WriteString(m.ID + ": ")
			}
			out.WriteString(m.Status + "\n")
		}
	}
}

// Pull pulls ref from its registry and waits for the pull to finish; the
// error is the engine's own message.
func (c *Client) Pull(ctx context.Context, ref string) (string, error) {
	resp, err := c.Slow.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", ref, err)
	}
	defer resp.Close()
	out, err := ReadStream(resp)
	if err != nil {
		return out, fmt.Errorf("pull %s: %w", ref, err)
	}
	return out, nil
}

// BuildOptions are the inputs of an image build besides its context.
type BuildOptions struct {
	Dockerfile string            // relative to the context; "" is Dockerfile
	BuildArgs  map[string]string // ARG values
	Labels     map[string]string // labels added to the image
}

// Build builds the context directory dir as image ref with the classic
// builder (which every engine since API 1.24 has, and needs no session)
// and returns the build's output; a failed step is an error carrying the
// engine's message.
func (c *Client) Build(ctx context.Context, dir, ref string, o BuildOptions) (string, error) {
	args := map[string]*string{}
	for k, v := range o.BuildArgs {
		args[k] = &v
	}
	tarball := TarContext(dir)
	defer tarball.Close()
	res, err := c.Slow.ImageBuild(ctx, tarball, client.ImageBuildOptions{
		Tags:        []string{ref},
		Dockerfile:  o.Dockerfile,
		BuildArgs:   args,
		Labels:      o.Labels,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", fmt.Errorf("build %s: %w", ref, err)
	}
	defer res.Body.Close()
	out, err := ReadStream(res.Body)
	if err != nil {
		return out, fmt.Errorf("build %s: %w", ref, err)
	}
	return out, nil
}

// Load loads the images of a tarball (as docker save writes it) and
// returns the engine's output.
func (c *Client) Load(ctx context.Context, r io.Reader) (string, error) {
	res, err := c.Slow.ImageLoad(ctx, r, client.ImageLoadWithQuiet(true))
	if err != nil {
		return "", fmt.Errorf("load images: %w", err)
	}
	defer res.Close()
	out, err := ReadStream(res)
	if err != nil {
		return out, fmt.Errorf("load images: %w", err)
	}
	return out, nil
}
