package dockercontainer

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"

	"github.com/brinecm/brine/pkg/dockerx"
)

// LabelReplicaOf marks the containers of a replicas state with the
// state's name, so scaling down finds the surplus ones.
const LabelReplicaOf = "brine.replica-of"

// spec is the validated wanted configuration of one container, without
// the image's defaults.
type spec struct {
	image      string
	cmd        []string
	entrypoint []string
	env        map[string]string
	labels     map[string]string
	ports      []portSpec
	binds      []string
	volumes    []string // anonymous volumes (container paths)
	restart    container.RestartPolicy
	user       string
	workdir    string
	hostname   string
	memory     int64
	nanoCPUs   int64
	health     *container.HealthConfig
	networks   []Network
	ovs        *ovsConfig // nil: not plugged into Open vSwitch
}

// newSpec validates the arguments of a running state named name.
func newSpec(name string, a *RunningArgs) (*spec, error) {
	s := &spec{
		image: a.Image, cmd: a.Command, entrypoint: a.Entrypoint,
		env: maps.Clone(a.Environment), labels: maps.Clone(a.Labels),
		user: a.User, workdir: a.Workdir, hostname: a.Hostname,
		memory: int64(a.Memory), health: a.Healthcheck.config(), networks: a.Networks,
	}
	if s.labels == nil {
		s.labels = map[string]string{}
	}
	if a.Replicas < 0 {
		return nil, fmt.Errorf("replicas must not be negative")
	}
	if a.Replicas > 0 {
		s.labels[LabelReplicaOf] = name
		for _, n := range a.Networks {
			if n.IPv4Address != "" || n.IPv6Address != "" {
				return nil, fmt.Errorf("network %s: a static address cannot be shared by %d replicas", n.Name, a.Replicas)
			}
		}
		if a.Hostname != "" && a.Replicas > 1 {
			return nil, fmt.Errorf("hostname cannot be shared by %d replicas", a.Replicas)
		}
	}
	var err error
	if s.image, err = imageRef(a.Image); err != nil {
		return nil, err
	}
	for _, p := range a.Ports {
		ps, err := parsePort(p, false)
		if err != nil {
			return nil, err
		}
		s.ports = append(s.ports, ps)
	}
	for _, p := range a.Publish {
		ps, err := parsePort(p, true)
		if err != nil {
			return nil, err
		}
		s.ports = append(s.ports, ps)
	}
	s.binds = append(s.binds, a.Binds...)
	for _, b := range a.Binds {
		if !strings.Contains(b, ":") {
			return nil, fmt.Errorf("bind %q: expected source:destination[:options]", b)
		}
	}
	for _, v := range a.Volumes {
		if strings.Contains(v, ":") {
			s.binds = append(s.binds, v)
		} else {
			s.volumes = append(s.volumes, v)
		}
	}
	if s.restart, err = restartPolicy(a.RestartPolicy); err != nil {
		return nil, err
	}
	if s.nanoCPUs, err = nanoCPUs(a.CPUs); err != nil {
		return nil, err
	}
	if s.ovs, err = newOVSConfig(a); err != nil {
		return nil, err
	}
	for _, n := range a.Networks {
		for _, addr := range []string{n.IPv4Address, n.IPv6Address} {
			if addr != "" {
				if _, err := netip.ParseAddr(addr); err != nil {
					return nil, fmt.Errorf("network %s: %w", n.Name, err)
				}
			}
		}
	}
	return s, nil
}

// imageRef adds the default tag the engine would assume.
func imageRef(ref string) (string, error) {
	if dockerx.HasTag(ref) {
		return ref, nil
	}
	return dockerx.ImageRef(ref, "")
}

