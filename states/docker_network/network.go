// Package dockernetwork provides the docker_network state module:
// docker_network.present and docker_network.absent manage Docker networks
// through the Docker Engine API.
package dockernetwork

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("docker_network.present", states.Func[PresentArgs]{
		Doc: "Ensures the network name exists with driver (default bridge), subnet, gateway, " +
			"internal and labels. A network that differs is recreated and its containers " +
			"reconnected with their aliases. client_timeout (default 30s).",
		Apply: present,
	})
	states.Register("docker_network.absent", states.Func[AbsentArgs]{
		Doc:   "Ensures the network name does not exist, disconnecting its containers first. client_timeout.",
		Apply: absent,
	})
}

// PresentArgs are docker_network.present's arguments; the network is the
// state's name.
type PresentArgs struct {
	Driver        string            `arg:"driver"`
	Subnet        string            `arg:"subnet"`
	Gateway       string            `arg:"gateway"`
	Internal      bool              `arg:"internal"`
	Labels        dockerx.KeyValues `arg:"labels"`
	ClientTimeout time.Duration     `arg:"client_timeout"`
}

// AbsentArgs are docker_network.absent's arguments.
type AbsentArgs struct {
	ClientTimeout time.Duration `arg:"client_timeout"`
}

// want is the validated wanted network.
type want struct {
	driver  string
	subnet  netip.Prefix
	gateway netip.Addr
	a       *PresentArgs
}

func parse(a *PresentArgs) (want, error) {
	w := want{driver: a.Driver, a: a}
	if w.driver == "" {
		w.driver = "bridge"
	}
	var err error
	if a.Subnet != "" {
		if w.subnet, err = netip.ParsePrefix(a.Subnet); err != nil {
			return w, fmt.Errorf("subnet: %w", err)
		}
	}
	if a.Gateway != "" {
		if a.Subnet == "" {
			return w, fmt.Errorf("gateway needs subnet")
		}
		if w.gateway, err = netip.ParseAddr(a.Gateway); err != nil {
			return w, fmt.Errorf("gateway: %w", err)
		}
		if !w.subnet.Contains(w.gateway) {
			return w, fmt.Errorf("gateway %s is not in subnet %s", w.gateway, w.subnet)
		}
	}
	return w, nil
}

// diff lists the fields where an existing network differs from w.
func (w want) diff(have network.Inspect) map[string]any {
	out := map[string]any{}
	add := func(field string, old, new any) {
		if fmt.Sprint(old) != fmt.Sprint(new) {
			out[field] = map[string]any{"old": old, "new": new}
		}
	}
	add("driver", have.Driver, w.driver)
	add("internal", have.Internal, w.a.Internal)
	labels := map[string]string(w.a.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	haveLabels := have.Labels
	if haveLabels == nil {
		haveLabels = map[string]string{}
	}
	if !maps.Equal(haveLabels, labels) {
		out["labels"] = map[string]any{"old": haveLabels, "new": labels}
	}
	var subnet, gateway string
	if len(have.IPAM.Config) > 0 {
		if have.IPAM.Config[0].Subnet.IsValid() {
			subnet = have.IPAM.Config[0].Subnet.String()
		}
		if have.IPAM.Config[0].Gateway.IsValid() {
			gateway = have.IPAM.Config[0].Gateway.String()
		}
	}
	if w.subnet.IsValid() {
		add("subnet", subnet, w.subnet.String())
	}
	if w.gateway.IsValid() {
		add("gateway", gateway, w.gateway.String())
	}
	return out
}

func (w want) create(ctx context.Context, dc *dockerx.Client, name string) (string, error) {
	opts := client.NetworkCreateOptions{Driver: w.driver, Internal: w.a.Internal, Labels: w.a.Labels}
	if w.subnet.IsValid() {
		opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: w.subnet, Gateway: w.gateway}}}
	}
	res, err := dc.API.NetworkCreate(ctx, name, opts)
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	return res.ID, nil
}

