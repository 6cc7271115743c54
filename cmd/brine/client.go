package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/proto/brinepb"
)

// socketFlag adds --socket to a command that talks to the master.
func socketFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "socket", "", "the master's CLI socket (default $BRINE_SOCKET, else "+config.DefaultSocket(config.DefaultMasterDataDir)+")")
}

// dial connects to the master's API over its unix socket.
func dial(socket string) (brinepb.MasterClient, func(), error) {
	if socket == "" {
		socket = os.Getenv("BRINE_SOCKET")
	}
	if socket == "" {
		socket = config.DefaultSocket(config.DefaultMasterDataDir)
	}
	if _, err := os.Stat(socket); err != nil {
		return nil, nil, fmt.Errorf("no master socket at %s (is `brine master` running? set --socket or BRINE_SOCKET): %w", socket, err)
	}
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to master at %s: %w", socket, err)
	}
	return brinepb.NewMasterClient(conn), func() { conn.Close() }, nil
}

// apiError turns a gRPC status into the master's own message.
func apiError(err error) error {
	if s, ok := status.FromError(err); ok {
		return errors.New(s.Message())
	}
	return err
}

func newKeyCommand() *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage minion keys, as salt-key does",
	}
	socketFlag(cmd, &socket)
	cmd.PersistentFlags().AddFlagSet(cmd.Flags())
	list := &cobra.Command{
		Use:   "list",
		Short: "List keys by state: accepted, denied, pending, rejected",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, done, err := dial(socket)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			defer done()
			resp, err := c.ListKeys(cmd.Context(), &brinepb.ListKeysRequest{})
			if err != nil {
				return &exitStatus{code: exitError, err: apiError(err)}
			}
			byState := map[string][]string{}
			for _, k := range resp.Keys {
				byState[k.State] = append(byState[k.State], k.Id)
			}
			w := cmd.OutOrStdout()
			for _, st := range []struct{ key, title string }{{"accepted", "Accepted Keys:"}, {"denied", "Denied Keys:"},
				{"pending", "Unaccepted Keys:"}, {"rejected", "Rejected Keys:"}} {
				fmt.Fprintln(w, st.title)
				ids := byState[st.key]
				sort.Strings(ids)
				for _, id := range ids {
					fmt.Fprintln(w, id)
				}
			}
			return nil
		},
	}
	action := func(use, short, name string) *cobra.Command {
		var all bool
		c := &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  cobra.RangeArgs(0, 1),
			RunE: func(cmd *cobra.Command, args []string) error {
				req := &brinepb.KeyActionRequest{Action: name}
				switch {
				case all && name == "accept" && len(args) == 0:
					req.Action = "accept_all"
				case len(args) == 1 && !all:
					req.Id = args[0]
				default:
					return &exitStatus{code: exitError, err: fmt.Errorf("brine key %s: name one minion id%s", use, map[bool]string{true: " or --all", false: ""}[name == "accept"])}
				}
				c, done, err := dial(socket)
				if err != nil {
					return &exitStatus{code: exitError, err: err}
				}
				defer done()
				resp, err := c.KeyAction(cmd.Context(), req)
				if err != nil {
					return &exitStatus{code: exitError, err: apiError(err)}
				}
				for _, id := range resp.Ids {
					fmt.Fprintf(cmd.OutOrStdout(), "Key for minion %s %sed.\n", id, strings.TrimSuffix(name, "e"))
				}
				return nil
			},
		}
		if name == "accept" {
			c.Flags().BoolVar(&all, "all", false, "accept every pending key")
		}
		return c
	}
	fingerprint := &cobra.Command{
		Use:   "fingerprint ID",
		Short: "Print a minion key's fingerprint, to compare with what `brine minion` printed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, done, err := dial(socket)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			defer done()
			resp, err := c.ListKeys(cmd.Context(), &brinepb.ListKeysRequest{})
			if err != nil {
				return &exitStatus{code: exitError, err: apiError(err)}
			}
			found := false
			for _, k := range resp.Keys {
				if k.Id == args[0] {
					fmt.Fprintf(cmd.OutOrStdout(), "%s (%s): %s\n", k.Id, k.State, k.Fingerprint)
					found = true
				}
			}
			if !found {
				return &exitStatus{code: exitError, err: fmt.Errorf("no key for minion %s", args[0])}
			}
			return nil
		},
	}
	cmd.AddCommand(list, action("accept", "Accept a pending key (or --all)", "accept"),
		action("reject", "Reject a key: the minion is cut off", "reject"),
		action("delete", "Delete a key: the minion is cut off and must ask again", "delete"), fingerprint)
	return cmd
}

