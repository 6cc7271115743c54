package dockervolume

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/states/statetest"
)

func TestPresentAbsent(t *testing.T) {
	dc := dockertest.Engine(t)
	const name = "brine-test-vol-a"
	dockertest.RemoveVolume(t, dc, name)
	exists := func() map[string]string {
		res, err := dc.API.VolumeInspect(context.Background(), name, client.VolumeInspectOptions{})
		if dockerx.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return res.Volume.Labels
	}
	args := map[string]any{"labels": []any{"backup=daily"}}
	statetest.Expect(t, statetest.Run(t, "docker_volume.present", name, args, true), "None", true)
	if exists() != nil {
		t.Fatal("test mode created the volume")
	}
	statetest.Expect(t, statetest.Run(t, "docker_volume.present", name, args, false), "true", true)
	if exists()["backup"] != "daily" {
		t.Fatalf("labels %v", exists())
	}
	statetest.Expect(t, statetest.Run(t, "docker_volume.present", name, args, false), "true", false)
	statetest.Expect(t, statetest.Run(t, "docker_volume.present", name, nil, false), "true", false)

	// Different labels: refused without force (data would be lost), done with it.
	changed := map[string]any{"labels": []any{"backup=weekly"}}
	o := statetest.Run(t, "docker_volume.present", name, changed, false)
	statetest.Expect(t, o, "false", true)
	if !strings.Contains(o.Comment, "force") || exists()["backup"] != "daily" {
		t.Fatalf("comment %q, labels %v", o.Comment, exists())
	}
	changed["force"] = true
	statetest.Expect(t, statetest.Run(t, "docker_volume.present", name, changed, false), "true", true)
	if exists()["backup"] != "weekly" {
		t.Fatalf("labels %v", exists())
	}

	statetest.Expect(t, statetest.Run(t, "docker_volume.absent", name, nil, true), "None", true)
	statetest.Expect(t, statetest.Run(t, "docker_volume.absent", name, nil, false), "true", true)
	if exists() != nil {
		t.Fatal("volume not removed")
	}
	statetest.Expect(t, statetest.Run(t, "docker_volume.absent", name, nil, false), "true", false)
}

func TestEngineDown(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/none.sock")
	o := statetest.Run(t, "docker_volume.present", "brine-test-vol-down", nil, false)
	statetest.Expect(t, o, "false", false)
	if !strings.Contains(o.Comment, "not reachable") {
		t.Errorf("comment %q", o.Comment)
	}
}
