package dockercontainer

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/states"
)

// RunningArgs are docker_container.running's arguments; the container's
// name is the state's name.
type RunningArgs struct {
	Image         string            `arg:"image,required"`
	Command       Words             `arg:"command"`
	Entrypoint    Words             `arg:"entrypoint"`
	Environment   dockerx.KeyValues `arg:"environment"`
	Ports         []string          `arg:"ports"`
	Publish       []string          `arg:"publish"`
	Binds         []string          `arg:"binds"`
	Volumes       []string          `arg:"volumes"`
	Labels        dockerx.KeyValues `arg:"labels"`
	Networks      Networks          `arg:"networks"`
	RestartPolicy string            `arg:"restart_policy"`
	User          string            `arg:"user"`
	Workdir       string            `arg:"workdir"`
	Hostname      string            `arg:"hostname"`
	Memory        Bytes             `arg:"memory"`
	CPUs          float64           `arg:"cpus"`
	Healthcheck   *Healthcheck      `arg:"healthcheck"`
	Replicas      int               `arg:"replicas"`
	StopTimeout   time.Duration     `arg:"stop_timeout"`
	ClientTimeout time.Duration     `arg:"client_timeout"`
	// OVSBridge plugs the container into this Open vSwitch bridge; IP, MAC,
	// VLAN, OVSIface and Gateway describe that plug (see ovs.go).
	OVSBridge string `arg:"ovs_bridge"`
	IP        string `arg:"ip"`
	MAC       string `arg:"mac"`
	VLAN      *int   `arg:"vlan"`
	OVSIface  string `arg:"ovs_iface"`
	Gateway   string `arg:"gateway"`
}

// RemoveArgs are docker_container.stopped's and docker_container.absent's
// arguments.
type RemoveArgs struct {
	Force         bool          `arg:"force"`
	StopTimeout   time.Duration `arg:"stop_timeout"`
	ClientTimeout time.Duration `arg:"client_timeout"`
}

// Words is a command line: a list of words, or one string split as a
// shell would split it (quotes group, backslash escapes), without a shell.
type Words []string

// DecodeArg reads a string or a list of strings.
func (w *Words) DecodeArg(v any) error {
	switch x := v.(type) {
	case nil:
		*w = nil
	case string:
		words, err := splitWords(x)
		if err != nil {
			return err
		}
		*w = words
	case []any:
		out := make(Words, len(x))
		for i, it := range x {
			switch s := it.(type) {
			case string:
				out[i] = s
			case int, int64, float64, bool:
				out[i] = fmt.Sprint(s)
			default:
				return fmt.Errorf("item %d: expected a string", i+1)
			}
		}
		*w = out
	default:
		return fmt.Errorf("expected a string or a list of strings")
	}
	return nil
}

// splitWords splits a command line into words as a POSIX shell would,
// without expansions.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Bytes is a memory size: an integer number of bytes or "256m", "1g".
type Bytes int64

// DecodeArg reads bytes or a human-readable size.
func (b *Bytes) DecodeArg(v any) error {
	switch x := v.(type) {
	case nil:
		*b = 0
	case int:
		*b = Bytes(x)
	case int64:
		*b = Bytes(x)
	case string:
		n, err := units.RAMInBytes(x)
		if err != nil {
			return fmt.Errorf("expected a size like 256m or 1g: %w", err)
		}
		*b = Bytes(n)
	default:
		return fmt.Errorf("expected a size like 256m or 1g")
	}
	if *b < 0 {
		return fmt.Errorf("size must not be negative")
	}
	return nil
}

// Network is one network a container joins, with its DNS aliases and
// optional static addresses.
type Network struct {
	Name        string
	Aliases     []string
	IPv4Address string
	IPv6Address string
}

// Networks is the list of networks a container joins, written as a list of
// names and one-key mappings (name: {aliases, ipv4_address, ipv6_address},
// or Salt's name: [{aliases: …}, {ipv4_address: …}]) or as a mapping.
type Networks []Network

// DecodeArg reads the list or mapping forms.
func (n *Networks) DecodeArg(v any) error {
	var out Networks
	one := func(name string, conf any) error {
		nw := Network{Name: name}
		if conf != nil {
			var a struct {
				Aliases     []string `arg:"aliases"`
				IPv4Address string   `arg:"ipv4_address"`
				IPv6Address string   `arg:"ipv6_address"`
			}
			m, err := oneKeyMaps(conf)
			if err != nil {
				return fmt.Errorf("network %s: %w", name, err)
			}
			if err := states.Decode(m, &a); err != nil {
				return fmt.Errorf("network %s: %w", name, err)
			}
			nw.Aliases, nw.IPv4Address, nw.IPv6Address = a.Aliases, a.IPv4Address, a.IPv6Address
		}
		out = append(out, nw)
		return nil
	}
	switch x := v.(type) {
	case nil:
	case string:
		out = Networks{{Name: x}}
	case map[string]any:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if err := one(k, x[k]); err != nil {
				return err
			}
		}
	case []any:
		for i, it := range x {
			switch e := it.(type) {
			case string:
				out = append(out, Network{Name: e})
			case map[string]any:
				if len(e) != 1 {
					return fmt.Errorf("item %d: expected a network name or a one-key mapping", i+1)
				}
				for k, conf := range e {
					if err := one(k, conf); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("item %d: expected a network name or a one-key mapping", i+1)
			}
		}
	default:
		return fmt.Errorf("expected a list of networks")
	}
	seen := map[string]bool{}
	for _, nw := range out {
		if seen[nw.Name] {
			return fmt.Errorf("network %s listed twice", nw.Name)
		}
		seen[nw.Name] = true
	}
	*n = out
	return nil
}