func newJobsCommand() *cobra.Command {
	var socket, out string
	var limit int
	cmd := &cobra.Command{Use: "jobs", Short: "Look up the job cache"}
	socketFlag(cmd, &socket)
	cmd.PersistentFlags().AddFlagSet(cmd.Flags())
	list := &cobra.Command{
		Use:   "list",
		Short: "List cached jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, done, err := dial(socket)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			defer done()
			resp, err := c.ListJobs(cmd.Context(), &brinepb.ListJobsRequest{Limit: int32(limit)})
			if err != nil {
				return &exitStatus{code: exitError, err: apiError(err)}
			}
			w := cmd.OutOrStdout()
			for _, j := range resp.Jobs {
				// origin: "cli" for jobs asked for from the command line,
				// "schedule" or "drift" for those a schedule or a drift
				// correction ran.
				fmt.Fprintf(w, "%s  %s  %-20s %-12s %-9s returned %d/%d\n", j.Jid, time.UnixMilli(j.StartUnixMs).Format(time.DateTime),
					j.Fun, j.Target, cmp.Or(j.Origin, "cli"), j.Returned, len(j.Minions))
			}
			return nil
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "at most this many jobs")
	show := &cobra.Command{
		Use:   "show JID",
		Short: "Print a cached job's returns",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, done, err := dial(socket)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			defer done()
			resp, err := c.GetJob(cmd.Context(), &brinepb.GetJobRequest{Jid: args[0]})
			if err != nil {
				return &exitStatus{code: exitError, err: apiError(err)}
			}
			p := newPrinter(cmd, out, false)
			returned := map[string]bool{}
			for _, r := range resp.Returns {
				returned[r.Minion] = true
				if err := p.printReturn(r); err != nil {
					return &exitStatus{code: exitError, err: err}
				}
			}
			for _, id := range resp.Job.Minions {
				if !returned[id] {
					fmt.Fprintf(cmd.OutOrStdout(), "%s:\n    Minion did not return. [No response]\n", id)
				}
			}
			return p.status(len(resp.Job.Minions) - len(returned))
		},
	}
	outputFlags(show, &out)
	cmd.AddCommand(list, show)
	return cmd
}

func newEventsCommand() *cobra.Command {
	var socket, tag string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the event bus: jobs, returns, minion starts, key changes, state failures",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, done, err := dial(socket)
			if err != nil {
				return &exitStatus{code: exitError, err: err}
			}
			defer done()
			stream, err := c.Events(cmd.Context(), &brinepb.EventsRequest{TagGlob: tag})
			if err != nil {
				return &exitStatus{code: exitError, err: apiError(err)}
			}
			w := cmd.OutOrStdout()
			for {
				ev, err := stream.Recv()
				if err != nil {
					if errors.Is(err, io.EOF) || cmd.Context().Err() != nil {
						return nil
					}
					return &exitStatus{code: exitError, err: apiError(err)}
				}
				fmt.Fprintf(w, "%s  %-8s %-14s %s\n", time.UnixMilli(ev.TimeUnixMs).Format("15:04:05.000"), ev.Source, ev.Tag, compactJSON(ev.DataJson))
			}
		},
	}
	socketFlag(cmd, &socket)
	cmd.Flags().StringVar(&tag, "tag", "", "only events whose tag matches this glob, e.g. 'job.*'")
	return cmd
}

func compactJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil || v == nil {
		return ""
	}
	out, _ := json.Marshal(v)
	return string(out)
}
