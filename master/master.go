// Package master is the brine master daemon: it embeds (or joins) the NATS
// bus, keeps minion keys, compiles each targeted minion's recipe with its
// own grains and pillar, publishes signed jobs, collects returns into the
// job cache and serves the CLI over gRPC on a unix socket.
package master

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"google.golang.org/grpc"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/dirlock"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/proto/brinepb"
)

// jobInfoBucket is the KV bucket of job metadata (function, target,
// expected minions), kept as long as the returns.
const jobInfoBucket = "BRINE_JOBINFO"

// Options are the master's settings, after defaults.
type Options struct {
	config.Master
	Extra []nats.Option // client options for the master's own connection (tests)
	Log   *slog.Logger
	// LockWait is how long Run waits for another master to release the
	// data dir (a previous master still shutting down); 0 = DefaultLockWait.
	LockWait time.Duration
	// JoinToken is the join token (brine cluster token) a master started
	// with Join presents; it is a secret, so never in the configuration.
	JoinToken string
}

// DefaultLockWait is how long a starting master waits for the one before
// it to finish shutting down and release the data dir.
const DefaultLockWait = 15 * time.Second

// lockFile is the data dir lock under DataDir; it holds the owner's pid.
const lockFile = "master.lock"

// Master is a running master.
type Master struct {
	opts    Options
	log     *slog.Logger
	key     nkeys.KeyPair
	pub     string
	keys    *keys.Store
	srv     *bus.Server // nil with an external NATS cluster
	nc      *nats.Conn
	callout *nats.Conn    // the auth callout connection, with an external NATS cluster
	co      *bus.Callout  // its answers, and the connections it authorized
	seen    *bus.Presence // the minions' connections on an external NATS cluster
	js      jetstream.JetStream
	jobInfo jetstream.KeyValue
	grains  *grainsCache
	ingest  ingestLimits
	files   *fileServer
	work    *keyedPool // per-minion background work: key changes, grains
	mesh    *meshes    // nil when mesh_reapply is off

	ready chan struct{}
	busUp chan struct{} // closed once the bus serves clients (and joining masters)
}

// New prepares a master: data directory and signing key. Run opens the key
// store, once it holds the data dir, and serves.
func New(opts Options) (*Master, error) {
	applyDefaults(&opts.Master)
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("master data dir: %w", err)
	}
	seed, err := keys.LoadOrCreate(filepath.Join(opts.DataDir, "master.nk"))
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	key, err := newSigner(seed)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	m := &Master{opts: opts, log: opts.Log, key: key, pub: pub,
		grains: newGrainsCache(), ingest: newIngestLimits(), files: newFileServer(opts.Master), ready: make(chan struct{}), busUp: make(chan struct{})}
	m.mesh = newMeshes(m, opts.Master)
	return m, nil
}

func applyDefaults(c *config.Master) {
	if c.DataDir == "" {
		c.DataDir = config.DefaultMasterDataDir
	}
	if c.Socket == "" {
		c.Socket = config.DefaultSocket(c.DataDir)
	}
	if len(c.FileRoots) == 0 {
		c.FileRoots = config.Roots{config.DefaultFileRoot}
	}
	if len(c.PillarRoots) == 0 {
		c.PillarRoots = config.Roots{config.DefaultPillarRoot}
	}
	if c.KeepJobs == 0 {
		c.KeepJobs = config.Duration(config.DefaultKeepJobs)
	}
	if c.JobTTL == 0 {
		c.JobTTL = config.Duration(config.DefaultJobTTL)
	}
	if c.Timeout == 0 {
		c.Timeout = config.Duration(config.DefaultTimeout)
	}
	if c.MaxPendingKeys == 0 {
		c.MaxPendingKeys = config.DefaultMaxPending
	}
}

// PublicKey is the master's NKey: it signs jobs and authenticates the master on the bus.
func (m *Master) PublicKey() string { return m.pub }

// Keys is the master's minion key store, open once Run holds the data dir.
func (m *Master) Keys() *keys.Store { return m.keys }

// Bus is the embedded bus server, nil when the master uses an external cluster.
func (m *Master) Bus() *bus.Server { return m.srv }

// Ready is closed once the master serves minions and the CLI.
func (m *Master) Ready() <-chan struct{} { return m.ready }

