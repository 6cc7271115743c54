package dockerimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

// treeEnv serves brine:// URLs from a directory, files and directories.
type treeEnv struct{ root string }

func (e treeEnv) path(url string) (string, error) {
	rest, ok := strings.CutPrefix(url, "brine://")
	if !ok {
		return "", fmt.Errorf("unsupported URL %q", url)
	}
	return filepath.Join(e.root, filepath.FromSlash(rest)), nil
}

func (e treeEnv) Source(_ context.Context, url string) ([]byte, error) {
	p, err := e.path(url)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

func (e treeEnv) SourceDir(_ context.Context, url string) (string, error) {
	return e.path(url)
}

func (treeEnv) Render(context.Context, string, string, []byte, map[string]any) ([]byte, error) {
	return nil, fmt.Errorf("no renderer")
}

// fileOnlyEnv is a state tree that serves files only.
type fileOnlyEnv struct{ states.Env }

func call(t *testing.T, env states.Env, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, fun, raw, &states.Call{ID: name, Name: name, Test: test, Env: env})
}

func mustBe(t *testing.T, o states.Outcome, want string, changed bool) {
	t.Helper()
	got := "None"
	if o.Result != nil {
		got = fmt.Sprint(*o.Result)
	}
	if got != want || o.Changed() != changed {
		t.Fatalf("result %s changed=%v, want %s changed=%v\ncomment: %s\nchanges: %v", got, o.Changed(), want, changed, o.Comment, o.Changes)
	}
}