// oneKeyMaps accepts a mapping or Salt's list of one-key mappings.
func oneKeyMaps(v any) (map[string]any, error) {
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case []any:
		out := map[string]any{}
		for _, it := range x {
			m, ok := it.(map[string]any)
			if !ok || len(m) != 1 {
				return nil, errors.New("expected a mapping or a list of one-key mappings")
			}
			for k, val := range m {
				out[k] = val
			}
		}
		return out, nil
	}
	return nil, errors.New("expected a mapping")
}

// Healthcheck is a container health check: test is a command (a string
// runs through the image's shell, a list runs directly, "NONE" disables the
// image's check).
type Healthcheck struct {
	Test        []string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// DecodeArg reads {test, interval, timeout, start_period, retries}.
func (h *Healthcheck) DecodeArg(v any) error {
	m, err := oneKeyMaps(v)
	if err != nil {
		return err
	}
	var a struct {
		Test        any           `arg:"test,required"`
		Interval    time.Duration `arg:"interval"`
		Timeout     time.Duration `arg:"timeout"`
		StartPeriod time.Duration `arg:"start_period"`
		Retries     int           `arg:"retries"`
	}
	if err := states.Decode(m, &a); err != nil {
		return err
	}
	var test []string
	switch t := a.Test.(type) {
	case string:
		if t == "NONE" {
			test = []string{"NONE"}
		} else {
			test = []string{"CMD-SHELL", t}
		}
	case []any:
		var w Words
		if err := w.DecodeArg(t); err != nil {
			return fmt.Errorf("test: %w", err)
		}
		test = w
		if len(test) == 0 || !slices.Contains([]string{"CMD", "CMD-SHELL", "NONE"}, test[0]) {
			test = append([]string{"CMD"}, test...)
		}
	default:
		return errors.New("test: expected a command string or list")
	}
	*h = Healthcheck{Test: test, Interval: a.Interval, Timeout: a.Timeout, StartPeriod: a.StartPeriod, Retries: a.Retries}
	return nil
}

// config returns the engine's form of the check.
func (h *Healthcheck) config() *container.HealthConfig {
	if h == nil {
		return nil
	}
	return &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, Retries: h.Retries}
}

// portSpec is one entry of ports or publish: a container port, published
// on a host port (and address) unless exposeOnly.
type portSpec struct {
	port       network.Port
	hostIP     netip.Addr
	hostPort   string
	exposeOnly bool
}

// parsePort reads "[ip:][hostPort:]containerPort[/proto]". An entry of
// ports with only a container port exposes it; one of publish publishes it
// on a port the engine picks.
func parsePort(s string, publish bool) (portSpec, error) {
	var ps portSpec
	parts := strings.Split(s, ":")
	var ip, host, cport string
	switch len(parts) {
	case 1:
		cport = parts[0]
		ps.exposeOnly = !publish
	case 2:
		host, cport = parts[0], parts[1]
	case 3:
		ip, host, cport = parts[0], parts[1], parts[2]
	default:
		return ps, fmt.Errorf("port %q: expected [ip:][host_port:]container_port[/proto]", s)
	}
	if !strings.Contains(cport, "/") {
		cport += "/tcp"
	}
	p, err := network.ParsePort(cport)
	if err != nil {
		return ps, fmt.Errorf("port %q: %w", s, err)
	}
	ps.port = p
	if ip != "" {
		if ps.hostIP, err = netip.ParseAddr(ip); err != nil {
			return ps, fmt.Errorf("port %q: %w", s, err)
		}
	}
	if host != "" {
		if n, err := strconv.Atoi(host); err != nil || n < 1 || n > 65535 {
			return ps, fmt.Errorf("port %q: host port %q is not a port number", s, host)
		}
	}
	ps.hostPort = host
	return ps, nil
}

// String is the form changes show: "8080/tcp" (exposed) or
// "127.0.0.1:18080->8080/tcp" (published).
func (p portSpec) String() string {
	if p.exposeOnly {
		return p.port.String()
	}
	ip := ""
	if p.hostIP.IsValid() {
		ip = p.hostIP.String()
	}
	return fmt.Sprintf("%s:%s->%s", ip, p.hostPort, p.port)
}

// restartPolicy parses "no", "always", "unless-stopped", "on-failure[:N]".
func restartPolicy(s string) (container.RestartPolicy, error) {
	if s == "" {
		return container.RestartPolicy{Name: container.RestartPolicyDisabled}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	rp := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	if hasCount {
		n, err := strconv.Atoi(count)
		if err != nil {
			return rp, fmt.Errorf("restart_policy %q: bad retry count", s)
		}
		rp.MaximumRetryCount = n
	}
	if err := container.ValidateRestartPolicy(rp); err != nil {
		return rp, fmt.Errorf("restart_policy %q: %w", s, err)
	}
	return rp, nil
}

// policyString is the form changes show.
func policyString(rp container.RestartPolicy) string {
	name := string(rp.Name)
	if name == "" {
		name = string(container.RestartPolicyDisabled)
	}
	if rp.MaximumRetryCount > 0 {
		return fmt.Sprintf("%s:%d", name, rp.MaximumRetryCount)
	}
	return name
}

// nanoCPUs converts a CPU count to the engine's unit.
func nanoCPUs(cpus float64) (int64, error) {
	if cpus < 0 || math.IsNaN(cpus) || math.IsInf(cpus, 0) {
		return 0, fmt.Errorf("cpus must be a positive number")
	}
	return int64(math.Round(cpus * 1e9)), nil
}
