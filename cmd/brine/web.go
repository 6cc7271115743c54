package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

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
	return cmd
}

// webTLS is the web view's TLS: the given certificate and key, or one the
// bus CA issues for the listen host.
func webTLS(c *config.Master) (*tls.Config, error) {
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
		srv, err := web.New(web.Config{Addr: c.HTTP, DataDir: c.DataDir, TLS: tc, Client: client, Log: log})
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