func imageID(t *testing.T, dc *dockerx.Client, ref string) string {
	t.Helper()
	res, err := dc.API.ImageInspect(context.Background(), ref)
	if dockerx.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

// tree makes a state tree holding the test server's build context as api/.
func tree(t *testing.T) treeEnv {
	t.Helper()
	root := t.TempDir()
	if err := os.Rename(dockertest.Context(t), filepath.Join(root, "api")); err != nil {
		t.Fatal(err)
	}
	return treeEnv{root: root}
}

func TestPresentBuild(t *testing.T) {
	dc := dockertest.Engine(t)
	env := tree(t)
	const ref = "brine-test-img-api:1"
	dockertest.RemoveImage(t, dc, ref)
	args := map[string]any{"tag": "1", "build": "brine://api", "buildargs": map[string]any{"VERSION": "1"}}

	mustBe(t, call(t, env, "docker_image.present", "brine-test-img-api", args, true), "None", true)
	if imageID(t, dc, ref) != "" {
		t.Fatal("test mode built the image")
	}
	o := call(t, env, "docker_image.present", "brine-test-img-api", args, false)
	mustBe(t, o, "true", true)
	first := imageID(t, dc, ref)
	if first == "" {
		t.Fatal("image not built")
	}
	mustBe(t, call(t, env, "docker_image.present", "brine-test-img-api", args, false), "true", false)

	// The same context given as an absolute path is the same build.
	abs := map[string]any{"tag": "1", "build": filepath.Join(env.root, "api"), "buildargs": map[string]any{"VERSION": "1"}}
	mustBe(t, call(t, nil, "docker_image.present", "brine-test-img-api", abs, false), "true", false)

	// A changed file in the context rebuilds.
	dockertest.WriteFile(t, filepath.Join(env.root, "api"), "NOTES", "release 1.0.1\n")
	mustBe(t, call(t, env, "docker_image.present", "brine-test-img-api", args, true), "None", true)
	o = call(t, env, "docker_image.present", "brine-test-img-api", args, false)
	mustBe(t, o, "true", true)
	if !strings.Contains(o.Comment, "build context changed") {
		t.Errorf("comment %q", o.Comment)
	}
	second := imageID(t, dc, ref)
	if second == first {
		t.Fatal("image not rebuilt")
	}
	// The previous, now untagged image was removed.
	if _, err := dc.API.ImageInspect(context.Background(), first); !dockerx.IsNotFound(err) {
		t.Errorf("previous image %s kept: %v", first, err)
	}

	// A changed build argument rebuilds too.
	args["buildargs"] = map[string]any{"VERSION": "2"}
	mustBe(t, call(t, env, "docker_image.present", "brine-test-img-api", args, false), "true", true)
	mustBe(t, call(t, env, "docker_image.present", "brine-test-img-api", args, false), "true", false)
}

func TestPresentBadInput(t *testing.T) {
	dc := dockertest.Engine(t)
	env := tree(t)
	dockertest.RemoveImage(t, dc, "brine-test-img-bad:1")
	dockertest.WriteFile(t, filepath.Join(env.root, "api"), "Dockerfile.broken", "FROM scratch\nCOPY missing-file /missing-file\n")
	for _, tc := range []struct {
		name string
		env  states.Env
		args map[string]any
		msg  string
	}{
		{"build fails", env, map[string]any{"tag": "1", "build": "brine://api", "dockerfile": "Dockerfile.broken"}, "missing-file"},
		{"no such image to pull", env, map[string]any{"tag": "1"}, "Error response from daemon"},
		{"tree serves no directories", fileOnlyEnv{env}, map[string]any{"tag": "1", "build": "brine://api"}, "cannot serve directories"},
		{"relative context", env, map[string]any{"tag": "1", "build": "api"}, "absolute path"},
		{"missing context", env, map[string]any{"tag": "1", "build": "/nonexistent/brine-test"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := call(t, tc.env, "docker_image.present", "brine-test-img-bad", tc.args, false)
			mustBe(t, o, "false", false)
			t.Logf("comment: %s", o.Comment)
			if !strings.Contains(o.Comment, tc.msg) {
				t.Errorf("comment %q lacks %q", o.Comment, tc.msg)
			}
			if imageID(t, dc, "brine-test-img-bad:1") != "" {
				t.Error("image exists")
			}
		})
	}
}

func TestLoadAndAbsent(t *testing.T) {
	dc := dockertest.Engine(t)
	env := tree(t)
	const ref = "brine-test-img-load:1"
	dockertest.Image(t, dc, filepath.Join(env.root, "api"), ref, "1")
	saved, err := dc.API.ImageSave(context.Background(), []string{ref})
	if err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(env.root, "load.tar")
	f, err := os.Create(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, saved); err != nil {
		t.Fatal(err)
	}
	saved.Close()
	f.Close()

	// absent: test mode keeps it, then it goes, then nothing to do.
	mustBe(t, call(t, env, "docker_image.absent", ref, nil, true), "None", true)
	if imageID(t, dc, ref) == "" {
		t.Fatal("test mode removed the image")
	}
	mustBe(t, call(t, env, "docker_image.absent", ref, nil, false), "true", true)
	if imageID(t, dc, ref) != "" {
		t.Fatal("image not removed")
	}
	mustBe(t, call(t, env, "docker_image.absent", ref, nil, false), "true", false)

	for _, src := range []string{tarball, "brine://load.tar"} {
		mustBe(t, call(t, env, "docker_image.present", ref, map[string]any{"load": src}, false), "true", true)
		if imageID(t, dc, ref) == "" {
			t.Fatalf("load %s: image not present", src)
		}
		mustBe(t, call(t, env, "docker_image.present", ref, map[string]any{"load": src}, false), "true", false)
		mustBe(t, call(t, env, "docker_image.absent", ref, nil, false), "true", true)
	}
}

func TestEngineDown(t *testing.T) {
	dockertest.HangingEngine(t)
	start := time.Now()
	o := call(t, nil, "docker_image.present", "brine-test-img-down", map[string]any{"client_timeout": "500ms"}, false)
	mustBe(t, o, "false", false)
	if !strings.Contains(o.Comment, "did not answer") || time.Since(start) > 5*time.Second {
		t.Errorf("after %s: %q", time.Since(start), o.Comment)
	}
}
