// Package minion is the brine minion daemon: it keeps an NKey identity,
// asks its master to accept that key, pins the master's job signing key,
// takes signed jobs from its durable job consumer, runs them (state runs
// one at a time, other functions concurrently) and sends back every
// return. Jobs accepted and returns not yet acknowledged live on disk, so
// neither a crash nor a bus outage loses one.
package minion

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/cmdrun"
	"github.com/brinecm/brine/pkg/dirlock"
	"github.com/brinecm/brine/pkg/grains"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/keys"
)

// Config configures a minion.
type Config struct {
	ID string
	// Masters are the master's bus URLs (nats://host:port). A tls:// URL or
	// a host off loopback makes the connection use TLS with the bus CA
	// pinned on first contact.
	Masters []string
	// DataDir holds the minion's state: minion.nk (its key seed, 0600),
	// master.pub (the pinned job signing key), ca.pin (the pinned bus CA),
	// replay (job ids already taken), queue/ (jobs accepted but not
	// finished), outbox/ (returns not yet acknowledged), highstate.signed
	// (the last highstate as the master signed it, with its pillar: 0600;
	// applied again when the master is away),
	// schedule.json (entries schedule.add and schedule.delete changed),
	// files/ (the state tree file cache) and commands/ (the process
	// groups of the commands running now).
	DataDir string
	// Grains are static custom grains, merged over the collected ones.
	Grains map[string]any
	// GrainsInterval is how often grains are collected again and sent when
	// they changed (default 10 minutes).
	GrainsInterval time.Duration
	// AliveInterval is how often the minion checks that its master's
	// server still answers (Salt's master_alive_interval): two checks
	// unanswered and it moves to another of Masters. 0 =
	// DefaultAliveInterval.
	AliveInterval time.Duration
	// Extra are more bus connection options, e.g. an in-process connection
	// to an embedded server.
	Extra []nats.Option
	// Log receives the minion's log (default slog.Default()).
	Log *slog.Logger
	// LockWait is how long Run waits for another minion process to release
	// DataDir (one still shutting down); 0 = DefaultLockWait.
	LockWait time.Duration
	// ConfigFile is the minion's configuration file, whose schedule: the
	// minion runs (read at start and by schedule.reload); "" for none.
	ConfigFile string
	// ReleaseMemory makes the minion give memory back to the system once
	// it has been idle for a moment after start-up and after each job: the
	// Go heap's free pages and the executable's code pages it mapped
	// meanwhile (see releaseMemory). Its effect is process-wide: set it
	// only when the process runs this one minion, as `brine minion` does.
	ReleaseMemory bool
}

// DefaultAliveInterval is how often a minion checks that its master's
// server answers: one that stops answering is left after about a minute.
// At 10,000 minions it costs the servers 333 pings a second.
const DefaultAliveInterval = 30 * time.Second

// DefaultLockWait is how long a starting minion waits for the process
// before it to release the data dir.
const DefaultLockWait = 15 * time.Second

// Files and directories under Config.DataDir.
const (
	seedFile      = "minion.nk"
	masterKeyFile = "master.pub"
	caPinFile     = "ca.pin"
	replayFile    = "replay"
	queueDir      = "queue"
	outboxDir     = "outbox"
	filesDir      = "files"
	commandsDir   = "commands"
	lockFile      = "minion.lock"
)

// defaultGrainsInterval is how often grains are refreshed by default.
const defaultGrainsInterval = 10 * time.Minute

// Minion is a brine minion. Create it with New, then call Run once.
type Minion struct {
	cfg     Config
	log     *slog.Logger
	kp      nkeys.KeyPair
	pub     string
	pinFile string // "" when the bus needs no TLS
	queue   spool
	outbox  spool
	guard   *job.ReplayGuard
	// fileTimeout bounds one file server request (fileRequestTimeout).
	fileTimeout time.Duration

	running atomic.Bool

	mu        sync.Mutex
	masterKey string         // pinned job signing key, "" until known
	grains    map[string]any // latest collected grains; replaced, never modified

	conn     atomic.Pointer[nats.Conn] // current bus connection, nil before the first
	accepted atomic.Bool               // the current connection has minion rights
	changed  signal                    // fired on every reconnection and acceptance
	refused  signal                    // fired when the server refuses a file server request
	sendWake chan struct{}             // wakes the return sender
	// releaseWake wakes releaseLoop; active counts the jobs running.
	releaseWake chan struct{}
	active      atomic.Int32
	states      fifo            // state jobs waiting their turn
	sched       *minionSchedule // the minion's schedule
	drift       *driftWatch     // event-driven drift correction

	jobsMu   sync.Mutex     // guards stopping and adding to jobs
	stopping bool           // Run is returning: start no more jobs
	jobs     sync.WaitGroup // running jobs other than state runs
}

