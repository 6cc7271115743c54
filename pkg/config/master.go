package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultMasterPath is where the master configuration lives unless --config says otherwise.
const DefaultMasterPath = "/etc/brine/master"

// Master is the master configuration. Every key is also a flag of `brine master`.
type Master struct {
	DataDir     string `yaml:"data_dir"`     // keys, bus store, job cache
	Listen      string `yaml:"listen"`       // bus address for minions, host:port; TLS off loopback
	Socket      string `yaml:"socket"`       // the CLI's gRPC unix socket
	FileRoots   Roots  `yaml:"file_roots"`   // state tree (base environment)
	PillarRoots Roots  `yaml:"pillar_roots"` // pillar tree (base environment)
	// FileEnvs and PillarEnvs are the environments other than base of
	// file_roots and pillar_roots in Salt's mapping form.
	FileEnvs   Envs              `yaml:"-"`
	PillarEnvs Envs              `yaml:"-"`
	AutoAccept bool              `yaml:"auto_accept"` // accept every new key (demos and tests only)
	NATS       []string          `yaml:"nats"`        // an existing NATS cluster instead of the embedded server
	Nodegroups map[string]string `yaml:"nodegroups"`  // name: compound expression
	// ClusterListen is the host:port this master's embedded bus takes
	// routes from the other masters on ("" = no cluster); routes run over
	// TLS with the fleet's CA.
	ClusterListen string `yaml:"cluster_listen"`
	// Peers are the other masters' cluster_listen addresses (host:port).
	Peers []string `yaml:"peers"`
	// ClusterName names the NATS cluster (default "brine").
	ClusterName string `yaml:"cluster_name"`
	// Join is a running master's bus URL (nats://host:port) this master
	// fetches the fleet's signing key and CA from, with a join token
	// (`brine cluster token`), on its first start.
	Join     string   `yaml:"join"`
	KeepJobs Duration `yaml:"keep_jobs"` // job cache retention
	JobTTL   Duration `yaml:"job_ttl"`   // how long an offline minion may still receive a job
	Timeout  Duration `yaml:"timeout"`   // default wait for returns
	// MeshReapply re-applies a minion's mesh states (ovs.mesh,
	// net.vxlan_mesh) when a peer their target selects joins, leaves or
	// changes address; default true.
	MeshReapply *bool `yaml:"mesh_reapply"`
	// MeshReapplyDelay gathers the changes of this long into one re-apply
	// per minion (default 2s).
	MeshReapplyDelay Duration `yaml:"mesh_reapply_delay"`
	// MaxPendingKeys is how many keys may wait for acceptance at once
	// (default 1000); more key requests are refused until some are
	// accepted, rejected or deleted.
	MaxPendingKeys int `yaml:"max_pending_keys"`
	// MaxSLSBytes is the largest SLS, pillar, top or template file the
	// master reads when it compiles recipes (default DefaultMaxSLSBytes);
	// a larger file fails the compile before it is read.
	MaxSLSBytes int64 `yaml:"max_sls_bytes"`
	// JinjaCallTimeout bounds how long a compile waits for a minion to
	// answer a salt['mod.fun'](...) call its recipe makes, which runs on
	// that minion (default 30s).
	JinjaCallTimeout Duration `yaml:"jinja_call_timeout"`
	// FollowSymlinksOutsideRoot lets the file server serve a symlink of a
	// file root that leads outside that root; by default such a file is
	// refused (symlinks inside the root are always served).
	FollowSymlinksOutsideRoot bool `yaml:"follow_symlinks_outside_root"`
	// JinjaMaxOutputBytes, JinjaMaxSteps and JinjaMaxRenderTime bound one
	// render of a recipe template: its output, its loop iterations and
	// macro calls, and its time (0: 16 MiB, 1,000,000 and 30s).
	JinjaMaxOutputBytes int      `yaml:"jinja_max_output_bytes"`
	JinjaMaxSteps       int      `yaml:"jinja_max_steps"`
	JinjaMaxRenderTime  Duration `yaml:"jinja_max_render_time"`
	// StrictArguments makes an unknown state argument a compile error of
	// the master's state runs; by default the state runs with a warning.
	StrictArguments bool `yaml:"strict_arguments"`
	// PyDSL allows the #!pydsl renderer: whoever may change the state
	// tree may then run Python as the master's user (off by default).
	PyDSL bool `yaml:"pydsl"`
	// TopFiles: how a highstate merges the environments' top files.
	TopFiles `yaml:",inline"`
	// Schedule runs functions on targets at intervals or cron times, in
	// Salt's schedule: format with target: and tgt_type: (see
	// docs/schedule.md); configuration file only.
	Schedule yaml.Node `yaml:"schedule"`
	// HTTP is where the web view listens, HOST:PORT; "" (the default)
	// serves no web view. See docs/web.md.
	HTTP string `yaml:"http"`
	// HTTPCert and HTTPKey are the web view's certificate and key (PEM);
	// without them it presents a certificate of the bus CA.
	HTTPCert string `yaml:"http_cert"`
	HTTPKey  string `yaml:"http_key"`
	// HTTPClientCA is the CA (PEM) whose client certificates the web view
	// accepts as read-only logins; "" is the bus CA.
	HTTPClientCA string `yaml:"http_client_ca"`
	// HTTPRunClients are the Common Names of client certificates that may
	// also run jobs and accept or reject keys in the web view.
	HTTPRunClients []string `yaml:"http_run_clients"`
	// NATSGrantTTL is, with an external NATS cluster (NATS), how long the
	// permissions the masters hand a connection through auth callout last
	// before the servers ask again: a key rejected or deleted meanwhile is
	// cut off within this long (default 2m).
	NATSGrantTTL Duration `yaml:"nats_grant_ttl"`
	// Source is the file this configuration was read from, "" when none.
	Source string `yaml:"-"`
}

