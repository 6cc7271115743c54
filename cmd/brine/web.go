package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/master/web"
	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
)

func newWebCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "web",
		Short: "The master's web view (brine master --http HOST:PORT)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var cfgPath, dataDir string
	var run bool
	token := &cobra.Command{
		Use:   "token",
		Short: "Print a new web view token; only its hash is stored, in the master's data dir",
		Long: `Print a new token for the master's web view. Only its SHA-256 hash is kept,
in DATA_DIR/web_tokens: the token cannot be shown again. A token reads every
page; with --run it may also run jobs and accept or reject keys. Send it as
"Authorization: Bearer TOKEN", or paste it into the login form.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadMaster(cfgPath)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			if cmd.Flags().Changed("data-dir") || cfg.DataDir == "" {
				cfg.DataDir = dataDir
			}
			tok, err := web.NewToken(cfg.DataDir, run)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	fl := token.Flags()
	fl.StringVar(&cfgPath, "config", config.DefaultMasterPath, "master configuration file (for its data_dir)")
	fl.StringVar(&dataDir, "data-dir", config.DefaultMasterDataDir, "the master's data dir")
	fl.BoolVar(&run, "run", false, "the token may also run jobs and accept or reject keys")
	cmd.AddCommand(token)

	var out string
	cert := &cobra.Command{
		Use:   "cert NAME",
		Short: "Issue a client certificate for the web view, signed by the bus CA",
		Long: `Issue a client certificate whose Common Name is NAME, signed by the master's
bus CA (DATA_DIR/tls/ca.crt) and valid for a year, and write NAME.crt and
NAME.key (0600) into --out. It logs in to the web view read-only; list NAME
in the master's http_run_clients (--http-run-clients) to let it run jobs and
accept or reject keys too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.LoadMaster(cfgPath)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			if cmd.Flags().Changed("data-dir") || cfg.DataDir == "" {
				cfg.DataDir = dataDir
			}
			name := args[0]
			if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
				return &exitStatus{code: exitError, err: fmt.Errorf("brine web cert %q: the name is also the file name: no slashes and no leading dot", name)}
			}
			crt, key, err := bus.IssueWebClientCert(cfg.DataDir, name)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			crtPath, keyPath := filepath.Join(out, name+".crt"), filepath.Join(out, name+".key")
			if err := os.WriteFile(keyPath, key, 0o600); err != nil {
				return &exitStatus{code: exitError, err: fmt.Errorf("brine web cert: write the key: %w", err)}
			}
			if err := os.WriteFile(crtPath, crt, 0o644); err != nil {
				return &exitStatus{code: exitError, err: fmt.Errorf("brine web cert: write the certificate: %w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", crtPath, keyPath)
			return nil
		},
	}
	fl = cert.Flags()
	fl.StringVar(&cfgPath, "config", config.DefaultMasterPath, "master configuration file (for its data_dir)")
	fl.StringVar(&dataDir, "data-dir", config.DefaultMasterDataDir, "the master's data dir")
	fl.StringVar(&out, "out", ".", "the directory to write NAME.crt and NAME.key into")
	cmd.AddCommand(cert)
	return cmd
}

// webTLS is the web view's TLS: the given certificate and key, or one the
// bus CA issues for the listen host; client certificates of the client CA
// (the bus CA by default) are verified when a client presents one.
func webTLS(c *config.Master) (*tls.Config, error) {
	tc, err := webServerTLS(c)
	if err != nil {
		return nil, err
	}
	caFile := c.HTTPClientCA
	if caFile == "" {
		caFile = bus.WebCAFile(c.DataDir) // webServerTLS made it if there was none, unless a cert was given
	}
	pem, err := os.ReadFile(caFile)
	switch {
	case errors.Is(err, os.ErrNotExist) && c.HTTPClientCA == "":
		return tc, nil // a given server certificate and no bus CA yet: tokens only
	case err != nil:
		return nil, fmt.Errorf("web: http_client_ca (--http-client-ca): %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("web: http_client_ca (--http-client-ca) %s: no PEM certificate in it", caFile)
	}
	tc.ClientAuth, tc.ClientCAs = tls.VerifyClientCertIfGiven, pool
	return tc, nil
}

// webServerTLS is the web view's server certificate.
func webServerTLS(c *config.Master) (*tls.Config, error) {
	if (c.HTTPCert == "") != (c.HTTPKey == "") {
		return nil, errors.New("web: give both http_cert and http_key (--http-cert, --http-key), or neither to use the bus CA")
	}
	if c.HTTPCert != "" {
		cert, err := tls.LoadX509KeyPair(c.HTTPCert, c.HTTPKey)
		if err != nil {
			return nil, fmt.Errorf("web: load --http-cert %s and --http-key %s: %w", c.HTTPCert, c.HTTPKey, err)
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
	}
	host, _, err := net.SplitHostPort(c.HTTP)
	if err != nil {
		return nil, fmt.Errorf("web: --http %q: %w (want HOST:PORT, e.g. 127.0.0.1:8443)", c.HTTP, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return bus.WebTLS(c.DataDir, host)
}

// withWeb runs the master and, once it serves, its web view on c.HTTP,
// reading through the master's CLI socket. Either one failing stops both.
func withWeb(m *master.Master, c config.Master, log *slog.Logger) (func(context.Context) error, error) {
	tc, err := webTLS(&c)
	if err != nil {
		return nil, err
	}
	socket := c.Socket
	if socket == "" {
		socket = config.DefaultSocket(c.DataDir)
	}
	return func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		merr := make(chan error, 1)
		go func() { merr <- m.Run(ctx) }()
		select {
		case err := <-merr:
			return err
		case <-m.Ready():
		}
		client, closeClient, err := dial(socket)
		if err != nil {
			cancel()
			<-merr
			return fmt.Errorf("web: connect to the master: %w", err)
		}
		defer closeClient()
		srv, err := web.New(web.Config{Addr: c.HTTP, DataDir: c.DataDir, TLS: tc, RunClients: c.HTTPRunClients, Client: client, Log: log})
		if err != nil {
			cancel()
			<-merr
			return err
		}
		werr := srv.Serve(ctx)
		cancel()
		if err := <-merr; err != nil {
			return err
		}
		return werr
	}, nil
}
