package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// MaxPayload is the largest message the bus carries (compiled highstates can be big).
const MaxPayload = 8 << 20

// ServerConfig configures the embedded server.
type ServerConfig struct {
	DataDir  string        // JetStream store and TLS material live under it
	Listen   string        // host:port for minions; "" = no TCP listener (in-process only)
	Auth     Authorizer    // decides what each key may do
	MaxConn  int           // 0 = derived from the file descriptor limit
	ForceTLS bool          // require TLS even on a loopback address
	Log      *slog.Logger  // nil = discard
	Cluster  ClusterConfig // routes to other masters' servers; zero = a server of its own
}

// Server is a running embedded nats-server with JetStream.
type Server struct {
	ns      *server.Server
	auth    *authenticator
	monitor *nats.Conn
	caFP    string
	log     *slog.Logger
	stop    sync.Once
	// clustered: routes to other servers, JetStream clustered.
	clustered bool
}

// StartServer starts the embedded server; it is ready to accept clients when
// StartServer returns. Without a listener, clients connect in-process only.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.Auth == nil {
		return nil, errors.New("start bus: no authorizer")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("start bus: no data dir")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	monitorKey, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("start bus: monitor key: %w", err)
	}
	monitorPub, err := monitorKey.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("start bus: monitor key: %w", err)
	}
	s := &Server{log: log, auth: newAuthenticator(cfg.Auth, log, monitorPub)}

	opts := &server.Options{
		ServerName:                 "brine",
		JetStream:                  true,
		StoreDir:                   filepath.Join(cfg.DataDir, "jetstream"),
		MaxPayload:                 MaxPayload,
		MaxConn:                    cfg.MaxConn,
		NoSigs:                     true,
		DisableJetStreamBanner:     true,
		AlwaysEnableNonce:          true,
		CustomClientAuthentication: s.auth,
	}
	if opts.MaxConn <= 0 {
		opts.MaxConn = maxConnFromLimit()
	}
	if cfg.Cluster.clustered() {
		if cfg.Listen == "" {
			return nil, errors.New("start bus: a clustered bus needs a client listener (--listen) too")
		}
		if err := clusterOptions(opts, cfg.Cluster, filepath.Join(cfg.DataDir, "tls")); err != nil {
			return nil, fmt.Errorf("start bus: %w", err)
		}
		s.clustered = true
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitListen(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("start bus: %w", err)
		}
		opts.Host, opts.Port = host, port
		if err := checkListen(host, port); err != nil {
			return nil, fmt.Errorf("start bus: %w", err)
		}
		needTLS, err := NeedsTLS(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("start bus: %w", err)
		}
		if needTLS || cfg.ForceTLS {
			tc, fp, err := serverTLS(filepath.Join(cfg.DataDir, "tls"), host)
			if err != nil {
				return nil, fmt.Errorf("start bus: %w", err)
			}
			opts.TLSConfig, opts.TLSTimeout, s.caFP = tc, tlsTimeout.Seconds(), fp
		}
	}

	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start bus: %w", err)
	}
	debug := log.Enabled(ctx, slog.LevelDebug)
	fatal := make(chan string, 1)
	ns.SetLoggerV2(serverLog{log: log, fatal: fatal}, debug, false, false)
	s.ns = ns
	s.auth.sysAccount = ns.SystemAccount
	ns.Start()
	if err := waitReady(ctx, ns, fatal); err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("start bus: %w", err)
	}
	minions, err := minionAccount(ns)
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("start bus: %w", err)
	}
	s.auth.minions = minions
	if err := s.watchDisconnects(monitorKey); err != nil {
		s.Shutdown()
		return nil, fmt.Errorf("start bus: %w", err)
	}
	log.Info("bus: started", "server", opts.ServerName, "cluster_listen", cfg.Cluster.Listen, "peers", cfg.Cluster.Peers, "listen", cfg.Listen, "tls", s.caFP != "", "max_conn", opts.MaxConn, "store", opts.StoreDir)
	return s, nil
}

// minionAccountName is the NATS account every minion connection is in.
const minionAccountName = "BRINE_MINIONS"