// Master defaults.
const (
	DefaultMasterDataDir = "/var/lib/brine/master"
	DefaultListen        = "127.0.0.1:4506"
	DefaultKeepJobs      = 24 * time.Hour
	DefaultJobTTL        = time.Hour
	DefaultTimeout       = 10 * time.Second
	DefaultMeshDelay     = 2 * time.Second
	DefaultMaxPending    = 1000
	DefaultMaxSLSBytes   = 4 << 20
	// DefaultJinjaCallTimeout is the default of Master.JinjaCallTimeout.
	DefaultJinjaCallTimeout = 30 * time.Second
)

// DefaultSocket is the CLI socket path under a data directory.
func DefaultSocket(dataDir string) string { return dataDir + "/master.sock" }

// Duration reads "10s", "1h" or a number of seconds.
type Duration time.Duration

// UnmarshalYAML accepts a Go duration string or seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if v, err := time.ParseDuration(n.Value); err == nil {
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := n.Decode(&secs); err != nil {
		return fmt.Errorf("line %d: expected a duration like 10s or 1h, got %q", n.Line, n.Value)
	}
	*d = Duration(time.Duration(secs * float64(time.Second)))
	return nil
}

// LoadMaster reads a master configuration file. A missing file at the
// default path is an empty configuration; at any other path it is an error.
func LoadMaster(path string) (*Master, error) {
	m := &Master{}
	data, err := load(path, DefaultMasterPath, m)
	if err != nil {
		return nil, err
	}
	if m.FileEnvs, m.PillarEnvs, err = otherEnvs(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.TopFiles.Check(m.FileRoots, m.FileEnvs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Source = path
	if m.MaxSLSBytes < 0 {
		return nil, fmt.Errorf("%s: max_sls_bytes is %d: give a positive number of bytes, or leave it out for %d", path, m.MaxSLSBytes, DefaultMaxSLSBytes)
	}
	if m.JinjaMaxOutputBytes < 0 || m.JinjaMaxSteps < 0 || m.JinjaMaxRenderTime < 0 {
		return nil, fmt.Errorf("%s: jinja_max_output_bytes, jinja_max_steps and jinja_max_render_time must not be negative: leave one out for its default", path)
	}
	if m.JinjaCallTimeout < 0 {
		return nil, fmt.Errorf("%s: jinja_call_timeout: %s is negative: give how long a compile may wait for a minion, like 30s",
			path, time.Duration(m.JinjaCallTimeout))
	}
	return m, nil
}

// load decodes a YAML file strictly into v and returns its bytes.
func load(path, defaultPath string, v any) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && path == defaultPath {
			return nil, nil
		}
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return data, nil
}