// createOptions is the engine request creating the container.
func (s *spec) createOptions(name string) (container.Config, container.HostConfig, *network.NetworkingConfig) {
	cfg := container.Config{
		Image: s.image, Cmd: s.cmd, Entrypoint: s.entrypoint, Labels: s.labels,
		User: s.user, WorkingDir: s.workdir, Hostname: s.hostname, Healthcheck: s.health,
	}
	for _, k := range slices.Sorted(maps.Keys(s.env)) {
		cfg.Env = append(cfg.Env, k+"="+s.env[k])
	}
	hc := container.HostConfig{
		Binds:         s.binds,
		RestartPolicy: s.restart,
		Resources:     container.Resources{Memory: s.memory, NanoCPUs: s.nanoCPUs},
	}
	for _, p := range s.ports {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		cfg.ExposedPorts[p.port] = struct{}{}
		if p.exposeOnly {
			continue
		}
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		hc.PortBindings[p.port] = append(hc.PortBindings[p.port], network.PortBinding{HostIP: p.hostIP, HostPort: p.hostPort})
	}
	for _, v := range s.volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	if len(s.networks) == 0 {
		return cfg, hc, nil
	}
	// The first network is joined at creation (an API 1.41 engine takes one);
	// the others are connected before the container starts.
	first := s.networks[0]
	hc.NetworkMode = container.NetworkMode(first.Name)
	return cfg, hc, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		first.Name: endpoint(first),
	}}
}

// endpoint is the engine's form of a network attachment.
func endpoint(n Network) *network.EndpointSettings {
	ep := &network.EndpointSettings{Aliases: n.Aliases}
	if n.IPv4Address != "" || n.IPv6Address != "" {
		ep.IPAMConfig = &network.EndpointIPAMConfig{}
		ep.IPAMConfig.IPv4Address, _ = netip.ParseAddr(n.IPv4Address)
		ep.IPAMConfig.IPv6Address, _ = netip.ParseAddr(n.IPv6Address)
	}
	return ep
}

// change is one field that differs between the wanted and the existing
// container.
type change struct {
	field    string
	old, new any
}

// diff compares the wanted configuration, completed with the image's
// defaults as the engine completes it, with an existing container. img is
// nil when the image is not present yet (test mode): only the image then
// counts.
func (s *spec) diff(img *image.InspectResponse, have *container.InspectResponse) []change {
	var out []change
	add := func(field string, old, new any) {
		if !reflect.DeepEqual(old, new) {
			out = append(out, change{field, old, new})
		}
	}
	if img == nil {
		return []change{{"image", describeImage(have.Config.Image, have.Image), s.image + " (not present yet)"}}
	}
	if have.Image != img.ID {
		out = append(out, change{"image", describeImage(have.Config.Image, have.Image), describeImage(s.image, img.ID)})
	}
	ic := img.Config
	if ic == nil {
		ic = &dockerspec.DockerOCIImageConfig{}
	}
	cfg, hc := have.Config, have.HostConfig

	entrypoint, cmd := s.entrypoint, s.cmd
	if len(entrypoint) == 0 {
		entrypoint = ic.Entrypoint
		if len(cmd) == 0 {
			cmd = ic.Cmd
		}
	}
	add("entrypoint", list(cfg.Entrypoint), list(entrypoint))
	add("command", list(cfg.Cmd), list(cmd))

	if o, n := envDiff(envMap(cfg.Env), merged(envMap(ic.Env), s.env)); o != nil {
		out = append(out, change{"environment", o, n})
	}
	if o, n := envDiff(orEmpty(cfg.Labels), merged(ic.Labels, s.labels)); o != nil {
		out = append(out, change{"labels", o, n})
	}
	add("ports", havePorts(cfg, hc, ic.ExposedPorts), wantPorts(s.ports, ic.ExposedPorts))
	add("binds", sorted(hc.Binds), sorted(s.binds))
	add("volumes", haveVolumes(cfg.Volumes, ic.Volumes), sorted(s.volumes))
	add("restart_policy", policyString(hc.RestartPolicy), policyString(s.restart))
	add("user", cfg.User, or(s.user, ic.User))
	add("workdir", cfg.WorkingDir, or(s.workdir, ic.WorkingDir))
	add("hostname", cfg.Hostname, or(s.hostname, dockerx.ShortID(have.ID)))
	add("memory", hc.Memory, s.memory)
	add("cpus", float64(hc.NanoCPUs)/1e9, float64(s.nanoCPUs)/1e9)
	add("healthcheck", healthString(cfg.Healthcheck), healthString(mergeHealth(s.health, ic.Healthcheck)))
	return out
}