// Run locks the data dir (waiting up to LockWait for a master that still
// holds it), starts the bus (or connects to the cluster), the subscriptions
// and the gRPC API, and serves until ctx is done; then it stops the API, the
// background work and the bus, and releases the data dir.
func (m *Master) Run(ctx context.Context) error {
	unlock, err := m.lockDataDir(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if m.opts.Join != "" {
		if err := m.join(ctx, m.opts.JoinToken); err != nil {
			return err
		}
	}
	if err := m.startBus(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the cluster
		}
		return err
	}
	defer m.stopBus()
	defer m.mesh.stop()
	m.work = newKeyedPool(ctx, keyWorkers)
	defer m.work.wait()
	defer cancel() // stops the pool before the bus
	if err := m.subscribe(ctx); err != nil {
		return err
	}
	if m.clustered() {
		if err := m.retryCluster(ctx, m.startKeySync); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if m.srv != nil {
			go m.scaleStreams(ctx)
		}
	}
	m.keys.Watch(func(k keys.Key, old, new keys.State) { m.keyChanged(ctx, k, old, new) })
	if err := m.ensureConsumers(ctx); err != nil {
		return err
	}
	lis, err := listenSocket(m.opts.Socket)
	if err != nil {
		return err
	}
	gs := grpc.NewServer()
	brinepb.RegisterMasterServer(gs, &api{m: m})
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	m.log.Info("master ready", "bus", m.busURL(), "socket", m.opts.Socket, "key", m.pub)
	stopSchedule := m.startSchedule(ctx)
	defer func() { cancel(); stopSchedule() }()
	close(m.ready)
	select {
	case <-ctx.Done():
		m.log.Info("master stopping")
		gs.Stop()
		return nil
	case err := <-errc:
		return fmt.Errorf("serve CLI API: %w", err)
	}
}

// lockDataDir takes the data dir lock and opens the key store under it, so
// that it reads the keys a master that held the dir until now left. The
// returned function releases the lock.
func (m *Master) lockDataDir(ctx context.Context) (func(), error) {
	unlock, err := dirlock.AcquireDir(ctx, m.opts.DataDir, lockFile, "master", cmp.Or(m.opts.LockWait, DefaultLockWait), m.log)
	if err != nil {
		return nil, err
	}
	store, err := keys.OpenStore(filepath.Join(m.opts.DataDir, "pki"))
	if err != nil {
		unlock()
		return nil, fmt.Errorf("master key store: %w", err)
	}
	store.LimitPending(m.opts.MaxPendingKeys)
	m.keys = store
	return unlock, nil
}

// keyWorkers is how many goroutines do the master's per-minion background
// work; creating job consumers is mostly waiting for the store, so a few
// dozen at once go much faster than one at a time.
const keyWorkers = 32

