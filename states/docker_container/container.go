// Package dockercontainer provides the docker_container state module:
// docker_container.running, .stopped and .absent manage containers through
// the Docker Engine API. running compares the wanted configuration with
// the existing container field by field and recreates it only when
// something differs, reporting exactly the fields that did.
package dockercontainer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("docker_container.running", states.Func[RunningArgs]{
		Doc: "Ensures a container named name runs image with the given configuration: command, " +
			"entrypoint, environment, ports/publish ([ip:][host_port:]container_port[/proto]), " +
			"binds/volumes, labels, networks (with aliases, ipv4_address, ipv6_address; networks " +
			"not listed are disconnected), restart_policy, user, workdir, hostname, memory, cpus, " +
			"healthcheck. replicas: N runs name-1..name-N. A container whose configuration " +
			"differs is replaced (the old one keeps running if the new one cannot start); " +
			"changes name the fields that differed. A watched change recreates the containers. " +
			"stop_timeout (default 10s), client_timeout (default 30s). " +
			"ovs_bridge: NAME plugs the container into that existing Open vSwitch bridge, as pipework " +
			"does: a veth pair whose container end ovs_iface (default eth1) gets ip (CIDR, e.g. " +
			"10.88.0.10/24), mac (default: a stable locally administered address derived from the " +
			"container's name) and, with gateway, the default route; the host end, vb plus a hash of " +
			"the container's name, is a port of the bridge with the access tag vlan and external_ids " +
			"brine-container=<name> (on a netdev bridge the container end's transmit checksum offload " +
			"is turned off, which the userspace datapath needs for TCP). With replicas, replica i gets " +
			"ip plus i-1. A plug that differs is corrected in place; a container restarted or " +
			"recreated is plugged again; ports left by the state's removed, scaled down or stopped " +
			"containers are removed.",
		Apply:    running,
		ModWatch: recreate,
	})
	states.Register("docker_container.stopped", states.Func[RemoveArgs]{
		Doc: "Ensures the container name (and the replicas of a replicas state named name) " +
			"exists and is stopped. stop_timeout, client_timeout.",
		Apply: stopped,
	})
	states.Register("docker_container.absent", states.Func[RemoveArgs]{
		Doc: "Ensures the container name (and the replicas of a replicas state named name) " +
			"does not exist; a running container is only removed with force: True. The Open vSwitch " +
			"ports brine plugged a container in with (ovs_bridge) are removed with it. client_timeout.",
		Apply: absent,
	})
}

const defaultStopTimeout = 10 * time.Second

// nextSuffix names a replacement container until it takes over the name.
const nextSuffix = "-brine-next"

// run is one docker_container state at work.
type run struct {
	c           *states.Call
	dc          *dockerx.Client
	stopTimeout time.Duration
	changes     map[string]any
	comments    []string
}

func newRun(ctx context.Context, c *states.Call, clientTimeout, stopTimeout time.Duration) (*run, error) {
	dc, err := dockerx.Connect(ctx, clientTimeout)
	if err != nil {
		return nil, err
	}
	if stopTimeout <= 0 {
		stopTimeout = defaultStopTimeout
	}
	return &run{c: c, dc: dc, stopTimeout: stopTimeout, changes: map[string]any{}}, nil
}

// outcome reports the run: failed with err when err is set, otherwise
// succeeded (or would change, in test mode).
func (r *run) outcome(err error) states.Outcome {
	if err != nil {
		r.comments = append(r.comments, err.Error())
	}
	comment := strings.Join(r.comments, "\n")
	var changes map[string]any
	if len(r.changes) > 0 {
		changes = r.changes
	}
	switch {
	case err != nil:
		return states.Failed(comment, changes)
	case r.c.Test && changes != nil:
		return states.WouldChange(comment, changes)
	}
	return states.Succeeded(comment, changes)
}

// names lists the containers of a state: name, or name-1..name-N.
func names(name string, replicas int) []string {
	if replicas == 0 {
		return []string{name}
	}
	out := make([]string, replicas)
	for i := range out {
		out[i] = name + "-" + strconv.Itoa(i+1)
	}
	return out
}

// record stores the changes of one container: flat for a single
// container, under the container's name for replicas.
func (r *run) record(replicas bool, name string, ch map[string]any) {
	if len(ch) == 0 {
		return
	}
	if replicas {
		r.changes[name] = ch
		return
	}
	maps.Copy(r.changes, ch)
}

