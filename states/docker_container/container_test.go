package dockercontainer

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/states"
)

// call decodes raw and runs fun on name (its ModWatch when watch is set).
func call(t *testing.T, fun, name string, raw map[string]any, test, watch bool) states.Outcome {
	t.Helper()
	e, ok := states.Lookup(fun)
	if !ok {
		t.Fatalf("%s is not registered", fun)
	}
	args, err := e.Decode(raw)
	if err != nil {
		t.Fatalf("decode %s: %v", fun, err)
	}
	c := &states.Call{ID: name, Name: name, Test: test}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if watch {
		return e.ModWatch(ctx, c, args)
	}
	return e.Apply(ctx, c, args)
}

func result(o states.Outcome) string {
	if o.Result == nil {
		return "None"
	}
	return fmt.Sprint(*o.Result)
}

func mustBe(t *testing.T, o states.Outcome, want string, changed bool) {
	t.Helper()
	if result(o) != want || o.Changed() != changed {
		t.Fatalf("result %s changed=%v, want %s changed=%v\ncomment: %s\nchanges: %v",
			result(o), o.Changed(), want, changed, o.Comment, o.Changes)
	}
}

// fixture is an engine with two images of the test server, brine-test-ctr-app:1 and :2.
type fixture struct {
	dc *dockerx.Client
}

func setup(t *testing.T) fixture {
	t.Helper()
	dc := dockertest.Engine(t)
	dir := dockertest.Context(t)
	dockertest.Image(t, dc, dir, "brine-test-ctr-app:1", "1")
	dockertest.Image(t, dc, dir, "brine-test-ctr-app:2", "2")
	return fixture{dc: dc}
}