// inspect returns the network name, or nil when it does not exist.
func inspect(ctx context.Context, dc *dockerx.Client, name string) (*network.Inspect, error) {
	res, err := dc.API.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if dockerx.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect network %s: %w", name, err)
	}
	// A network is found by ID prefix too; only its own name counts.
	if res.Network.Name != name {
		return nil, nil
	}
	return &res.Network, nil
}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	w, err := parse(a)
	if err != nil {
		return states.Failed(err.Error(), nil)
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
	if have == nil {
		changes := map[string]any{"network_id": map[string]any{"old": nil, "new": "(to be created)"}}
		if c.Test {
			return states.WouldChange(fmt.Sprintf("Network %s would be created", c.Name), changes)
		}
		id, err := w.create(ctx, dc, c.Name)
		if err != nil {
			return states.Failed(err.Error(), nil)
		}
		changes["network_id"] = map[string]any{"old": nil, "new": dockerx.ShortID(id)}
		return states.Succeeded(fmt.Sprintf("Network %s created", c.Name), changes)
	}
	changes := w.diff(*have)
	if len(changes) == 0 {
		return states.Succeeded(fmt.Sprintf("Network %s is present and up to date", c.Name), nil)
	}
	fields := slices.Sorted(maps.Keys(changes))
	why := strings.Join(fields, ", ") + " differed"
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Network %s would be recreated: %s", c.Name, why), changes)
	}
	// Recreate: disconnect the containers, replace the network, reconnect them.
	attached, err := endpoints(ctx, dc, *have)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	for _, e := range attached {
		if _, err := dc.API.NetworkDisconnect(ctx, have.ID, client.NetworkDisconnectOptions{Container: e.id, Force: true}); err != nil {
			return states.Failed(fmt.Sprintf("disconnect %s from network %s: %v", e.name, c.Name, err), nil)
		}
	}
	if _, err := dc.API.NetworkRemove(ctx, have.ID, client.NetworkRemoveOptions{}); err != nil {
		return states.Failed(fmt.Sprintf("remove network %s: %v", c.Name, err), nil)
	}
	id, err := w.create(ctx, dc, c.Name)
	if err != nil {
		return states.Failed(err.Error(), changes)
	}
	changes["network_id"] = map[string]any{"old": dockerx.ShortID(have.ID), "new": dockerx.ShortID(id)}
	var names []string
	for _, e := range attached {
		_, err := dc.API.NetworkConnect(ctx, id, client.NetworkConnectOptions{Container: e.id,
			EndpointConfig: &network.EndpointSettings{Aliases: e.aliases}})
		if err != nil {
			return states.Failed(fmt.Sprintf("Network %s recreated, but %s could not rejoin it: %v", c.Name, e.name, err), changes)
		}
		names = append(names, e.name)
	}
	if len(names) > 0 {
		changes["reconnected"] = names
	}
	return states.Succeeded(fmt.Sprintf("Network %s recreated: %s", c.Name, why), changes)
}

type attachment struct {
	id, name string
	aliases  []string
}

// endpoints lists the containers on a network, by name, with the aliases
// they were given there (not the engine's own: the short container ID).
func endpoints(ctx context.Context, dc *dockerx.Client, have network.Inspect) ([]attachment, error) {
	var out []attachment
	for id, ep := range have.Containers {
		a := attachment{id: id, name: ep.Name}
		res, err := dc.API.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("inspect container %s: %w", ep.Name, err)
		}
		if ns := res.Container.NetworkSettings; ns != nil && ns.Networks[have.Name] != nil {
			for _, al := range ns.Networks[have.Name].Aliases {
				if al != dockerx.ShortID(id) {
					a.aliases = append(a.aliases, al)
				}
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
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
		return states.Succeeded(fmt.Sprintf("Network %s does not exist", c.Name), nil)
	}
	changes := map[string]any{"network_id": map[string]any{"old": dockerx.ShortID(have.ID), "new": nil}}
	attached, err := endpoints(ctx, dc, *have)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	var names []string
	for _, e := range attached {
		names = append(names, e.name)
	}
	if len(names) > 0 {
		changes["disconnected"] = names
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Network %s would be removed", c.Name), changes)
	}
	for _, e := range attached {
		if _, err := dc.API.NetworkDisconnect(ctx, have.ID, client.NetworkDisconnectOptions{Container: e.id, Force: true}); err != nil {
			return states.Failed(fmt.Sprintf("disconnect %s from network %s: %v", e.name, c.Name, err), nil)
		}
	}
	if _, err := dc.API.NetworkRemove(ctx, have.ID, client.NetworkRemoveOptions{}); err != nil {
		return states.Failed(fmt.Sprintf("remove network %s: %v", c.Name, err), nil)
	}
	return states.Succeeded(fmt.Sprintf("Network %s removed", c.Name), changes)
}