func running(ctx context.Context, c *states.Call, a *RunningArgs) states.Outcome {
	return apply(ctx, c, a, false)
}

// recreate is running's reaction to a watched change: every container is
// replaced, even when its configuration did not change.
func recreate(ctx context.Context, c *states.Call, a *RunningArgs) states.Outcome {
	return apply(ctx, c, a, true)
}

func apply(ctx context.Context, c *states.Call, a *RunningArgs, force bool) states.Outcome {
	s, err := newSpec(c.Name, a)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	r, err := newRun(ctx, c, a.ClientTimeout, a.StopTimeout)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer r.dc.Close()
	img, err := r.image(ctx, s.image)
	if err != nil {
		return r.outcome(err)
	}
	for i, name := range names(c.Name, a.Replicas) {
		ch, comment, err := r.one(ctx, s, img, name, force)
		if comment != "" {
			r.comments = append(r.comments, comment)
		}
		if err == nil && s.ovs != nil {
			ch, err = r.plugged(ctx, s.ovs.plug(name, i), ch)
		}
		r.record(a.Replicas > 0, name, ch)
		if err != nil {
			return r.outcome(err)
		}
	}
	if a.Replicas > 0 {
		if err := r.scaleDown(ctx, c.Name, names(c.Name, a.Replicas)); err != nil {
			return r.outcome(err)
		}
	}
	if s.ovs != nil {
		if err := r.sweepOVS(ctx, c.Name, names(c.Name, a.Replicas)); err != nil {
			return r.outcome(err)
		}
	}
	return r.outcome(nil)
}

// plugged plugs a container one has brought to its wanted state into
// Open vSwitch, adding the plug's changes (under "ovs") to ch.
func (r *run) plugged(ctx context.Context, p ovsPlug, ch map[string]any) (map[string]any, error) {
	fresh := ch["container_id"] != nil || ch["state"] != nil
	och, comment, err := r.plugOVS(ctx, p, fresh)
	if comment != "" {
		r.comments = append(r.comments, comment)
	}
	if len(och) > 0 {
		if ch == nil {
			ch = map[string]any{}
		}
		ch["ovs"] = och
	}
	return ch, err
}

// image finds the wanted image, pulling it when it is missing. In test
// mode a missing image is nil: it may be built by an earlier state.
func (r *run) image(ctx context.Context, ref string) (*image.InspectResponse, error) {
	res, err := r.dc.API.ImageInspect(ctx, ref)
	if err == nil {
		return &res.InspectResponse, nil
	}
	if !dockerx.IsNotFound(err) {
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if r.c.Test {
		return nil, nil
	}
	if _, err := r.dc.Pull(ctx, ref); err != nil {
		return nil, fmt.Errorf("image %s is not present and cannot be pulled: %w", ref, err)
	}
	res, err = r.dc.API.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return &res.InspectResponse, nil
}

// inspect returns the container called name, or nil when there is none.
func (r *run) inspect(ctx context.Context, name string) (*container.InspectResponse, error) {
	res, err := r.dc.API.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if dockerx.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", name, err)
	}
	return &res.Container, nil
}

// one brings the container name to the wanted state and returns its changes.
func (r *run) one(ctx context.Context, s *spec, img *image.InspectResponse, name string, force bool) (map[string]any, string, error) {
	have, err := r.inspect(ctx, name)
	if err != nil {
		return nil, "", err
	}
	if have == nil {
		if r.c.Test {
			return map[string]any{"container_id": map[string]any{"old": nil, "new": "(to be created)"}},
				fmt.Sprintf("Container %s would be created", name), nil
		}
		id, err := r.replace(ctx, s, name, nil)
		if err != nil {
			return nil, "", err
		}
		return map[string]any{"container_id": map[string]any{"old": nil, "new": dockerx.ShortID(id)}},
			fmt.Sprintf("Container %s created and started", name), nil
	}
	diffs := s.diff(img, have)
	if len(diffs) > 0 || force {
		ch := map[string]any{}
		fields := make([]string, 0, len(diffs))
		for _, d := range diffs {
			ch[d.field] = map[string]any{"old": d.old, "new": d.new}
			fields = append(fields, d.field)
		}
		why := "a watched state changed"
		if len(diffs) > 0 {
			why = strings.Join(fields, ", ") + " differed"
		}
		if r.c.Test {
			ch["container_id"] = map[string]any{"old": dockerx.ShortID(have.ID), "new": "(to be recreated)"}
			return ch, fmt.Sprintf("Container %s would be recreated: %s", name, why), nil
		}
		id, err := r.replace(ctx, s, name, have)
		if err != nil {
			return nil, "", err
		}
		ch["container_id"] = map[string]any{"old": dockerx.ShortID(have.ID), "new": dockerx.ShortID(id)}
		return ch, fmt.Sprintf("Container %s recreated: %s", name, why), nil
	}
	ch := map[string]any{}
	if len(s.networks) > 0 {
		nch, err := r.networks(ctx, s, have)
		if err != nil {
			return nil, "", err
		}
		if len(nch) > 0 {
			ch["networks"] = nch
		}
	}
	if !have.State.Running {
		ch["state"] = map[string]any{"old": string(have.State.Status), "new": "running"}
		if !r.c.Test {
			if _, err := r.dc.API.ContainerStart(ctx, have.ID, client.ContainerStartOptions{}); err != nil {
				return ch, "", fmt.Errorf("start container %s: %w", name, err)
			}
		}
	}
	switch {
	case len(ch) == 0:
		return nil, fmt.Sprintf("Container %s is up to date and running", name), nil
	case r.c.Test:
		return ch, fmt.Sprintf("Container %s would be updated", name), nil
	}
	return ch, fmt.Sprintf("Container %s updated", name), nil
}