func (f fixture) inspect(t *testing.T, name string) *struct {
	ID       string
	Running  bool
	Networks []string
} {
	t.Helper()
	res, err := f.dc.API.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if dockerx.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := &struct {
		ID       string
		Running  bool
		Networks []string
	}{ID: res.Container.ID, Running: res.Container.State.Running}
	for n := range res.Container.NetworkSettings.Networks {
		out.Networks = append(out.Networks, n)
	}
	slices.Sort(out.Networks)
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get fetches the test server's answer through a published port, retrying
// while the server starts.
func get(t *testing.T, port int) string {
	t.Helper()
	var last error
	for range 50 {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return strings.TrimSpace(string(b))
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET 127.0.0.1:%d: %v", port, last)
	return ""
}

func changedFields(ch map[string]any) []string {
	var out []string
	for k := range ch {
		if k != "container_id" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestRunningLifecycle(t *testing.T) {
	f := setup(t)
	dockertest.RemoveContainers(t, f.dc, "brine-test-ctr-life-")
	port := freePort(t)
	a := func(msg, tag string) map[string]any {
		return map[string]any{
			"image":       "brine-test-ctr-app:" + tag,
			"environment": []any{map[string]any{"MSG": msg}},
			"labels":      []any{"team=api"},
			"publish":     []any{fmt.Sprintf("127.0.0.1:%d:8080", port)},
			"healthcheck": map[string]any{"test": []any{"/server", "-check"}, "interval": "1s"},
		}
	}
	b := map[string]any{"image": "brine-test-ctr-app:1", "environment": map[string]any{"MSG": "b"}, "command": "-addr :9090"}

	// Test mode on an empty engine: would create, creates nothing.
	o := call(t, "docker_container.running", "brine-test-ctr-life-a", a("hello", "1"), true, false)
	mustBe(t, o, "None", true)
	if f.inspect(t, "brine-test-ctr-life-a") != nil {
		t.Fatal("test mode created the container")
	}

	mustBe(t, call(t, "docker_container.running", "brine-test-ctr-life-a", a("hello", "1"), false, false), "true", true)
	mustBe(t, call(t, "docker_container.running", "brine-test-ctr-life-b", b, false, false), "true", true)
	if got := get(t, port); got != "version=1 msg=hello" {
		t.Fatalf("service answers %q", got)
	}
	idA, idB := f.inspect(t, "brine-test-ctr-life-a").ID, f.inspect(t, "brine-test-ctr-life-b").ID

	// Second run: nothing to do.
	o = call(t, "docker_container.running", "brine-test-ctr-life-a", a("hello", "1"), false, false)
	mustBe(t, o, "true", false)
	mustBe(t, call(t, "docker_container.running", "brine-test-ctr-life-b", b, false, false), "true", false)

	// Test mode with a changed variable reports it and touches nothing.
	o = call(t, "docker_container.running", "brine-test-ctr-life-a", a("bonjour", "1"), true, false)
	mustBe(t, o, "None", true)
	if got := changedFields(o.Changes); !slices.Equal(got, []string{"environment"}) {
		t.Fatalf("test mode changes %v, want [environment]", got)
	}
	if f.inspect(t, "brine-test-ctr-life-a").ID != idA {
		t.Fatal("test mode replaced the container")
	}

	// One changed variable: exactly that container is recreated, and the
	// change names the field with the old and new value.
	o = call(t, "docker_container.running", "brine-test-ctr-life-a", a("bonjour", "1"), false, false)
	mustBe(t, o, "true", true)
	env := o.Changes["environment"].(map[string]any)
	if fmt.Sprint(env["old"]) != "map[MSG:hello]" || fmt.Sprint(env["new"]) != "map[MSG:bonjour]" {
		t.Fatalf("environment change %v", env)
	}
	if got := changedFields(o.Changes); !slices.Equal(got, []string{"environment"}) {
		t.Fatalf("changes %v, want [environment]", got)
	}
	now := f.inspect(t, "brine-test-ctr-life-a")
	if now.ID == idA || !now.Running {
		t.Fatalf("container a not replaced or not running: %+v", now)
	}
	if f.inspect(t, "brine-test-ctr-life-b").ID != idB {
		t.Fatal("container b was replaced too")
	}
	if got := get(t, port); got != "version=1 msg=bonjour" {
		t.Fatalf("service answers %q", got)
	}
	idA = now.ID

	// A new image tag (a new release) replaces the container.
	o = call(t, "docker_container.running", "brine-test-ctr-life-a", a("bonjour", "2"), false, false)
	mustBe(t, o, "true", true)
	if got := changedFields(o.Changes); !slices.Equal(got, []string{"environment", "image"}) {
		// VERSION comes from the image's environment, so it changes too.
		t.Fatalf("changes %v, want [environment image]", got)
	}
	if got := get(t, port); got != "version=2 msg=bonjour" {
		t.Fatalf("service answers %q", got)
	}
	if f.inspect(t, "brine-test-ctr-life-a").ID == idA {
		t.Fatal("container a not replaced for the new image")
	}

	// A watched change recreates even an unchanged container.
	o = call(t, "docker_container.running", "brine-test-ctr-life-b", b, false, true)
	mustBe(t, o, "true", true)
	if f.inspect(t, "brine-test-ctr-life-b").ID == idB {
		t.Fatal("watch did not recreate container b")
	}
	mustBe(t, call(t, "docker_container.running", "brine-test-ctr-life-b", b, false, false), "true", false)

	// stopped, then running starts it again without recreating.
	idB = f.inspect(t, "brine-test-ctr-life-b").ID
	mustBe(t, call(t, "docker_container.stopped", "brine-test-ctr-life-b", nil, false, false), "true", true)
	if f.inspect(t, "brine-test-ctr-life-b").Running {
		t.Fatal("container b still running")
	}
	mustBe(t, call(t, "docker_container.stopped", "brine-test-ctr-life-b", nil, false, false), "true", false)
	o = call(t, "docker_container.running", "brine-test-ctr-life-b", b, false, false)
	mustBe(t, o, "true", true)
	if st := f.inspect(t, "brine-test-ctr-life-b"); st.ID != idB || !st.Running {
		t.Fatalf("container b not restarted in place: %+v (%v)", st, o.Changes)
	}

	// absent: refuses a running container without force; test mode keeps it.
	mustBe(t, call(t, "docker_container.absent", "brine-test-ctr-life-a", nil, false, false), "false", false)
	mustBe(t, call(t, "docker_container.absent", "brine-test-ctr-life-a", map[string]any{"force": true}, true, false), "None", true)
	if f.inspect(t, "brine-test-ctr-life-a") == nil {
		t.Fatal("test mode removed the container")
	}
	mustBe(t, call(t, "docker_container.absent", "brine-test-ctr-life-a", map[string]any{"force": true}, false, false), "true", true)
	if f.inspect(t, "brine-test-ctr-life-a") != nil {
		t.Fatal("container a still exists")
	}
	mustBe(t, call(t, "docker_container.absent", "brine-test-ctr-life-a", nil, false, false), "true", false)
}

func TestNetworksAttachDetach(t *testing.T) {
	f := setup(t)
	for _, n := range []string{"brine-test-ctr-net1", "brine-test-ctr-net2"} {
		dockertest.RemoveNetwork(t, f.dc, n)
		if _, err := f.dc.API.NetworkCreate(context.Background(), n, client.NetworkCreateOptions{Driver: "bridge"}); err != nil {
			t.Fatal(err)
		}
	}
	dockertest.RemoveContainers(t, f.dc, "brine-test-ctr-nets")
	args := func(nets any) map[string]any {
		return map[string]any{"image": "brine-test-ctr-app:1", "networks": nets}
	}
	o := call(t, "docker_container.running", "brine-test-ctr-nets", args([]any{map[string]any{"brine-test-ctr-net1": map[string]any{"aliases": []any{"api"}}}}), false, false)
	mustBe(t, o, "true", true)
	st := f.inspect(t, "brine-test-ctr-nets")
	if !slices.Equal(st.Networks, []string{"brine-test-ctr-net1"}) {
		t.Fatalf("networks %v", st.Networks)
	}
	mustBe(t, call(t, "docker_container.running", "brine-test-ctr-nets", args([]any{map[string]any{"brine-test-ctr-net1": map[string]any{"aliases": []any{"api"}}}}), false, false), "true", false)

	// Attach net2, detach net1: in place, same container.
	nets2 := []any{"brine-test-ctr-net2"}
	o = call(t, "docker_container.running", "brine-test-ctr-nets", args(nets2), true, false)
	mustBe(t, o, "None", true)
	if got := f.inspect(t, "brine-test-ctr-nets").Networks; !slices.Equal(got, []string{"brine-test-ctr-net1"}) {
		t.Fatalf("test mode changed networks: %v", got)
	}
	o = call(t, "docker_container.running", "brine-test-ctr-nets", args(nets2), false, false)
	mustBe(t, o, "true", true)
	want := "map[connected:[brine-test-ctr-net2] disconnected:[brine-test-ctr-net1]]"
	if got := fmt.Sprint(o.Changes["networks"]); got != want {
		t.Fatalf("networks change %s, want %s", got, want)
	}
	now := f.inspect(t, "brine-test-ctr-nets")
	if now.ID != st.ID || !slices.Equal(now.Networks, []string{"brine-test-ctr-net2"}) {
		t.Fatalf("after attach/detach: %+v", now)
	}
	mustBe(t, call(t, "docker_container.running", "brine-test-ctr-nets", args(nets2), false, false), "true", false)
}

func TestReplicas(t *testing.T) {
	f := setup(t)
	dockertest.RemoveContainers(t, f.dc, "brine-test-ctr-rep")
	args := func(n int, msg string) map[string]any {
		return map[string]any{"image": "brine-test-ctr-app:1", "replicas": n, "environment": map[string]any{"MSG": msg}}
	}
	o := call(t, "docker_container.running", "brine-test-ctr-rep", args(2, "a"), false, false)
	mustBe(t, o, "true", true)
	if fmt.Sprint(changedFields(o.Changes)) != "[brine-test-ctr-rep-1 brine-test-ctr-rep-2]" {
		t.Fatalf("changes %v", o.Changes)
	}
	mustBe(t, call(t, "docker_container.running", "brine-test-ctr-rep", args(2, "a"), false, false), "true", false)
	o = call(t, "docker_container.running", "brine-test-ctr-rep", args(1, "b"), false, false)
	mustBe(t, o, "true", true)
	first := o.Changes["brine-test-ctr-rep-1"].(map[string]any)
	if got := changedFields(first); !slices.Equal(got, []string{"environment"}) {
		t.Fatalf("replica 1 changes %v", first)
	}
	if f.inspect(t, "brine-test-ctr-rep-2") != nil {
		t.Fatal("replica 2 not removed when scaling down")
	}
	mustBe(t, call(t, "docker_container.absent", "brine-test-ctr-rep", map[string]any{"force": true}, false, false), "true", true)
	if f.inspect(t, "brine-test-ctr-rep-1") != nil {
		t.Fatal("replica 1 not removed by absent")
	}
}

// TestBadInputKeepsPreviousContainer changes a running container's recipe
// in ways the engine refuses; each is a failed state carrying the engine's
// message, and the previous container keeps running.
func TestBadInputKeepsPreviousContainer(t *testing.T) {
	f := setup(t)
	dockertest.RemoveContainers(t, f.dc, "brine-test-ctr-bad")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	good := map[string]any{"image": "brine-test-ctr-app:1", "publish": []any{fmt.Sprintf("127.0.0.1:%d:8080", freePort(t))}}
	mustBe(t, call(t, "docker_container.running", "brine-test-ctr-bad", good, false, false), "true", true)
	before := f.inspect(t, "brine-test-ctr-bad")

	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name string
		args map[string]any
		msg  []string // any of these, from the engine
	}{
		{"missing image", with("image", "brine-test-ctr-missing:1"), []string{"cannot be pulled", "brine-test-ctr-missing"}},
		{"port taken", with("publish", []any{taken.Addr().String() + ":8080"}), []string{"address already in use", "port is already allocated"}},
		{"unknown network", with("networks", []any{"brine-test-ctr-nonet"}), []string{"brine-test-ctr-nonet not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := call(t, "docker_container.running", "brine-test-ctr-bad", tc.args, false, false)
			mustBe(t, o, "false", false)
			t.Logf("comment: %s", o.Comment)
			found := false
			for _, m := range tc.msg {
				found = found || strings.Contains(o.Comment, m)
			}
			if !found {
				t.Errorf("comment %q lacks the engine's message (%q)", o.Comment, tc.msg)
			}
			now := f.inspect(t, "brine-test-ctr-bad")
			if now == nil || now.ID != before.ID || !now.Running {
				t.Errorf("previous container not left running: %+v", now)
			}
			if f.inspect(t, "brine-test-ctr-bad"+nextSuffix) != nil {
				t.Error("replacement container left behind")
			}
		})
	}
}

func TestEngineDown(t *testing.T) {
	args := map[string]any{"image": "brine-test-ctr-app:1", "client_timeout": 1}
	t.Run("no engine", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/none.sock")
		o := call(t, "docker_container.running", "brine-test-ctr-down", args, false, false)
		mustBe(t, o, "false", false)
		if !strings.Contains(o.Comment, "is not reachable") {
			t.Errorf("comment %q", o.Comment)
		}
	})
	t.Run("hanging engine", func(t *testing.T) {
		dockertest.HangingEngine(t)
		start := time.Now()
		o := call(t, "docker_container.absent", "brine-test-ctr-down", map[string]any{"client_timeout": 1}, false, false)
		mustBe(t, o, "false", false)
		if !strings.Contains(o.Comment, "did not answer within 1s") {
			t.Errorf("comment %q", o.Comment)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s for a 1s timeout", d)
		}
	})
}
