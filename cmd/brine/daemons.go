package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/minion"
	"github.com/brinecm/brine/pkg/config"
)

// shutdownGrace bounds a daemon's clean shutdown once SIGTERM or SIGINT
// arrived. It stays below the data dir lock wait (15s), so a daemon
// restarted at once gets its data dir even from one that shuts down badly.
const shutdownGrace = 10 * time.Second

// minionMemoryLimit is the minion process's soft memory limit (see
// runtime/debug.SetMemoryLimit) unless GOMEMLIMIT sets another: past it the
// Go runtime collects garbage harder instead of growing the heap, so a big
// state run does not leave the process with twice its live data.
const minionMemoryLimit = 64 << 20

// runDaemon runs a daemon until it returns. Once ctx ends it gives the
// daemon shutdownGrace to stop, then gives up on it: the process exits and
// the kernel releases its ports and locks.
func runDaemon(ctx context.Context, what string, run func(context.Context) error) error {
	errc := make(chan error, 1)
	go func() { errc <- run(ctx) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	grace := time.NewTimer(shutdownGrace)
	defer grace.Stop()
	select {
	case err := <-errc:
		return err
	case <-grace.C:
		return fmt.Errorf("the %s did not stop within %s of the signal; exiting without a clean shutdown", what, shutdownGrace)
	}
}

func newMasterCommand() *cobra.Command {
	var (
		cfgPath  string
		logLevel string
		c        config.Master
		mf       masterFlags
	)
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Run the master: the bus, the key store, the job cache and the CLI API",
		Long: `Run the master. It embeds a NATS server with JetStream in its data directory
(or joins an existing cluster with --nats), keeps minion keys, compiles each
targeted minion's recipes with its own grains and pillar, publishes signed jobs
and serves the CLI on a unix socket. Every configuration key is also a flag;
flags win over the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			fileCfg, err := config.LoadMaster(cfgPath)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			mergeMaster(cmd.Flags(), fileCfg, &c, &mf)
			if err := fileCfg.TopFiles.Check(fileCfg.FileRoots, fileCfg.FileEnvs); err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			m, err := master.New(master.Options{Master: *fileCfg, Log: log, JoinToken: mf.token})
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			run := m.Run
			if fileCfg.HTTP != "" {
				if run, err = withWeb(m, *fileCfg, log); err != nil {
					return &exitStatus{code: exitError, err: err}
				}
			}
			if err := runDaemon(cmd.Context(), "master", run); err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfgPath, "config", config.DefaultMasterPath, "master configuration file")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warning, error")
	fl.StringVar(&c.DataDir, "data-dir", config.DefaultMasterDataDir, "keys, bus store and job cache")
	fl.StringVar(&c.Listen, "listen", config.DefaultListen, "bus address for minions (TLS off loopback)")
	fl.StringVar(&c.Socket, "socket", "", "CLI socket (default DATA_DIR/master.sock)")
	fl.StringArrayVar((*[]string)(&c.FileRoots), "file-root", nil, "state tree directory (repeatable)")
	fl.StringArrayVar((*[]string)(&c.PillarRoots), "pillar-root", nil, "pillar tree directory (repeatable)")
	fl.BoolVar(&c.AutoAccept, "auto-accept", false, "accept every new minion key (demos and tests only)")
	fl.StringVar(&mf.nats, "nats", "", "use this NATS cluster (nats://a,nats://b) instead of the embedded server; its servers include what brine cluster nats-config prints")
	fl.DurationVar(&mf.natsGrantTTL, "nats-grant-ttl", 0, "with --nats: how long a connection's permissions last before the servers ask the masters again; a rejected key is cut off within this long (0: 2m)")
	fl.DurationVar(&mf.keepJobs, "keep-jobs", config.DefaultKeepJobs, "job cache retention")
	fl.DurationVar(&mf.jobTTL, "job-ttl", config.DefaultJobTTL, "default time an offline minion may still receive a job")
	fl.DurationVar(&mf.timeout, "timeout", config.DefaultTimeout, "default wait for returns")
	fl.BoolVar(&mf.meshReapply, "mesh-reapply", true, "re-apply mesh states (ovs.mesh, net.vxlan_mesh) when their peers join, leave or move")
	fl.DurationVar(&mf.meshDelay, "mesh-reapply-delay", config.DefaultMeshDelay, "gather peer changes this long into one re-apply")
	fl.DurationVar(&mf.jinjaCallTimeout, "jinja-call-timeout", config.DefaultJinjaCallTimeout, "how long a compile waits for a minion to run a salt['mod.fun'](...) call of its recipe")
	fl.IntVar(&c.MaxPendingKeys, "max-pending-keys", config.DefaultMaxPending, "keys that may wait for acceptance at once; more key requests are refused")
	fl.Int64Var(&c.MaxSLSBytes, "max-sls-bytes", config.DefaultMaxSLSBytes, "largest SLS, pillar, top or template file a compile reads")
	fl.IntVar(&c.JinjaMaxOutputBytes, "jinja-max-output-bytes", 0, "largest output of one template render (0: 16 MiB)")
	fl.IntVar(&c.JinjaMaxSteps, "jinja-max-steps", 0, "loop iterations and macro calls one template render may make (0: 1,000,000)")
	fl.DurationVar(&mf.jinjaMaxRenderTime, "jinja-max-render-time", 0, "longest one template render may take (0: 30s)")
	fl.BoolVar(&c.FollowSymlinksOutsideRoot, "follow-symlinks-outside-root", false, "let the file server serve symlinks that lead outside their file root")
	fl.StringVar(&c.ClusterListen, "cluster-listen", "", "host:port the bus takes routes from the other masters on (TLS with the fleet's CA); \"\" = no cluster")
	fl.StringVar(&mf.peers, "peers", "", "the other masters' --cluster-listen addresses (h:p,h:p)")
	fl.StringVar(&c.ClusterName, "cluster-name", "", "NATS cluster name (default brine)")
	fl.StringVar(&c.Join, "join", "", "join the cluster of the master with this bus URL (nats://host:4506), with --token")
	fl.StringVar(&mf.token, "token", "", "join token (brine cluster token on a master of the cluster)")
	fl.BoolVar(&c.StrictArguments, "strict-arguments", false, "refuse state runs with an unknown state argument (by default the state warns and runs)")
	fl.BoolVar(&c.PyDSL, "pydsl", false, "allow the #!pydsl renderer (SLS in Python, run as the master's user)")
	fl.StringVar(&c.TopFileMergingStrategy, "top-file-merging-strategy", "", "how a highstate merges the environments' top files: merge (default), same, merge_all")
	fl.StringSliceVar(&c.EnvOrder, "env-order", nil, "the order the environments' top files are merged in, leaving the others out (comma-separated)")
	fl.StringVar(&c.DefaultTop, "default-top", "", "with --top-file-merging-strategy same: the environment whose top file serves environments without one (default base)")
	fl.StringVar(&c.StateTopSaltenv, "state-top-saltenv", "", "read only this environment's top file")
	fl.StringVar(&c.HTTP, "http", "", "serve the web view on HOST:PORT (off by default; :PORT is loopback)")
	fl.StringVar(&c.HTTPCert, "http-cert", "", "the web view's certificate, PEM (default: one the bus CA issues)")
	fl.StringVar(&c.HTTPKey, "http-key", "", "the web view's key, PEM")
	fl.StringVar(&c.HTTPClientCA, "http-client-ca", "", "the CA, PEM, whose client certificates log in to the web view read-only (default: the bus CA)")
	fl.StringSliceVar(&c.HTTPRunClients, "http-run-clients", nil, "the Common Name of a client certificate that may also run jobs and change keys in the web view (comma-separated or repeated)")
	return cmd
}

// masterFlags are the master's flags that do not map onto config.Master
// one to one.
type masterFlags struct {
	keepJobs, jobTTL, timeout, meshDelay, jinjaCallTimeout, jinjaMaxRenderTime, natsGrantTTL time.Duration
	nats, peers, token                                                                       string
	meshReapply                                                                              bool
}

// mergeMaster applies the flags the user set over the configuration file.
func mergeMaster(fl *pflag.FlagSet, dst, flags *config.Master, mf *masterFlags) {
	set := func(name string) bool { return fl.Changed(name) }
	if set("data-dir") || dst.DataDir == "" {
		dst.DataDir = flags.DataDir
	}
	if set("listen") || dst.Listen == "" {
		dst.Listen = flags.Listen
	}
	if set("socket") {
		dst.Socket = flags.Socket
	}
	if set("file-root") {
		dst.FileRoots = flags.FileRoots
	}
	if set("pillar-root") {
		dst.PillarRoots = flags.PillarRoots
	}
	if set("auto-accept") {
		dst.AutoAccept = flags.AutoAccept
	}
	if set("nats") {
		dst.NATS = strings.Split(mf.nats, ",")
	}
	if set("nats-grant-ttl") {
		dst.NATSGrantTTL = config.Duration(mf.natsGrantTTL)
	}
	if set("keep-jobs") || dst.KeepJobs == 0 {
		dst.KeepJobs = config.Duration(mf.keepJobs)
	}
	if set("job-ttl") || dst.JobTTL == 0 {
		dst.JobTTL = config.Duration(mf.jobTTL)
	}
	if set("timeout") || dst.Timeout == 0 {
		dst.Timeout = config.Duration(mf.timeout)
	}
	if set("mesh-reapply") {
		dst.MeshReapply = &mf.meshReapply
	}
	if set("mesh-reapply-delay") || dst.MeshReapplyDelay == 0 {
		dst.MeshReapplyDelay = config.Duration(mf.meshDelay)
	}
	if set("jinja-call-timeout") || dst.JinjaCallTimeout == 0 {
		dst.JinjaCallTimeout = config.Duration(mf.jinjaCallTimeout)
	}
	if set("max-pending-keys") || dst.MaxPendingKeys == 0 {
		dst.MaxPendingKeys = flags.MaxPendingKeys
	}
	if set("max-sls-bytes") || dst.MaxSLSBytes == 0 {
		dst.MaxSLSBytes = flags.MaxSLSBytes
	}
	if set("jinja-max-output-bytes") {
		dst.JinjaMaxOutputBytes = flags.JinjaMaxOutputBytes
	}
	if set("jinja-max-steps") {
		dst.JinjaMaxSteps = flags.JinjaMaxSteps
	}
	if set("jinja-max-render-time") {
		dst.JinjaMaxRenderTime = config.Duration(mf.jinjaMaxRenderTime)
	}
	if set("follow-symlinks-outside-root") {
		dst.FollowSymlinksOutsideRoot = flags.FollowSymlinksOutsideRoot
	}
	if set("cluster-listen") {
		dst.ClusterListen = flags.ClusterListen
	}
	if set("peers") {
		dst.Peers = strings.Split(mf.peers, ",")
	}
	if set("cluster-name") {
		dst.ClusterName = flags.ClusterName
	}
	if set("join") {
		dst.Join = flags.Join
	}
	if set("strict-arguments") {
		dst.StrictArguments = flags.StrictArguments
	}
	if set("pydsl") {
		dst.PyDSL = flags.PyDSL
	}
	if set("top-file-merging-strategy") {
		dst.TopFileMergingStrategy = flags.TopFileMergingStrategy
	}
	if set("env-order") {
		dst.EnvOrder = flags.EnvOrder
	}
	if set("default-top") {
		dst.DefaultTop = flags.DefaultTop
	}
	if set("state-top-saltenv") {
		dst.StateTopSaltenv = flags.StateTopSaltenv
	}
	if set("http") {
		dst.HTTP = flags.HTTP
	}
	if set("http-cert") {
		dst.HTTPCert = flags.HTTPCert
	}
	if set("http-key") {
		dst.HTTPKey = flags.HTTPKey
	}
	if set("http-client-ca") {
		dst.HTTPClientCA = flags.HTTPClientCA
	}
	if set("http-run-clients") {
		dst.HTTPRunClients = flags.HTTPRunClients
	}
}

func newMinionCommand() *cobra.Command {
	var (
		cfgPath, logLevel, id, masters, dataDir string
	)
	cmd := &cobra.Command{
		Use:   "minion",
		Short: "Run a minion: connect to the master, ask to be accepted, run jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			cfg, err := config.LoadMinion(cfgPath)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			fl := cmd.Flags()
			if fl.Changed("id") || cfg.ID == "" {
				cfg.ID = id
			}
			if fl.Changed("master") || len(cfg.Master) == 0 {
				cfg.Master = strings.Split(masters, ",")
			}
			if fl.Changed("data-dir") || cfg.DataDir == "" {
				cfg.DataDir = dataDir
			}
			if cfg.ID == "" {
				if cfg.ID, err = os.Hostname(); err != nil {
					return &exitStatus{code: exitError, err: fmt.Errorf("no minion id: set --id or id: in %s", cfgPath)}
				}
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(minionMemoryLimit)
			}
			m, err := minion.New(minion.Config{ID: cfg.ID, Masters: cfg.Master, DataDir: cfg.DataDir, Grains: cfg.Grains, Log: log,
				AliveInterval: time.Duration(cfg.MasterAliveInterval),
				ConfigFile:    configFileIfAny(cfgPath), ReleaseMemory: true})
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "minion %s key fingerprint: %s\n", cfg.ID, m.Fingerprint())
			log.Info("minion starting", slog.String("id", cfg.ID), slog.String("fingerprint", m.Fingerprint()))
			if err := runDaemon(cmd.Context(), "minion", m.Run); err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfgPath, "config", config.DefaultMinionPath, "minion configuration file")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warning, error")
	fl.StringVar(&id, "id", "", "minion id (default: the configuration's id, else the host name)")
	fl.StringVar(&masters, "master", "nats://"+config.DefaultListen, "the master's bus URL(s), comma-separated")
	fl.StringVar(&dataDir, "data-dir", config.DefaultMinionDataDir, "key, pins, job queue and cached highstate")
	return cmd
}

// configFileIfAny is path, or "" when it is the default path and there is
// no file there (the minion then runs without a configuration file).
func configFileIfAny(path string) string {
	if _, err := os.Stat(path); err != nil && path == config.DefaultMinionPath {
		return ""
	}
	return path
}