// replace creates the container name from s and starts it. An existing
// container old is replaced: the new one is created under a temporary
// name and joins its networks first (a bad image, network or option fails
// there, with old untouched); then old is stopped and the new one started.
// If it cannot start, it is removed and old started again; otherwise old
// is removed and the new container takes its name.
func (r *run) replace(ctx context.Context, s *spec, name string, old *container.InspectResponse) (string, error) {
	tmp := name
	if old != nil {
		tmp = name + nextSuffix
		if err := r.remove(ctx, tmp); err != nil {
			return "", err
		}
	}
	cfg, hc, nc := s.createOptions(tmp)
	created, err := r.dc.API.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: tmp, Config: &cfg, HostConfig: &hc, NetworkingConfig: nc,
	})
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	id := created.ID
	discard := func(cause error) error {
		if err := r.remove(ctx, id); err != nil {
			cause = errors.Join(cause, err)
		}
		return cause
	}
	for _, n := range s.networks[min(1, len(s.networks)):] {
		if _, err := r.dc.API.NetworkConnect(ctx, n.Name, client.NetworkConnectOptions{Container: id, EndpointConfig: endpoint(n)}); err != nil {
			return "", discard(fmt.Errorf("connect container %s to network %s: %w", name, n.Name, err))
		}
	}
	wasRunning := old != nil && old.State.Running
	if wasRunning {
		if err := r.stop(ctx, old.ID); err != nil {
			return "", discard(fmt.Errorf("stop container %s: %w", name, err))
		}
	}
	if _, err := r.dc.API.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		err = discard(fmt.Errorf("start container %s: %w", name, err))
		if wasRunning {
			if _, rerr := r.dc.API.ContainerStart(ctx, old.ID, client.ContainerStartOptions{}); rerr != nil {
				return "", errors.Join(err, fmt.Errorf("restart previous container %s: %w", name, rerr))
			}
			err = fmt.Errorf("%w; the previous container %s was left running", err, name)
		}
		return "", err
	}
	if old == nil {
		return id, nil
	}
	if err := r.remove(ctx, old.ID); err != nil {
		return id, err
	}
	if _, err := r.dc.API.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name}); err != nil {
		return id, fmt.Errorf("rename container %s to %s: %w", tmp, name, err)
	}
	return id, nil
}

// stop stops a container, giving it stopTimeout to exit.
func (r *run) stop(ctx context.Context, id string) error {
	secs := int(r.stopTimeout.Round(time.Second) / time.Second)
	_, err := r.dc.Slow.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	return err
}

