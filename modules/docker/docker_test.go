package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
)

func call(t *testing.T, rt *modules.Runtime, fun string, args []any, kwargs map[string]any) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return modules.Call(ctx, rt, fun, args, kwargs)
}

func TestModule(t *testing.T) {
	dc := dockertest.Engine(t)
	root := t.TempDir()
	if err := os.Rename(dockertest.Context(t), filepath.Join(root, "api")); err != nil {
		t.Fatal(err)
	}
	rt := &modules.Runtime{ID: "minion", FileRoots: []string{root}}
	const ref = "brine-test-mod-api:7"
	dockertest.RemoveImage(t, dc, ref)

	out, err := call(t, rt, "docker.build", []any{"brine://api", "brine-test-mod-api"}, map[string]any{"tag": "7", "buildargs": map[string]any{"VERSION": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	built := out.(map[string]any)
	if built["image"] != ref || !strings.Contains(built["output"].(string), "Successfully tagged "+ref) {
		t.Fatalf("build returned %v", built)
	}

	out, err = call(t, rt, "docker.images", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, ok := out.(map[string]any)[built["id"].(string)].(map[string]any)
	if !ok || !strings.Contains(strings.Join(img["tags"].([]string), " "), ref) {
		t.Fatalf("images lacks %s: %v", ref, out)
	}

	dockertest.RemoveContainers(t, dc, "brine-test-mod-c")
	ctx := context.Background()
	cr, err := dc.API.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "brine-test-mod-c", Image: ref})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.API.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}

	out, err = call(t, rt, "docker.ps", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := out.(map[string]any)["brine-test-mod-c"].(map[string]any)
	if !ok || c["state"] != "running" || c["image"] != ref {
		t.Fatalf("ps: %v", out)
	}

	out, err = call(t, rt, "docker.inspect", []any{"brine-test-mod-c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.(map[string]any)["Id"] != cr.ID {
		t.Fatalf("inspect container: %v", out)
	}
	out, err = call(t, rt, "docker.inspect", []any{ref}, nil)
	if err != nil || !strings.HasPrefix(out.(map[string]any)["Id"].(string), "sha256:") {
		t.Fatalf("inspect image: %v %v", out, err)
	}
	if _, err := call(t, rt, "docker.inspect", []any{"brine-test-mod-nothing"}, nil); err == nil || !strings.Contains(err.Error(), "no container, image, network or volume") {
		t.Fatalf("inspect of nothing: %v", err)
	}

	var logs any
	for range 50 {
		if logs, err = call(t, rt, "docker.logs", []any{"brine-test-mod-c"}, map[string]any{"tail": 5}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.(string), "listening on :8080") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.(string), "listening on :8080") {
		t.Fatalf("logs: %q", logs)
	}

	before, _ := dc.API.ContainerInspect(ctx, cr.ID, client.ContainerInspectOptions{})
	out, err = call(t, rt, "docker.restart", []any{"brine-test-mod-c"}, map[string]any{"timeout": 1})
	if err != nil {
		t.Fatal(err)
	}
	r := out.(map[string]any)
	if r["state"] != "running" || r["started_at"] == before.Container.State.StartedAt {
		t.Fatalf("restart: %v (started before at %s)", r, before.Container.State.StartedAt)
	}
}

func TestErrors(t *testing.T) {
	dockertest.Engine(t)
	rt := &modules.Runtime{ID: "minion", FileRoots: []string{t.TempDir()}}
	for _, tc := range []struct {
		fun  string
		args []any
		msg  string
	}{
		{"docker.pull", []any{"brine-test-mod-missing"}, "Error response from daemon"},
		{"docker.build", []any{"brine://nothing", "brine-test-mod-x"}, "no such directory in the file roots"},
		{"docker.restart", []any{"brine-test-mod-missing"}, "No such container"},
		{"docker.logs", []any{"brine-test-mod-missing"}, "No such container"},
	} {
		_, err := call(t, rt, tc.fun, tc.args, nil)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s %v: error %v, want %q", tc.fun, tc.args, err, tc.msg)
		}
	}
}

func TestEngineDown(t *testing.T) {
	dockertest.HangingEngine(t)
	start := time.Now()
	_, err := call(t, nil, "docker.ps", nil, map[string]any{"client_timeout": 1})
	if err == nil || !strings.Contains(err.Error(), "did not answer within 1s") || time.Since(start) > 5*time.Second {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
}