// minionAccount makes the account minions connect in, apart from the
// master's account that holds JetStream, and the exports and imports that
// join them. Requests from minions (returns, job acknowledgements, file
// requests) reach the master's account through service imports, so their
// replies are subjects the server makes, which lead back to the requester
// alone: a minion cannot have JetStream or the master answer, with the
// master's rights, on a subject it chose. What minions only send (events,
// grains, key requests) and what they only receive (job deliveries) are
// stream imports, which carry no reply of the sender's.
func minionAccount(ns *server.Server) (*server.Account, error) {
	master := ns.GlobalAccount()
	minions, err := ns.RegisterAccount(minionAccountName)
	if err != nil {
		return nil, fmt.Errorf("minion account: %w", err)
	}
	for _, l := range accountLinks() {
		exporter, importer := master, minions
		if !l.toMinions {
			exporter, importer = minions, master
		}
		var err error
		if l.service {
			if err = exporter.AddServiceExport(l.subject, []*server.Account{importer}); err == nil {
				err = importer.AddServiceImport(exporter, l.subject, l.subject)
			}
		} else {
			if err = exporter.AddStreamExport(l.subject, []*server.Account{importer}); err == nil {
				err = importer.AddStreamImport(exporter, l.subject, "")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("link %s between the accounts: %w", l.subject, err)
		}
	}
	return minions, nil
}

// tlsTimeout bounds a client's TLS handshake.
const tlsTimeout = 5 * time.Second

// waitReady waits until ns accepts clients. It gives up when ctx ends,
// when the server reports a fatal error (it cannot listen, say: nats-server
// then logs and stays up, never ready) or when it stops running.
func waitReady(ctx context.Context, ns *server.Server, fatal <-chan string) error {
	for !ns.ReadyForConnections(100 * time.Millisecond) {
		select {
		case msg := <-fatal:
			return fmt.Errorf("the server cannot start: %s", msg)
		default:
		}
		if !ns.Running() {
			return errors.New("the server stopped while starting")
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wait for the server: %w", err)
		}
	}
	return nil
}

// checkListen tries the listen address before the server does, so a port
// in use is a clear error at once.
func checkListen(host string, port int) error {
	if port == server.RANDOM_PORT {
		return nil
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err == nil {
		if err := l.Close(); err != nil {
			return fmt.Errorf("bus listen %s: release the probe: %w", addr, err)
		}
		return nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("bus listen %s: %w; is another master running? (stop it, or choose another --listen)", addr, syscall.EADDRINUSE)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("bus listen %s: %w", addr, errno)
	}
	return fmt.Errorf("bus listen %s: %w", addr, err)
}

// splitListen splits host:port; port 0 picks a free port.
func splitListen(listen string) (string, int, error) {
	host, ps, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// watchDisconnects connects the bus's own system-account client that keeps
// the presence map in step with the server's disconnect events.
func (s *Server) watchDisconnects(key nkeys.KeyPair) error {
	pub, err := key.PublicKey()
	if err != nil {
		return fmt.Errorf("monitor key: %w", err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(s.ns), nats.Name("brine-bus-monitor"),
		nats.Nkey(pub, key.Sign), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			s.log.Error("bus: presence monitor", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("connect the presence monitor: %w", err)
	}
	_, err = nc.Subscribe(disconnectEvents, func(m *nats.Msg) {
		var ev server.DisconnectEventMsg
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			s.log.Warn("bus: bad disconnect event", "err", err)
			return
		}
		// In a cluster every server's disconnections arrive here, and
		// client ids are per server: only this server's own count.
		if ev.Server.ID != s.ns.ID() {
			return
		}
		s.auth.forget(ev.Client.ID)
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		nc.Close()
		return fmt.Errorf("watch disconnects: %w", err)
	}
	s.monitor = nc
	return nil
}

// ClientURL is the URL minions connect to (nats:// or tls://), or "" without a listener.
func (s *Server) ClientURL() string {
	if s.ns.Addr() == nil {
		return ""
	}
	u, err := url.Parse(s.ns.ClientURL())
	if err != nil {
		return ""
	}
	if host, port, err := net.SplitHostPort(u.Host); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			u.Host = net.JoinHostPort("127.0.0.1", port)
		}
	}
	return u.String()
}

// CAFingerprint is the SHA-256 fingerprint of the bus CA certificate, or ""
// when the bus runs without TLS.
func (s *Server) CAFingerprint() string { return s.caFP }

// InProcess connects a client to this server without a socket.
func (s *Server) InProcess() nats.Option { return nats.InProcessServer(s.ns) }

// Kick closes every connection authenticated with publicKey and returns how
// many it closed. A client that reconnects is authorized again, with the role
// its key has then.
func (s *Server) Kick(publicKey string) int {
	n := 0
	for _, cid := range s.auth.connections(publicKey) {
		if err := s.ns.DisconnectClientByID(cid); err == nil {
			n++
		}
		s.auth.forget(cid)
	}
	if n > 0 {
		s.log.Info("bus: kicked", "key", publicKey, "connections", n)
	}
	return n
}

// Listening reports whether a minion's subscription on subject reaches the
// bus (on this server or, in a cluster, through a route). A minion that
// has just reconnected is connected before its subscriptions are back:
// until then a message published on its delivery subject is lost.
func (s *Server) Listening(subject string) bool {
	return s.auth.minions != nil && s.auth.minions.SubscriptionInterest(subject)
}

// Connected reports whether a client authenticated with publicKey is connected.
func (s *Server) Connected(publicKey string) bool { return s.auth.connected(publicKey) }

// Shutdown stops the server and waits until it is down; later calls do nothing.
func (s *Server) Shutdown() {
	s.stop.Do(func() {
		if s.monitor != nil {
			s.monitor.Close()
		}
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.log.Info("bus: stopped")
	})
}

// fdReserve is how many file descriptors MaxConn leaves for the store, logs
// and everything else the process opens.
const fdReserve = 512

// maxConnFromLimit raises the soft file descriptor limit to the hard one and
// returns a connection limit below it: a server out of descriptors does not
// refuse clients, they hang.
func maxConnFromLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return server.DEFAULT_MAX_CONNECTIONS
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			rl = raised
		}
	}
	return connLimit(rl.Cur)
}

// connLimit is the connection limit for a descriptor limit of n.
func connLimit(n uint64) int {
	const ceiling = 1 << 20
	reserve := max(uint64(fdReserve), n/10)
	switch {
	case n > ceiling:
		return ceiling
	case n <= 2*reserve:
		return max(int(n/2), 1)
	default:
		return int(n - reserve)
	}
}

// serverLog sends nats-server's log lines to slog, and its fatal errors
// to fatal too (when nothing takes them, the first one waits there).
type serverLog struct {
	log   *slog.Logger
	fatal chan<- string
}

func (l serverLog) Noticef(format string, v ...any) { l.log.Info("nats: " + fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any)   { l.log.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (l serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error("nats: " + msg)
	select {
	case l.fatal <- msg:
	default:
	}
}
func (l serverLog) Errorf(format string, v ...any) { l.log.Error("nats: " + fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any) { l.log.Debug("nats: " + fmt.Sprintf(format, v...)) }
func (l serverLog) Tracef(format string, v ...any) { l.log.Debug("nats: " + fmt.Sprintf(format, v...)) }