func describeImage(ref, id string) string {
	return fmt.Sprintf("%s (%s)", ref, dockerx.ShortID(id))
}

// list normalises nil and empty lists to one value.
func list(l []string) []string {
	if len(l) == 0 {
		return []string{}
	}
	return l
}

func sorted(l []string) []string {
	out := slices.Clone(list(l))
	sort.Strings(out)
	return out
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func envMap(env []string) map[string]string {
	out := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		out[k] = v
	}
	return out
}

// merged overlays want on base, as the engine merges an image's
// environment and labels with the container's.
func merged(base, want map[string]string) map[string]string {
	out := maps.Clone(orEmpty(base))
	maps.Copy(out, want)
	return out
}

// envDiff returns only the keys whose values differ (a missing key shows
// as absent), or nil when the maps are equal.
func envDiff(have, want map[string]string) (map[string]any, map[string]any) {
	var o, n map[string]any
	for _, k := range slices.Sorted(maps.Keys(merged(have, want))) {
		hv, hok := have[k]
		wv, wok := want[k]
		if hok == wok && hv == wv {
			continue
		}
		if o == nil {
			o, n = map[string]any{}, map[string]any{}
		}
		if hok {
			o[k] = hv
		}
		if wok {
			n[k] = wv
		}
	}
	return o, n
}

// wantPorts lists the wanted published ports and the exposed ones the
// image does not expose already.
func wantPorts(ps []portSpec, imageExposed map[string]struct{}) []string {
	seen := map[string]bool{}
	for p := range imageExposed {
		seen[p] = true
	}
	var published []string
	for _, p := range ps {
		if !p.exposeOnly {
			published = append(published, p.String())
			seen[p.port.String()] = true
		}
	}
	out := published
	for _, p := range ps {
		if p.exposeOnly && !seen[p.port.String()] {
			out = append(out, p.String())
			seen[p.port.String()] = true
		}
	}
	return sorted(out)
}

// havePorts lists a container's published ports and the ports it exposes
// beyond its image's.
func havePorts(cfg *container.Config, hc *container.HostConfig, imageExposed map[string]struct{}) []string {
	var out []string
	seen := map[string]bool{}
	for p, bs := range hc.PortBindings {
		for _, b := range bs {
			out = append(out, portSpec{port: p, hostIP: b.HostIP, hostPort: b.HostPort}.String())
		}
		seen[p.String()] = true
	}
	for p := range cfg.ExposedPorts {
		if _, fromImage := imageExposed[p.String()]; !fromImage && !seen[p.String()] {
			out = append(out, p.String())
		}
	}
	return sorted(out)
}

func haveVolumes(have, fromImage map[string]struct{}) []string {
	var out []string
	for v := range have {
		if _, ok := fromImage[v]; !ok {
			out = append(out, v)
		}
	}
	return sorted(out)
}

// mergeHealth completes a wanted check with the image's, as the engine does.
func mergeHealth(want, img *container.HealthConfig) *container.HealthConfig {
	if img == nil {
		return want
	}
	if want == nil {
		return img
	}
	h := *want
	if len(h.Test) == 0 {
		h.Test = img.Test
	}
	if h.Interval == 0 {
		h.Interval = img.Interval
	}
	if h.Timeout == 0 {
		h.Timeout = img.Timeout
	}
	if h.StartPeriod == 0 {
		h.StartPeriod = img.StartPeriod
	}
	if h.Retries == 0 {
		h.Retries = img.Retries
	}
	return &h
}

func healthString(h *container.HealthConfig) string {
	if h == nil || len(h.Test) == 0 {
		return ""
	}
	return fmt.Sprintf("%s interval=%s timeout=%s start_period=%s retries=%d",
		strings.Join(h.Test, " "), h.Interval, h.Timeout, h.StartPeriod, h.Retries)
}