// New prepares a minion: it checks cfg, creates the data directory and
// loads the minion's key, creating it on first start. It never touches the
// network.
func New(cfg Config) (*Minion, error) {
	if err := bus.ValidID(cfg.ID); err != nil {
		return nil, fmt.Errorf("new minion: %w", err)
	}
	if err := keys.CheckID(cfg.ID); err != nil {
		return nil, fmt.Errorf("new minion: %w", err)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("new minion: no data directory")
	}
	if cfg.GrainsInterval <= 0 {
		cfg.GrainsInterval = defaultGrainsInterval
	}
	if cfg.AliveInterval <= 0 {
		cfg.AliveInterval = DefaultAliveInterval
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	tlsNeeded, err := needsTLS(cfg.Masters)
	if err != nil {
		return nil, fmt.Errorf("new minion: %w", err)
	}
	for _, d := range []string{cfg.DataDir, filepath.Join(cfg.DataDir, queueDir),
		filepath.Join(cfg.DataDir, outboxDir), filepath.Join(cfg.DataDir, filesDir),
		filepath.Join(cfg.DataDir, commandsDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("new minion: %w", err)
		}
	}
	kp, err := keys.LoadOrCreate(filepath.Join(cfg.DataDir, seedFile))
	if err != nil {
		return nil, fmt.Errorf("new minion: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("new minion: %w", err)
	}
	guard, err := job.OpenReplayGuard(filepath.Join(cfg.DataDir, replayFile))
	if err != nil {
		return nil, fmt.Errorf("new minion: %w", err)
	}
	master, err := readMasterKey(filepath.Join(cfg.DataDir, masterKeyFile))
	if err != nil {
		return nil, fmt.Errorf("new minion: %w", err)
	}
	m := &Minion{
		cfg:       cfg,
		log:       log.With("minion", cfg.ID),
		kp:        kp,
		pub:       pub,
		queue:     spool{filepath.Join(cfg.DataDir, queueDir)},
		outbox:    spool{filepath.Join(cfg.DataDir, outboxDir)},
		guard:     guard,
		masterKey: master,
		sendWake:  make(chan struct{}, 1),

		releaseWake: make(chan struct{}, 1),

		fileTimeout: fileRequestTimeout,
	}
	if tlsNeeded {
		m.pinFile = filepath.Join(cfg.DataDir, caPinFile)
	}
	m.sched = newMinionSchedule(m)
	m.drift = newDriftWatch(m)
	return m, nil
}

// needsTLS reports whether any of the master URLs needs TLS: a tls:// URL,
// or a host that is not loopback.
func needsTLS(urls []string) (bool, error) {
	for _, raw := range urls {
		for _, one := range strings.Split(raw, ",") {
			one = strings.TrimSpace(one)
			if !strings.Contains(one, "://") {
				one = "nats://" + one // as the NATS client reads a bare host:port
			}
			u, err := url.Parse(one)
			if err != nil {
				return false, fmt.Errorf("master URL %q: %w", one, err)
			}
			if u.Scheme == "tls" {
				return true, nil
			}
			if u.Host == "" {
				return false, fmt.Errorf("master URL %q: no host (want nats://host:port)", one)
			}
			hostport := u.Host
			if u.Port() == "" {
				hostport = net.JoinHostPort(u.Hostname(), "4222")
			}
			need, err := bus.NeedsTLS(hostport)
			if err != nil {
				return false, fmt.Errorf("master URL %q: %w", one, err)
			}
			if need {
				return true, nil
			}
		}
	}
	return false, nil
}

// PublicKey returns the minion's public NKey.
func (m *Minion) PublicKey() string { return m.pub }

// Fingerprint returns the fingerprint of the minion's public key, as the
// master's key listing shows it.
func (m *Minion) Fingerprint() string { return keys.Fingerprint(m.pub) }

// Run runs the minion until ctx is done: jobs left in the queue run first,
// returns left in the outbox are sent again, and the minion connects to its
// master, asks to be accepted, and takes jobs; it reconnects forever.
// Commands left running by a previous run that was killed are killed
// first. When ctx is done it stops taking jobs, cancels the running ones
// (a cancelled job stays queued and runs again at the next start) and
// returns once everything is on disk.
func (m *Minion) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("minion: Run called twice")
	}
	unlock, err := m.lockDataDir(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	m.log.Info("minion starting", "public_key", m.pub, "fingerprint", m.Fingerprint())
	cleanTemp(m.queue.dir)
	cleanTemp(m.outbox.dir)
	// Commands a killed run of this minion left running die now; the
	// jobs that ran them run again from the queue.
	commands := filepath.Join(m.cfg.DataDir, commandsDir)
	killed, err := cmdrun.KillLeftovers(commands)
	if len(killed) > 0 {
		m.log.Warn("killed commands left running by the previous run", "pids", killed)
	}
	if err != nil {
		m.log.Error("cannot clean up commands left running by the previous run", "err", err)
	}
	ctx = cmdrun.WithGroupDir(ctx, commands)
	m.refreshGrains(ctx)

	var wg sync.WaitGroup
	wg.Go(func() { m.sendLoop(ctx) })
	if err := m.requeue(ctx); err != nil {
		m.log.Error("cannot read the job queue", "err", err)
	}
	m.drift.start(ctx)
	wg.Go(func() { m.stateLoop(ctx) })
	m.sched.reload()
	wg.Go(func() { m.sched.runner.Run(ctx) })
	if m.cfg.ReleaseMemory {
		wg.Go(func() { m.releaseLoop(ctx) })
	}
	m.connectLoop(ctx)

	wg.Wait()
	m.drift.close()
	m.stopJobs()
	if nc := m.conn.Load(); nc != nil {
		if err := nc.FlushTimeout(time.Second); err != nil {
			m.log.Debug("flush before closing the bus connection", "err", err)
		}
		nc.Close()
	}
	m.log.Info("minion stopped")
	return nil
}

// lockDataDir takes the data dir lock, so two minion processes never share
// a queue, an outbox or a replay guard, and reads the replay guard and the
// pinned master key again under it: a minion that held the dir until now
// may have changed them since New read them. The returned function
// releases the lock.
func (m *Minion) lockDataDir(ctx context.Context) (func(), error) {
	unlock, err := dirlock.AcquireDir(ctx, m.cfg.DataDir, lockFile, "minion", cmp.Or(m.cfg.LockWait, DefaultLockWait), m.log)
	if err != nil {
		return nil, err
	}
	guard, err := job.OpenReplayGuard(filepath.Join(m.cfg.DataDir, replayFile))
	if err != nil {
		unlock()
		return nil, fmt.Errorf("minion: %w", err)
	}
	master, err := readMasterKey(filepath.Join(m.cfg.DataDir, masterKeyFile))
	if err != nil {
		unlock()
		return nil, fmt.Errorf("minion: %w", err)
	}
	m.guard = guard
	m.mu.Lock()
	m.masterKey = master
	m.mu.Unlock()
	return unlock, nil
}

// refreshGrains collects the grains; it reports whether they changed.
func (m *Minion) refreshGrains(ctx context.Context) bool {
	g, err := grains.Collect(ctx, m.cfg.ID, m.cfg.Grains)
	if err != nil {
		m.log.Warn("cannot collect grains", "err", err)
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	same := m.grains != nil && sameJSON(m.grains, g)
	m.grains = g
	return !same
}

// currentGrains returns the latest grains (never modified: share freely).
func (m *Minion) currentGrains() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.grains
}

// master returns the pinned job signing key, "" when none is known yet.
func (m *Minion) master() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.masterKey
}
