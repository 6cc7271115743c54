// Package web is the master's web view: server-rendered pages and JSON
// endpoints of the fleet, its jobs, its events, its keys and its overlay
// network, behind token authentication. It reads and acts through the same
// gRPC API as the CLI, so a run started here is a signed job in the job
// cache like any other.
package web

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/brinecm/brine/proto/brinepb"
)

//go:embed assets
var assets embed.FS

// DefaultRefresh is how stale the fleet index may get before a request
// rebuilds it.
const DefaultRefresh = 2 * time.Second

// Config is the web view's configuration.
type Config struct {
	// Addr is host:port to listen on; an empty host is loopback
	// (127.0.0.1): serving off loopback takes an address that says so.
	Addr string
	// DataDir is the master's data dir, where the token hashes are.
	DataDir string
	// TLS serves HTTPS; nil serves plain HTTP (tests only). Client
	// certificates it verifies (ClientAuth VerifyClientCertIfGiven,
	// ClientCAs) authenticate as read-only; see RunClients.
	TLS *tls.Config
	// RunClients are the Common Names of client certificates that may also
	// run jobs and accept or reject keys.
	RunClients []string
	// Client is the master's API, as the CLI uses it.
	Client brinepb.MasterClient
	// Refresh bounds the staleness of the fleet index (0: DefaultRefresh).
	Refresh time.Duration
	Log     *slog.Logger
}

// Server is the web view.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *store
	pages map[string]*template.Template
}

// New prepares the web view.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("web: no master API client")
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, log: cfg.Log, store: newStore(cfg.Client, cfg.Refresh), pages: pages}, nil
}

// Handler serves every page and endpoint, authentication included.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static") // a path of the embedded tree
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	read := func(h http.HandlerFunc) http.Handler { return s.auth(false, h) }
	run := func(h http.HandlerFunc) http.Handler { return s.auth(true, h) }
	mux.Handle("GET /{$}", read(s.fleetPage))
	mux.Handle("GET /api/minions", read(s.apiMinions))
	mux.Handle("GET /minions/{id}", read(s.minionPage))
	mux.Handle("GET /api/minions/{id}", read(s.apiMinion))
	mux.Handle("GET /jobs", read(s.jobsPage))
	mux.Handle("GET /api/jobs", read(s.apiJobs))
	mux.Handle("GET /jobs/{jid}", read(s.jobPage))
	mux.Handle("GET /api/jobs/{jid}", read(s.apiJob))
	mux.Handle("GET /events", read(s.eventsPage))
	mux.Handle("GET /api/events", read(s.apiEvents))
	mux.Handle("GET /network", read(s.networkPage))
	mux.Handle("GET /network.svg", read(s.networkSVG))
	mux.Handle("GET /api/network", read(s.apiNetwork))
	mux.Handle("GET /keys", read(s.keysPage))
	mux.Handle("GET /api/keys", read(s.apiKeys))
	mux.Handle("POST /api/keys/{id}/{action}", run(s.apiKeyAction))
	mux.Handle("POST /api/run", run(s.apiRun))
	return securityHeaders(mux)
}

// Serve listens on cfg.Addr and serves until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	host, _, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("web: listen address %q: %w (want HOST:PORT, e.g. 127.0.0.1:8080)", s.cfg.Addr, err)
	}
	addr := s.cfg.Addr
	if host == "" {
		addr = "127.0.0.1" + addr
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", addr, err)
	}
	return s.ServeListener(ctx, lis)
}

// ServeListener serves on lis until ctx is done.
func (s *Server) ServeListener(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.cfg.TLS,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLS != nil {
			errc <- srv.ServeTLS(lis, "", "")
			return
		}
		errc <- srv.Serve(lis)
	}()
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	s.log.Info("web view ready", "url", scheme+"://"+lis.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
