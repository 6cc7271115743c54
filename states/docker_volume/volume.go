// Package dockervolume provides the docker_volume state module:
// docker_volume.present and docker_volume.absent manage Docker volumes
// through the Docker Engine API.
package dockervolume

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("docker_volume.present", states.Func[PresentArgs]{
		Doc: "Ensures the volume name exists with driver (default local), driver_opts and labels " +
			"(compared when given). A volume that differs is a failure, since recreating it loses " +
			"its data, unless force: True. client_timeout (default 30s).",
		Apply: present,
	})
	states.Register("docker_volume.absent", states.Func[AbsentArgs]{
		Doc:   "Ensures the volume name does not exist (a volume in use is a failure). force, client_timeout.",
		Apply: absent,
	})
}

// PresentArgs are docker_volume.present's arguments; the volume is the
// state's name.
type PresentArgs struct {
	Driver        string            `arg:"driver"`
	DriverOpts    dockerx.KeyValues `arg:"driver_opts"`
	Labels        dockerx.KeyValues `arg:"labels"`
	Force         bool              `arg:"force"`
	ClientTimeout time.Duration     `arg:"client_timeout"`
}

// AbsentArgs are docker_volume.absent's arguments.
type AbsentArgs struct {
	Force         bool          `arg:"force"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

func inspect(ctx context.Context, dc *dockerx.Client, name string) (*volume.Volume, error) {
	res, err := dc.API.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if dockerx.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect volume %s: %w", name, err)
	}
	return &res.Volume, nil
}

// diff lists the fields where an existing volume differs from a.
func diff(a *PresentArgs, driver string, have *volume.Volume) map[string]any {
	out := map[string]any{}
	if have.Driver != driver {
		out["driver"] = map[string]any{"old": have.Driver, "new": driver}
	}
	if a.DriverOpts != nil && !maps.Equal(have.Options, map[string]string(a.DriverOpts)) {
		out["driver_opts"] = map[string]any{"old": have.Options, "new": map[string]string(a.DriverOpts)}
	}
	if a.Labels != nil && !maps.Equal(have.Labels, map[string]string(a.Labels)) {
		out["labels"] = map[string]any{"old": have.Labels, "new": map[string]string(a.Labels)}
	}
	return out
}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	driver := a.Driver
	if driver == "" {
		driver = "local"
	}
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer dc.Close()
	have, err := inspect(ctx, dc, c.Name)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	changes := map[string]any{}
	verb := "created"
	if have != nil {
		changes = diff(a, driver, have)
		if len(changes) == 0 {
			return states.Succeeded(fmt.Sprintf("Volume %s is present and up to date", c.Name), nil)
		}
		if !a.Force {
			return states.Failed(fmt.Sprintf("Volume %s exists with a different configuration; "+
				"set force to True to recreate it (its data is lost)", c.Name), changes)
		}
		verb = "recreated"
	}
	changes["volume"] = map[string]any{"old": nil, "new": c.Name}
	if have != nil {
		changes["volume"] = map[string]any{"old": c.Name, "new": c.Name + " (new)"}
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Volume %s would be %s", c.Name, verb), changes)
	}
	if have != nil {
		if _, err := dc.API.VolumeRemove(ctx, c.Name, client.VolumeRemoveOptions{}); err != nil {
			return states.Failed(fmt.Sprintf("remove volume %s: %v", c.Name, err), nil)
		}
	}
	if _, err := dc.API.VolumeCreate(ctx, client.VolumeCreateOptions{
		Name: c.Name, Driver: driver, DriverOpts: a.DriverOpts, Labels: a.Labels,
	}); err != nil {
		return states.Failed(fmt.Sprintf("create volume %s: %v", c.Name, err), nil)
	}
	return states.Succeeded(fmt.Sprintf("Volume %s %s", c.Name, verb), changes)
}

func absent(ctx context.Context, c *states.Call, a *AbsentArgs) states.Outcome {
	dc, err := dockerx.Connect(ctx, a.ClientTimeout)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer dc.Close()
	have, err := inspect(ctx, dc, c.Name)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	if have == nil {
		return states.Succeeded(fmt.Sprintf("Volume %s does not exist", c.Name), nil)
	}
	changes := map[string]any{"volume": map[string]any{"old": c.Name, "new": nil}}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Volume %s would be removed", c.Name), changes)
	}
	if _, err := dc.API.VolumeRemove(ctx, c.Name, client.VolumeRemoveOptions{Force: a.Force}); err != nil {
		return states.Failed(fmt.Sprintf("remove volume %s: %v", c.Name, err), nil)
	}
	return states.Succeeded(fmt.Sprintf("Volume %s removed", c.Name), changes)
}