// remove removes a container, running or not; a missing one is no error.
func (r *run) remove(ctx context.Context, id string) error {
	_, err := r.dc.Slow.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !dockerx.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// networks connects and disconnects an existing container so it is on
// exactly the wanted networks, with the wanted aliases and addresses.
func (r *run) networks(ctx context.Context, s *spec, have *container.InspectResponse) (map[string]any, error) {
	var eps map[string]*network.EndpointSettings
	if have.NetworkSettings != nil {
		eps = have.NetworkSettings.Networks
	}
	attached := map[string]bool{}
	for n := range eps {
		attached[n] = true
	}
	var connected, disconnected, reconnected []string
	wanted := map[string]bool{}
	for _, n := range s.networks {
		wanted[n.Name] = true
		ep := eps[n.Name]
		switch {
		case !attached[n.Name]:
			connected = append(connected, n.Name)
		case !sameEndpoint(n, ep, have):
			reconnected = append(reconnected, n.Name)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(attached)) {
		if !wanted[n] {
			disconnected = append(disconnected, n)
		}
	}
	if !r.c.Test {
		byName := map[string]Network{}
		for _, n := range s.networks {
			byName[n.Name] = n
		}
		for _, n := range append(slices.Clone(disconnected), reconnected...) {
			if _, err := r.dc.API.NetworkDisconnect(ctx, n, client.NetworkDisconnectOptions{Container: have.ID, Force: true}); err != nil {
				return nil, fmt.Errorf("disconnect container %s from network %s: %w", have.Name, n, err)
			}
		}
		for _, n := range append(slices.Clone(connected), reconnected...) {
			if _, err := r.dc.API.NetworkConnect(ctx, n, client.NetworkConnectOptions{Container: have.ID, EndpointConfig: endpoint(byName[n])}); err != nil {
				return nil, fmt.Errorf("connect container %s to network %s: %w", strings.TrimPrefix(have.Name, "/"), n, err)
			}
		}
	}
	out := map[string]any{}
	for k, v := range map[string][]string{"connected": connected, "disconnected": disconnected, "reconnected": reconnected} {
		if len(v) > 0 {
			out[k] = v
		}
	}
	return out, nil
}

// sameEndpoint reports whether an attachment has the wanted aliases (the
// engine adds the container's short ID and name) and static addresses.
func sameEndpoint(n Network, ep *network.EndpointSettings, have *container.InspectResponse) bool {
	if ep == nil {
		return false
	}
	implicit := map[string]bool{dockerx.ShortID(have.ID): true, strings.TrimPrefix(have.Name, "/"): true}
	for _, a := range n.Aliases {
		if !slices.Contains(ep.Aliases, a) {
			return false
		}
	}
	for _, a := range ep.Aliases {
		if !slices.Contains(n.Aliases, a) && !implicit[a] {
			return false
		}
	}
	var v4, v6 string
	if ep.IPAMConfig != nil {
		if ep.IPAMConfig.IPv4Address.IsValid() {
			v4 = ep.IPAMConfig.IPv4Address.String()
		}
		if ep.IPAMConfig.IPv6Address.IsValid() {
			v6 = ep.IPAMConfig.IPv6Address.String()
		}
	}
	return v4 == n.IPv4Address && v6 == n.IPv6Address
}

// scaleDown removes the replicas of name beyond the wanted ones.
func (r *run) scaleDown(ctx context.Context, name string, keep []string) error {
	surplus, err := r.replicasOf(ctx, name)
	if err != nil {
		return err
	}
	for _, cn := range surplus {
		if slices.Contains(keep, cn.name) || strings.HasSuffix(cn.name, nextSuffix) {
			continue
		}
		if r.c.Test {
			r.changes[cn.name] = map[string]any{"container_id": map[string]any{"old": dockerx.ShortID(cn.id), "new": nil}}
			r.comments = append(r.comments, fmt.Sprintf("Container %s would be removed", cn.name))
			continue
		}
		if err := r.remove(ctx, cn.id); err != nil {
			return err
		}
		r.changes[cn.name] = map[string]any{"container_id": map[string]any{"old": dockerx.ShortID(cn.id), "new": nil}}
		r.comments = append(r.comments, fmt.Sprintf("Container %s removed (scaled down)", cn.name))
	}
	return nil
}

type named struct{ name, id string }

// replicasOf lists the containers labelled as replicas of name, sorted by name.
func (r *run) replicasOf(ctx context.Context, name string) ([]named, error) {
	res, err := r.dc.API.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: client.Filters{}.Add("label", LabelReplicaOf+"="+name),
	})
	if err != nil {
		return nil, fmt.Errorf("list replicas of %s: %w", name, err)
	}
	var out []named
	for _, it := range res.Items {
		if len(it.Names) > 0 {
			out = append(out, named{name: strings.TrimPrefix(it.Names[0], "/"), id: it.ID})
		}
	}
	slices.SortFunc(out, func(a, b named) int { return strings.Compare(a.name, b.name) })
	return out, nil
}
