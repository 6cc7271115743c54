// The Docker example, applied the way a team ships releases: apply the
// recipe, re-apply (nothing to do), change a setting or the release in
// the pillar and re-apply; only the containers whose configuration
// changed are replaced.
package dockerexample_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/systest"
	_ "github.com/brinecm/brine/states/cmd"
	_ "github.com/brinecm/brine/states/docker_container"
	_ "github.com/brinecm/brine/states/docker_image"
	_ "github.com/brinecm/brine/states/docker_network"
	_ "github.com/brinecm/brine/states/file"
)

const prefix = "brine-test-example"

type example struct {
	t      *testing.T
	dc     *dockerx.Client
	rt     *modules.Runtime
	pillar string
	build  string
}

func setup(t *testing.T) *example {
	dc := dockertest.Engine(t)
	systest.RequireCommands(t, "go")
	e := &example{t: t, dc: dc, pillar: t.TempDir(), build: filepath.Join(t.TempDir(), "api")}
	grains := dockerx.Grains(context.Background())
	e.rt = &modules.Runtime{ID: "docker-demo", Grains: grains,
		FileRoots: []string{"states"}, PillarRoots: []string{e.pillar}}
	dockertest.RemoveNetwork(t, dc, prefix+"-net")
	for _, tag := range []string{"1.0.0", "1.0.1"} {
		dockertest.RemoveImage(t, dc, prefix+"-api:"+tag)
	}
	dockertest.RemoveContainers(t, dc, prefix+"-")
	top, err := os.ReadFile("pillar/top.sls")
	if err != nil {
		t.Fatal(err)
	}
	dockertest.WriteFile(t, e.pillar, "top.sls", string(top))
	return e
}

// apply writes the pillar the team edits, applies the highstate (in test
// mode when test is set) and returns the results by state ID.
func (e *example) apply(release, greeting string, test bool) map[string]result.State {
	e.t.Helper()
	dockertest.WriteFile(e.t, e.pillar, "api.sls", fmt.Sprintf(
		"api:\n  prefix: %s\n  build_dir: %s\n  release: %s\n  greeting: %s\n  subnet: 10.239.0.0/24\n",
		prefix, e.build, release, greeting))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := modules.Call(ctx, e.rt, "state.apply", nil, map[string]any{"test": test})
	if err != nil {
		e.t.Fatal(err)
	}
	byID := map[string]result.State{}
	for _, r := range out.(result.Highstate) {
		byID[r.ID] = r
	}
	for _, r := range out.(result.Highstate) {
		if !r.Succeeded() {
			for _, o := range out.(result.Highstate) {
				e.t.Logf("%s: %v %s %v", o.ID, o.Result != nil && *o.Result, o.Comment, o.Changes)
			}
			e.t.Fatalf("%s failed: %s", r.ID, r.Comment)
		}
	}
	return byID
}

func (e *example) id(name string) string {
	e.t.Helper()
	res, err := e.dc.API.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Container.ID
}

// get asks a replica, through its published port, what it runs.
func (e *example) get(name string) map[string]string {
	e.t.Helper()
	res, err := e.dc.API.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	b := res.Container.NetworkSettings.Ports[network.MustParsePort("8080/tcp")]
	if len(b) == 0 {
		e.t.Fatalf("%s publishes no port", name)
	}
	url := fmt.Sprintf("http://127.0.0.1:%s/", b[0].HostPort)
	var last error
	for range 50 {
		resp, err := http.Get(url)
		if err == nil {
			var body map[string]string
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err == nil {
				return body
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("GET %s: %v", url, last)
	return nil
}

func changed(r result.State) []string {
	var out []string
	for k := range r.Changes {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func fields(r result.State, replica string) []string {
	ch, _ := r.Changes[replica].(map[string]any)
	var out []string
	for k := range ch {
		if k != "container_id" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestShipReleases(t *testing.T) {
	e := setup(t)
	api1, api2, admin := prefix+"-api-1", prefix+"-api-2", prefix+"-api-admin"

	// First deployment.
	res := e.apply("1.0.0", "hello", false)
	if got := changed(res["api"]); !slices.Equal(got, []string{api1, api2}) {
		t.Fatalf("api changes %v", res["api"].Changes)
	}
	if got := e.get(api1); got["release"] != "1.0.0" || got["greeting"] != "hello" {
		t.Fatalf("%s answers %v", api1, got)
	}
	ids := map[string]string{api1: e.id(api1), api2: e.id(api2), admin: e.id(admin)}

	// Re-applying changes nothing.
	for id, r := range e.apply("1.0.0", "hello", false) {
		if len(r.Changes) > 0 {
			t.Errorf("second run: %s changed: %v", id, r.Changes)
		}
	}

	// Test mode shows the new greeting and touches nothing.
	res = e.apply("1.0.0", "bonjour", true)
	if res["api"].Result != nil || !slices.Equal(fields(res["api"], api1), []string{"environment"}) {
		t.Fatalf("test mode: %+v", res["api"])
	}
	if e.id(api1) != ids[api1] {
		t.Fatal("test mode replaced a container")
	}

	// A new greeting replaces the two api replicas, not the admin instance.
	res = e.apply("1.0.0", "bonjour", false)
	for _, r := range []string{api1, api2} {
		if got := fields(res["api"], r); !slices.Equal(got, []string{"environment"}) {
			t.Errorf("%s: changed fields %v", r, got)
		}
		if e.id(r) == ids[r] {
			t.Errorf("%s not replaced", r)
		}
	}
	if len(res["api-admin"].Changes) > 0 || e.id(admin) != ids[admin] || len(res["api-image"].Changes) > 0 {
		t.Errorf("admin or image changed: %v %v", res["api-admin"].Changes, res["api-image"].Changes)
	}
	if got := e.get(api2); got["greeting"] != "bonjour" {
		t.Fatalf("%s answers %v", api2, got)
	}

	// A new release builds a new image and replaces every container running it.
	res = e.apply("1.0.1", "bonjour", false)
	if len(res["api-image"].Changes) == 0 {
		t.Fatal("release 1.0.1 not built")
	}
	if got := fields(res["api"], api1); !slices.Equal(got, []string{"environment", "image", "labels"}) {
		t.Errorf("%s: changed fields %v", api1, got)
	}
	if got := changed(res["api-admin"]); !slices.Contains(got, "image") {
		t.Errorf("admin changes %v", res["api-admin"].Changes)
	}
	if got := e.get(api1); got["release"] != "1.0.1" {
		t.Fatalf("%s answers %v", api1, got)
	}
}
