package testrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/pkg/systest"
)

// TestEnsureImageAndRun builds the default image with debootstrap from the
// host's apt sources (under a tag of its own when the default image is
// there already, so that the build runs at every test run), then runs
// testdata/tree on it for one minion: the fixture's id, grains and pillar
// reach the container, the second run changes nothing, the built-in checks
// pass, and the run's containers are gone.
func TestEnsureImageAndRun(t *testing.T) {
	dc := dockertest.Engine(t)
	systest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	src, err := HostSource("/")
	if err != nil {
		t.Fatal(err)
	}
	// Without the default image, EnsureImage builds it (or another test
	// binary of this run does, and this one waits for it); with it, the
	// build runs under a tag of this test's own.
	opts := ImageOptions{DataDir: filepath.Join(os.TempDir(), "brine-testrun-data")}
	ref := DefaultImage(src.Suite)
	if ok, err := hasImage(ctx, dc, ref); err != nil {
		t.Fatal(err)
	} else if ok {
		ref = DefaultImageRepo + ":" + src.Suite + "-test-" + hex.EncodeToString(b)
		opts.Ref = ref
		t.Cleanup(func() {
			if _, err := dc.API.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}); err != nil && !dockerx.IsNotFound(err) {
				t.Logf("remove %s: %v", ref, err)
			}
		})
	}
	got, err := EnsureImage(ctx, dc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got != ref {
		t.Fatalf("EnsureImage built %s, want %s", got, ref)
	}
	img, err := dc.API.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatalf("the image is not in the store: %v", err)
	}
	if l := img.Config.Labels[imageLabel]; l != src.Suite {
		t.Errorf("image label io.brine.test.image = %q, want %q", l, src.Suite)
	}
	// Present now: found, not built again.
	if again, err := EnsureImage(ctx, dc, opts); err != nil || again != ref {
		t.Fatalf("second EnsureImage: %s, %v", again, err)
	}
	if img2, err := dc.API.ImageInspect(ctx, ref); err != nil || img2.ID != img.ID {
		t.Fatalf("the image changed on the second EnsureImage: %v", err)
	}

	bin := filepath.Join(t.TempDir(), "brine")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/brine")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	minion := Minion{ID: "box1", Grains: map[string]any{"id": "box1", "role": "lab"}, Pillar: map[string]any{"place": "the lab"}}
	rep, err := Run(ctx, dc, []Minion{minion}, Options{Image: ref, Binary: bin, FileRoots: []string{"testdata/tree"}, RunID: "t" + hex.EncodeToString(b)})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Minions[0]
	kinds := map[string]int{}
	for _, c := range m.Cases {
		kinds[c.Kind]++
		if c.Status != StatusPassed {
			t.Errorf("%s %s: %s: %s", c.Kind, c.Name, c.Status, c.Message)
		}
	}
	if kinds[KindApply] != 1 || kinds[KindIdempotence] != 1 || kinds[KindAssertion] != 9 {
		t.Errorf("cases by kind %v, want 1 apply, 1 idempotence, 9 assertions", kinds)
	}
	if rep.ExitCode() != ExitOK {
		t.Errorf("exit code %d, want 0", rep.ExitCode())
	}
	list, err := dc.API.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelRun+"=t"+hex.EncodeToString(b))})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("%d containers of the run are left", len(list.Items))
	}
}
