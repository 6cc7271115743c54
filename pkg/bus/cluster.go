package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterConfig makes the embedded server one of several masters' servers
// joined by routes into one NATS cluster with a clustered JetStream.
type ClusterConfig struct {
	Listen string   // host:port of the route listener; "" = not clustered
	Peers  []string // host:port of the other masters' route listeners
	Name   string   // cluster name; "" = DefaultClusterName
	// ServerName names this server in the cluster, stable across restarts;
	// "" = brine-<host name>-<route port>.
	ServerName string
}

// DefaultClusterName is the NATS cluster name of a brine fleet.
const DefaultClusterName = "brine"

// MaxReplicas is the replica count of every stream and bucket in a cluster
// of at least that many servers.
const MaxReplicas = 3

// clustered reports whether c asks for a cluster.
func (c ClusterConfig) clustered() bool { return c.Listen != "" }

// serverName is the server's name in the cluster.
func (c ClusterConfig) serverName(port int) string {
	if c.ServerName != "" {
		return c.ServerName
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "brine"
	}
	return "brine-" + strings.ReplaceAll(host, ".", "-") + "-" + strconv.Itoa(port)
}

// clusterOptions fills the route and JetStream cluster options of opts from
// c. Routes run over TLS with the fleet's CA in both directions: a server
// joins only with a certificate that CA issued, and this server joins only
// servers that hold one.
func clusterOptions(opts *server.Options, c ClusterConfig, tlsDir string) error {
	host, port, err := splitListen(c.Listen)
	if err != nil {
		return fmt.Errorf("cluster listen: %w", err)
	}
	if port == server.RANDOM_PORT {
		return fmt.Errorf("cluster listen %q: give a fixed port: the other masters route to it", c.Listen)
	}
	if err := checkListen(host, port); err != nil {
		return fmt.Errorf("cluster %w", err)
	}
	tc, err := routeTLS(tlsDir, host)
	if err != nil {
		return err
	}
	opts.ServerName = c.serverName(port)
	opts.Cluster = server.ClusterOpts{
		Name:       cmpOr(c.Name, DefaultClusterName),
		Host:       host,
		Port:       port,
		TLSConfig:  tc,
		TLSTimeout: tlsTimeout.Seconds(),
	}
	peers := c.Peers
	if len(peers) == 0 {
		// The first master knows no peer yet, but a clustered JetStream
		// will not start without a configured route: it routes to itself,
		// which the server recognises and drops, and the masters that join
		// later route to it.
		peers = []string{net.JoinHostPort(host, strconv.Itoa(port))}
	}
	for _, p := range peers {
		u, err := RouteURL(p)
		if err != nil {
			return err
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// RouteURL is the route URL of a peer given as host:port.
func RouteURL(peer string) (*url.URL, error) {
	peer = strings.TrimSpace(peer)
	if _, ps, err := net.SplitHostPort(peer); err != nil || ps == "" || ps == "0" {
		return nil, fmt.Errorf("cluster peer %q: want host:port of another master's --cluster-listen", peer)
	}
	return &url.URL{Scheme: "nats-route", Host: peer}, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// routeTLS is the TLS configuration of routes: a certificate the fleet's CA
// issued to this server for both ends of a route, and only that CA trusted.
func routeTLS(dir, host string) (*tls.Config, error) {
	ca, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, err
	}
	certDER, key, err := issueCert(ca, caKey, host, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})
	if err != nil {
		return nil, fmt.Errorf("route certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{certDER, ca.Raw}, PrivateKey: key}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		RootCAs:      pool,
	}, nil
}

// Clustered reports whether the server is one of a cluster's servers.
func (s *Server) Clustered() bool { return s.clustered }

// ServerName is the server's name (its name in the cluster).
func (s *Server) ServerName() string { return s.ns.Name() }

// NumRoutes is how many route connections the server has to other servers.
func (s *Server) NumRoutes() int { return s.ns.NumRoutes() }

// Replicas is how many copies a stream or bucket should have: one without a
// cluster, else as many as the cluster's JetStream servers, up to MaxReplicas.
func (s *Server) Replicas() int {
	if !s.clustered {
		return 1
	}
	info, err := s.ns.Jsz(nil)
	if err != nil || info.Meta == nil {
		return 1
	}
	return min(max(info.Meta.Size, len(info.Meta.Replicas)+1, 1), MaxReplicas)
}

// PeerStatus is one server of the JetStream cluster as a server sees it.
type PeerStatus struct {
	Name      string        `json:"name"`
	Cluster   string        `json:"cluster,omitempty"` // the server's cluster, as it reports it
	JetStream bool          `json:"jetstream"`         // the server runs JetStream
	Leader    bool          `json:"leader,omitempty"`
	Current   bool          `json:"current"`
	Offline   bool          `json:"offline,omitempty"`
	Active    time.Duration `json:"active_ns,omitempty"` // since last heard from
	Lag       uint64        `json:"lag,omitempty"`       // operations behind the leader
}

// StreamStatus is one stream's (or bucket's) placement in the cluster.
type StreamStatus struct {
	Name     string       `json:"name"`
	Replicas int          `json:"replicas"`
	Leader   string       `json:"leader"`
	Messages uint64       `json:"messages"`
	Bytes    uint64       `json:"bytes"`
	Peers    []PeerStatus `json:"peers"`
}

// ClusterStatus is what `brine cluster status` shows.
type ClusterStatus struct {
	Server    string         `json:"server"`                // the server asked
	Cluster   string         `json:"cluster,omitempty"`     // cluster name, "" without a cluster
	Routes    int            `json:"routes"`                // route connections of the server asked
	Leader    string         `json:"meta_leader,omitempty"` // JetStream meta leader
	Servers   []PeerStatus   `json:"servers"`
	Streams   []StreamStatus `json:"streams"`
	Clustered bool           `json:"clustered"`
}

// Status reports the cluster's servers as the JetStream meta group knows them.
func (s *Server) Status() (ClusterStatus, error) {
	st := ClusterStatus{Server: s.ns.Name(), Routes: s.ns.NumRoutes(), Clustered: s.clustered}
	info, err := s.ns.Jsz(nil)
	if err != nil {
		return st, fmt.Errorf("cluster status: %w", err)
	}
	if m := info.Meta; m != nil {
		st.Cluster, st.Leader = m.Name, m.Leader
		st.Servers = append(st.Servers, PeerStatus{Name: s.ns.Name(), Cluster: m.Name, JetStream: true, Leader: m.Leader == s.ns.Name(), Current: true})
		for _, p := range m.Replicas {
			if p.Name == s.ns.Name() {
				continue // this server, listed above (the meta group can list it while it has no leader)
			}
			st.Servers = append(st.Servers, PeerStatus{Name: p.Name, Cluster: m.Name, JetStream: true, Leader: p.Name == m.Leader, Current: p.Current,
				Offline: p.Offline, Active: p.Active, Lag: p.Lag})
		}
	} else {
		st.Servers = []PeerStatus{{Name: s.ns.Name(), JetStream: true, Leader: true, Current: true}}
	}
	slices.SortFunc(st.Servers, func(a, b PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	return st, nil
}

// StreamsStatus lists every stream and bucket of js with its replicas.
func StreamsStatus(ctx context.Context, js jetstream.JetStream) ([]StreamStatus, error) {
	var out []StreamStatus
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		ss := StreamStatus{Name: info.Config.Name, Replicas: max(info.Config.Replicas, 1),
			Messages: info.State.Msgs, Bytes: info.State.Bytes}
		if c := info.Cluster; c != nil {
			ss.Leader = c.Leader
			if c.Leader != "" {
				ss.Peers = append(ss.Peers, PeerStatus{Name: c.Leader, Leader: true, Current: true})
			}
			for _, p := range c.Replicas {
				ss.Peers = append(ss.Peers, PeerStatus{Name: p.Name, Current: p.Current, Offline: p.Offline, Active: p.Active, Lag: p.Lag})
			}
		}
		out = append(out, ss)
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	slices.SortFunc(out, func(a, b StreamStatus) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ScaleStreams raises every stream and bucket of js with fewer replicas to
// replicas (their consumers follow), and returns the names it raised.
func ScaleStreams(ctx context.Context, js jetstream.JetStream, replicas int) ([]string, error) {
	var raised []string
	var errs []error
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		cfg := info.Config
		if max(cfg.Replicas, 1) >= replicas {
			continue
		}
		cfg.Replicas = replicas
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("stream %s to %d replicas: %w", cfg.Name, replicas, err))
			continue
		}
		raised = append(raised, cfg.Name)
	}
	if err := lister.Err(); err != nil {
		errs = append(errs, fmt.Errorf("list streams: %w", err))
	}
	return raised, errors.Join(errs...)
}

// CACertFile is where a bus keeps its CA certificate under its data dir;
// CAKeyFile is the CA's key. A joining master receives both.
func CACertFile(dataDir string) string { return filepath.Join(dataDir, "tls", caCertFile) }

// CAKeyFile is where a bus keeps its CA's private key under its data dir.
func CAKeyFile(dataDir string) string { return filepath.Join(dataDir, "tls", caKeyFile) }
