package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/pkg/config"
)

func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Several masters on one NATS cluster: join tokens",
	}
	var (
		dataDir string
		ttl     time.Duration
	)
	token := &cobra.Command{
		Use:   "token",
		Short: "Print a short-lived join token for brine master --join URL --token T",
		Long: `Print a join token. A master started with --join URL --token T fetches the
fleet's job-signing key and bus CA from the master at URL with it, so nothing
is copied by hand. The token is made from this master's data directory (run it
as root on a master started with --cluster-listen), so it works while the
first master waits for a second one. Anyone holding a valid token can become a
master: hand it over a trusted channel; it expires after --ttl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, exp, err := master.JoinToken(dataDir, ttl)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "valid until %s\n", exp.Format(time.RFC3339))
			return nil
		},
	}
	token.Flags().StringVar(&dataDir, "data-dir", config.DefaultMasterDataDir, "the master's data directory")
	token.Flags().DurationVar(&ttl, "ttl", master.DefaultTokenTTL, "how long the token is good for (at most 24h)")
	cmd.AddCommand(token)
	return cmd
}
