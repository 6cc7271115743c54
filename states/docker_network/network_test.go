package dockernetwork

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/states/statetest"
)

func TestPresentAbsent(t *testing.T) {
	dc := dockertest.Engine(t)
	const name = "brine-test-net-a"
	dockertest.RemoveNetwork(t, dc, name)
	args := map[string]any{"subnet": "10.231.0.0/24", "gateway": "10.231.0.1", "labels": map[string]any{"team": "api"}}
	inspect := func() *struct{ ID, Subnet string } {
		res, err := dc.API.NetworkInspect(context.Background(), name, client.NetworkInspectOptions{})
		if dockerx.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return &struct{ ID, Subnet string }{res.Network.ID, res.Network.IPAM.Config[0].Subnet.String()}
	}

	statetest.Expect(t, statetest.Run(t, "docker_network.present", name, args, true), "None", true)
	if inspect() != nil {
		t.Fatal("test mode created the network")
	}
	statetest.Expect(t, statetest.Run(t, "docker_network.present", name, args, false), "true", true)
	first := inspect()
	if first == nil || first.Subnet != "10.231.0.0/24" {
		t.Fatalf("network %+v", first)
	}
	statetest.Expect(t, statetest.Run(t, "docker_network.present", name, args, false), "true", false)

	// A container on the network keeps its alias across a recreate.
	img := dockertest.Image(t, dc, dockertest.Context(t), "brine-test-net-app:1", "1")
	dockertest.RemoveContainers(t, dc, "brine-test-net-c")
	ctx := context.Background()
	cr, err := dc.API.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "brine-test-net-c", Image: img})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.API.NetworkConnect(ctx, name, client.NetworkConnectOptions{Container: cr.ID,
		EndpointConfig: endpointWithAlias("api")}); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.API.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}

	args["subnet"], args["gateway"] = "10.232.0.0/24", "10.232.0.1"
	o := statetest.Run(t, "docker_network.present", name, args, false)
	statetest.Expect(t, o, "true", true)
	var fields []string
	for k := range o.Changes {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	if fmt.Sprint(fields) != "[gateway network_id reconnected subnet]" {
		t.Fatalf("changes %v", o.Changes)
	}
	if now := inspect(); now.ID == first.ID || now.Subnet != "10.232.0.0/24" {
		t.Fatalf("network not recreated: %+v", now)
	}
	res, err := dc.API.ContainerInspect(ctx, cr.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ep := res.Container.NetworkSettings.Networks[name]; ep == nil || !slices.Contains(ep.Aliases, "api") {
		t.Fatalf("container not reconnected with its alias: %+v", ep)
	}

	o = statetest.Run(t, "docker_network.absent", name, nil, false)
	statetest.Expect(t, o, "true", true)
	if fmt.Sprint(o.Changes["disconnected"]) != "[brine-test-net-c]" || inspect() != nil {
		t.Fatalf("absent: %v", o.Changes)
	}
	statetest.Expect(t, statetest.Run(t, "docker_network.absent", name, nil, false), "true", false)
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args map[string]any
		msg  string
	}{
		{map[string]any{"subnet": "10.0.0.0/33"}, "subnet"},
		{map[string]any{"gateway": "10.0.0.1"}, "gateway needs subnet"},
		{map[string]any{"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}, "not in subnet"},
	} {
		o := statetest.Run(t, "docker_network.present", "brine-test-net-bad", tc.args, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, tc.msg) {
			t.Errorf("%v: comment %q", tc.args, o.Comment)
		}
	}
	dc := dockertest.Engine(t)
	dockertest.RemoveNetwork(t, dc, "brine-test-net-bad")
	// The default bridge's subnet is taken.
	res, err := dc.API.NetworkInspect(context.Background(), "bridge", client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	taken := res.Network.IPAM.Config[0].Subnet.String()
	o := statetest.Run(t, "docker_network.present", "brine-test-net-bad", map[string]any{"subnet": taken}, false)
	statetest.Expect(t, o, "false", false)
	t.Logf("comment: %s", o.Comment)
	if !strings.Contains(o.Comment, "Error response from daemon") {
		t.Errorf("comment %q", o.Comment)
	}
}

func endpointWithAlias(alias string) *network.EndpointSettings {
	return &network.EndpointSettings{Aliases: []string{alias}}
}
