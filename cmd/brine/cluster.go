package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/proto/brinepb"
)

func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Several masters on one NATS cluster: join tokens and status",
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
	var natsDataDir string
	natsConfig := &cobra.Command{
		Use:   "nats-config",
		Short: "Print the nats-server configuration an external cluster needs for brine master --nats",
		Long: `Print the accounts and the auth callout block every server of an external
NATS cluster (nats-server 2.10 or later) needs for masters started with
--nats URL,...: include it in each server's configuration. The masters then
authorize every connection, giving each minion exactly the permissions it has
on the embedded bus. The callout keys it names are derived from the fleet's
signing key in --data-dir (made there when missing): give every master of the
fleet that same master.nk.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conf, err := master.NATSConfig(natsDataDir)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			fmt.Fprint(cmd.OutOrStdout(), conf)
			return nil
		},
	}
	natsConfig.Flags().StringVar(&natsDataDir, "data-dir", config.DefaultMasterDataDir, "the master's data directory")
	cmd.AddCommand(token, newClusterStatusCommand(), natsConfig)
	return cmd
}

func newClusterStatusCommand() *cobra.Command {
	var socket, out string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's servers, the JetStream leaders, and every stream's replicas and lag",
		Long: `Show the cluster as the master behind --socket sees it: its servers (their
cluster, whether JetStream runs on them, the JetStream meta leader marked), whether each is current or offline and how many
operations it lags behind the leader; then every stream and bucket with its
replica count, leader, size, and each replica's lag.

--out json prints {"server", "cluster", "routes", "meta_leader", "clustered",
"servers": [{"name", "cluster", "jetstream", "leader", "current", "offline",
"active_ns", "lag"}],
"streams": [{"name", "replicas", "leader", "messages", "bytes", "peers": [...]}]}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out != "" && out != "json" && out != "text" {
				return &exitStatus{code: exitError, err: fmt.Errorf("brine cluster status: --out %q: want json or text", out)}
			}
			c, done, err := dial(socket)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			defer done()
			resp, err := c.ClusterStatus(cmd.Context(), &brinepb.ClusterStatusRequest{})
			if err != nil {
				return &exitStatus{code: exitError, err: apiError(err)}
			}
			st := clusterStatusFromPB(resp)
			if out == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "    ")
				return enc.Encode(st)
			}
			return printClusterStatus(cmd.OutOrStdout(), st)
		},
	}
	socketFlag(cmd, &socket)
	cmd.Flags().StringVar(&out, "out", "", "output format: text (default) or json")
	return cmd
}

// clusterStatusFromPB is the API's answer in the shape --out json prints.
func clusterStatusFromPB(r *brinepb.ClusterStatusResponse) bus.ClusterStatus {
	st := bus.ClusterStatus{
		Server:    r.Server,
		Cluster:   r.Cluster,
		Routes:    int(r.Routes),
		Leader:    r.MetaLeader,
		Clustered: r.Clustered,
		Servers:   peersFromPB(r.Servers),
		Streams:   []bus.StreamStatus{},
	}
	for _, s := range r.Streams {
		st.Streams = append(st.Streams, bus.StreamStatus{Name: s.Name, Replicas: int(s.Replicas), Leader: s.Leader,
			Messages: s.Messages, Bytes: s.Bytes, Peers: peersFromPB(s.Peers)})
	}
	return st
}

func peersFromPB(ps []*brinepb.ClusterPeer) []bus.PeerStatus {
	out := make([]bus.PeerStatus, 0, len(ps))
	for _, p := range ps {
		out = append(out, bus.PeerStatus{Name: p.Name, Cluster: p.Cluster, JetStream: p.Jetstream, Leader: p.Leader, Current: p.Current, Offline: p.Offline,
			Active: time.Duration(p.ActiveNs), Lag: p.Lag})
	}
	return out
}

// peerState is a replica's health in one word.
func peerState(p bus.PeerStatus) string {
	switch {
	case p.Offline:
		return "offline"
	case p.Leader:
		return "leader"
	case p.Current:
		return "current"
	default:
		return "catching up"
	}
}

// printClusterStatus writes st as two tables: servers, then streams.
func printClusterStatus(w io.Writer, st bus.ClusterStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if !st.Clustered {
		fmt.Fprintf(tw, "server %s: not clustered (start masters with --cluster-listen)\n", st.Server)
	} else {
		fmt.Fprintf(tw, "cluster %s, asked %s (%d routes), meta leader %s\n\n", st.Cluster, st.Server, st.Routes, cmp.Or(st.Leader, "none"))
	}
	fmt.Fprintln(tw, "SERVER\tCLUSTER\tJETSTREAM\tSTATE\tLAG\tLAST SEEN")
	for _, p := range st.Servers {
		seen := "-"
		if p.Active > 0 {
			seen = p.Active.Round(time.Millisecond).String() + " ago"
		}
		js := "off"
		if p.JetStream {
			js = "on"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.Name, cmp.Or(p.Cluster, "-"), js, peerState(p), p.Lag, seen)
	}
	fmt.Fprintln(tw, "\nSTREAM\tREPLICAS\tLEADER\tMESSAGES\tBYTES\tPEERS")
	for _, s := range st.Streams {
		peers := make([]string, 0, len(s.Peers))
		for _, p := range s.Peers {
			peers = append(peers, fmt.Sprintf("%s:%s/lag %d", p.Name, peerState(p), p.Lag))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", s.Name, s.Replicas, cmp.Or(s.Leader, "-"), s.Messages, s.Bytes, strings.Join(peers, " "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print cluster status: %w", err)
	}
	return nil
}
