package dockercontainer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/brinecm/brine/states"
)

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"-addr :9090", []string{"-addr", ":9090"}, false},
		{`sh -c "echo 'a b'"`, []string{"sh", "-c", "echo 'a b'"}, false},
		{`a\ b 'c\d' ""`, []string{"a b", `c\d`, ""}, false},
		{"  ", nil, false},
		{`"open`, nil, true},
	} {
		got, err := splitWords(tc.in)
		if !slices.Equal(got, tc.want) || (err != nil) != tc.err {
			t.Errorf("splitWords(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in      string
		publish bool
		want    string
		err     string
	}{
		{"8080", false, "8080/tcp", ""},
		{"8080", true, ":->8080/tcp", ""},
		{"18080:8080", false, ":18080->8080/tcp", ""},
		{"127.0.0.1:18080:8080/udp", true, "127.0.0.1:18080->8080/udp", ""},
		{"127.0.0.1::8080", true, "127.0.0.1:->8080/tcp", ""},
		{"x:8080", false, "", "not a port number"},
		{"1:2:3:4", false, "", "expected"},
		{"300.1.1.1:1:2", false, "", "ParseAddr"},
	} {
		p, err := parsePort(tc.in, tc.publish)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parsePort(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestRestartPolicy(t *testing.T) {
	for in, want := range map[string]string{"": "no", "always": "always", "on-failure:3": "on-failure:3", "unless-stopped": "unless-stopped"} {
		rp, err := restartPolicy(in)
		if err != nil || policyString(rp) != want {
			t.Errorf("restartPolicy(%q) = %q, %v", in, policyString(rp), err)
		}
	}
	for _, bad := range []string{"sometimes", "always:3", "on-failure:x"} {
		if _, err := restartPolicy(bad); err == nil {
			t.Errorf("restartPolicy(%q) accepted", bad)
		}
	}
}

func decode(t *testing.T, raw map[string]any) (*RunningArgs, error) {
	t.Helper()
	e, _ := states.Lookup("docker_container.running")
	a, err := e.Decode(raw)
	if err != nil {
		return nil, err
	}
	return a.(*RunningArgs), nil
}

func TestDecodeArgs(t *testing.T) {
	a, err := decode(t, map[string]any{
		"image":       "api:1",
		"command":     []any{"-addr", 9090},
		"environment": []any{"A=1", map[string]any{"B": 2}},
		"labels":      map[string]any{"team": "api"},
		"networks": []any{
			"front",
			map[string]any{"back": map[string]any{"aliases": []any{"api"}, "ipv4_address": "10.1.0.5"}},
			map[string]any{"salt": []any{map[string]any{"aliases": "db"}}},
		},
		"memory":      "64m",
		"healthcheck": map[string]any{"test": "wget -q localhost", "interval": "5s", "retries": 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%q %v %v %+v %d %+v", a.Command, a.Environment, a.Labels, a.Networks, a.Memory, *a.Healthcheck)
	want := `["-addr" "9090"] map[A:1 B:2] map[team:api] [{Name:front Aliases:[] IPv4Address: IPv6Address:} ` +
		`{Name:back Aliases:[api] IPv4Address:10.1.0.5 IPv6Address:} {Name:salt Aliases:[db] IPv4Address: IPv6Address:}] ` +
		`67108864 {Test:[CMD-SHELL wget -q localhost] Interval:5s Timeout:0s StartPeriod:0s Retries:3}`
	if got != want {
		t.Errorf("decoded\n%s\nwant\n%s", got, want)
	}

	for _, tc := range []struct {
		raw map[string]any
		msg string
	}{
		{map[string]any{"image": "a", "networks": []any{"x", "x"}}, "listed twice"},
		{map[string]any{"image": "a", "networks": []any{map[string]any{"x": map[string]any{"alias": "y"}}}}, "did you mean 'aliases'"},
		{map[string]any{"image": "a", "memory": "lots"}, "expected a size"},
		{map[string]any{"image": "a", "healthcheck": map[string]any{"interval": "1s"}}, "test"},
		{map[string]any{"image": "a", "enviroment": map[string]any{}}, "did you mean 'environment'"},
	} {
		if _, err := decode(t, tc.raw); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: error %v, want %q", tc.raw, err, tc.msg)
		}
	}
}

func TestNewSpecRejects(t *testing.T) {
	for _, tc := range []struct {
		raw map[string]any
		msg string
	}{
		{map[string]any{"image": "a", "replicas": 2, "networks": []any{map[string]any{"n": map[string]any{"ipv4_address": "10.0.0.2"}}}}, "static address"},
		{map[string]any{"image": "a", "networks": []any{map[string]any{"n": map[string]any{"ipv4_address": "10.0.0"}}}}, "network n"},
		{map[string]any{"image": "a", "binds": []any{"/data"}}, "source:destination"},
		{map[string]any{"image": "a", "restart_policy": "sometimes"}, "restart_policy"},
		{map[string]any{"image": "a", "cpus": -1}, "cpus"},
		{map[string]any{"image": "a", "replicas": -1}, "replicas"},
	} {
		a, err := decode(t, tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newSpec("web", a); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: error %v, want %q", tc.raw, err, tc.msg)
		}
	}
}

// TestDiff compares wanted configurations with a container as the engine
// reports it, completed with its image's defaults.
func TestDiff(t *testing.T) {
	img := &image.InspectResponse{ID: "sha256:1111111111111111", Config: &dockerspec.DockerOCIImageConfig{
		ImageConfig: ocispec.ImageConfig{
			Env: []string{"PATH=/bin", "VERSION=1"}, Entrypoint: []string{"/server"}, Cmd: []string{"-v"},
			Labels: map[string]string{"from": "image"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		},
	}}
	have := &container.InspectResponse{
		ID: "abcdefabcdef0123", Image: img.ID,
		Config: &container.Config{
			Image: "api:1", Env: []string{"PATH=/bin", "VERSION=1", "MSG=hi"}, Entrypoint: []string{"/server"},
			Cmd: []string{"-v"}, Labels: map[string]string{"from": "image"}, Hostname: "abcdefabcdef",
		},
		HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "no"}},
	}
	for _, tc := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"environment": map[string]any{"MSG": "hi"}}, ""},
		{map[string]any{"environment": map[string]any{"MSG": "bye"}}, "environment: map[MSG:hi] -> map[MSG:bye]"},
		{map[string]any{}, "environment: map[MSG:hi] -> map[]"},
		{map[string]any{"environment": map[string]any{"MSG": "hi", "VERSION": "2"}}, "environment: map[VERSION:1] -> map[VERSION:2]"},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "command": "-q"}, "command: [-v] -> [-q]"},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "entrypoint": "/other"}, "entrypoint: [/server] -> [/other]; command: [-v] -> []"},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "labels": []any{"team=api"}}, "labels: map[] -> map[team:api]"},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "ports": []any{8080}}, ""},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "publish": []any{"18080:8080"}}, "ports: [] -> [:18080->8080/tcp]"},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "memory": "1g", "cpus": 0.5}, "memory: 0 -> 1073741824; cpus: 0 -> 0.5"},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "hostname": "api"}, "hostname: abcdefabcdef -> api"},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "restart_policy": "always", "user": "nobody"}, "restart_policy: no -> always; user:  -> nobody"},
		{map[string]any{"environment": map[string]any{"MSG": "hi"}, "healthcheck": map[string]any{"test": []any{"/server", "-check"}}},
			"healthcheck:  -> CMD /server -check interval=0s timeout=0s start_period=0s retries=0"},
	} {
		tc.raw["image"] = "api:1"
		a, err := decode(t, tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		s, err := newSpec("api", a)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range s.diff(img, have) {
			got = append(got, fmt.Sprintf("%s: %v -> %v", d.field, d.old, d.new))
		}
		if strings.Join(got, "; ") != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.raw, strings.Join(got, "; "), tc.want)
		}
	}

	// An image rebuilt under the same tag is a changed image.
	rebuilt := *img
	rebuilt.ID = "sha256:2222222222222222"
	a, _ := decode(t, map[string]any{"image": "api:1", "environment": map[string]any{"MSG": "hi"}})
	s, _ := newSpec("api", a)
	if d := s.diff(&rebuilt, have); len(d) != 1 || fmt.Sprint(d[0].old, " ", d[0].new) != "api:1 (111111111111) api:1 (222222222222)" {
		t.Errorf("rebuilt image: %+v", d)
	}
}