// ensureConsumers makes sure every accepted minion has its job consumer,
// keyWorkers at a time.
func (m *Master) ensureConsumers(ctx context.Context) error {
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, keyWorkers)
	for _, k := range m.keys.List() {
		if k.State != keys.Accepted {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := bus.EnsureMinionConsumer(ctx, m.js, k.ID); err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

func (m *Master) busURL() string {
	if m.srv != nil {
		return m.srv.ClientURL()
	}
	return fmt.Sprint(m.opts.NATS)
}

// BusURL is where minions connect.
func (m *Master) BusURL() string { return m.busURL() }

func (m *Master) startBus(ctx context.Context) error {
	cc := bus.ClientConfig{Name: bus.MasterID, Key: m.key, Log: m.log, Extra: m.opts.Extra,
		OnError: func(err error) { m.log.Warn("bus error", "err", err) }}
	if len(m.opts.NATS) > 0 {
		if err := m.serveCallout(ctx); err != nil {
			return err
		}
		cc.URLs = m.opts.NATS
	} else {
		cluster := bus.ClusterConfig{Listen: m.opts.ClusterListen, Name: m.opts.ClusterName}
		if cluster.Listen != "" {
			peers, err := m.clusterPeers()
			if err != nil {
				return err
			}
			cluster.Peers = peers
		}
		srv, err := bus.StartServer(ctx, bus.ServerConfig{DataDir: m.busDir(),
			Listen: m.opts.Listen, Auth: authorizer{m}, Log: m.log, Cluster: cluster})
		if err != nil {
			return err // it says "start bus" already
		}
		m.srv = srv
		cc.Extra = append(cc.Extra, srv.InProcess())
		if fp := srv.CAFingerprint(); fp != "" {
			m.log.Info("bus CA fingerprint (minions pin it on first contact)", "fingerprint", fp)
		}
	}
	nc, err := bus.Connect(ctx, cc)
	if err != nil {
		if m.srv != nil {
			m.srv.Shutdown()
		}
		return fmt.Errorf("connect to bus: %w", err)
	}
	m.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	m.js = js
	if m.srv != nil && m.srv.Clustered() {
		// Masters join before the cluster's JetStream has a leader (the
		// first master waits for a second), so they are answered at once.
		if _, err := nc.QueueSubscribe(bus.AllJoin, joinQueue, guarded(m.log, bus.AllJoin, m.handleJoin)); err != nil {
			return fmt.Errorf("subscribe to %s: %w", bus.AllJoin, err)
		}
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("subscribe to %s: %w", bus.AllJoin, err)
		}
		m.log.Info("cluster: the bus is up; waiting for the cluster's JetStream", "server", m.srv.ServerName())
	}
	close(m.busUp)
	if err := m.setupStreams(ctx); err != nil {
		return err
	}
	m.grains.load(ctx, js, m.log)
	return nil
}

// clusterWait is how long a clustered master waits between attempts to set
// up its streams while the cluster elects its JetStream leader.
const clusterWait = 500 * time.Millisecond

// setupStreams creates or updates the streams, replicated on a cluster. A
// clustered master retries until the cluster's JetStream answers (it has
// no leader until enough masters are up), saying so in the log.
func (m *Master) setupStreams(ctx context.Context) error {
	return m.retryCluster(ctx, m.setupStreamsOnce)
}

// clustered reports whether the master shares its bus with other masters:
// an embedded cluster, or an external NATS cluster.
func (m *Master) clustered() bool {
	return len(m.opts.NATS) > 0 || m.srv != nil && m.srv.Clustered()
}

// retryCluster runs fn, and on a cluster again until it succeeds: the
// cluster's JetStream answers only once it has a leader, and is slow while
// masters join.
func (m *Master) retryCluster(ctx context.Context, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !m.clustered() {
			return err
		}
		if attempt%20 == 1 {
			hint := "are the other masters up?"
			if m.srv == nil {
				hint = "does every server include what brine cluster nats-config prints, with JetStream on?"
			}
			m.log.Warn("cluster: waiting for the cluster's JetStream ("+hint+")", "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(clusterWait):
		}
	}
}

// setupStreamsOnce creates or updates the streams and the job information bucket.
func (m *Master) setupStreamsOnce(ctx context.Context) error {
	js := m.js
	if err := bus.SetupReplicatedStreams(ctx, js, time.Duration(m.opts.KeepJobs), m.replicas()); err != nil {
		return err
	}
	if err := roomForConsumers(ctx, js); err != nil {
		return err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: jobInfoBucket,
		Description: "brine job metadata", TTL: time.Duration(m.opts.KeepJobs), Storage: jetstream.FileStorage,
		MaxValueSize: bus.MaxPayload, MaxBytes: bus.JobInfoLimit(ctx, js),
		Replicas: bus.KeepReplicas(ctx, js, "KV_"+jobInfoBucket, m.replicas())})
	if err != nil {
		return fmt.Errorf("job info bucket: %w", err)
	}
	m.jobInfo = kv
	return nil
}

// maxJobConsumers is the job stream's consumer limit: one durable consumer
// per accepted minion.
const maxJobConsumers = 1 << 24

// roomForConsumers lifts the job stream's consumer limit to
// maxJobConsumers: unless a stream sets its own, nats-server allows 1,000
// consumers per stream, and the minions accepted past that would never
// receive a job.
func roomForConsumers(ctx context.Context, js jetstream.JetStream) error {
	s, err := js.Stream(ctx, bus.JobStream)
	if err != nil {
		return fmt.Errorf("job stream: %w", err)
	}
	cfg := s.CachedInfo().Config
	if cfg.MaxConsumers >= maxJobConsumers {
		return nil
	}
	cfg.MaxConsumers = maxJobConsumers
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("job stream: raise the consumer limit to %d: %w", maxJobConsumers, err)
	}
	return nil
}

func (m *Master) stopBus() {
	if m.nc != nil {
		m.nc.Close()
	}
	if m.callout != nil {
		m.callout.Close()
	}
	if m.srv != nil {
		m.srv.Shutdown()
	}
}

// connected reports whether a minion is on the bus now: on the embedded
// server, connected with its delivery subscription in place; on an
// external cluster, connected to one of its servers, as the servers'
// connection events and lists say.
func (m *Master) connected(id string) bool {
	k, ok := m.keys.Get(id)
	switch {
	case !ok:
		return false
	case m.srv != nil:
		return m.srv.Connected(k.PublicKey) && m.srv.Listening(bus.DeliverSubject(id))
	case m.seen != nil:
		return m.seen.Connected(k.PublicKey)
	}
	return false
}

// socketProbe bounds the check for a master already answering on the CLI socket.
const socketProbe = time.Second

// listenSocket listens on the CLI's unix socket, replacing a stale one; a
// socket some running process still answers on is an error.
func listenSocket(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, socketProbe); err == nil {
		c.Close()
		return nil, fmt.Errorf("CLI socket %s: another master answers on it; stop that master, or give this one another --socket", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		lis.Close()
		return nil, fmt.Errorf("socket permissions: %w", err)
	}
	return lis, nil
}
