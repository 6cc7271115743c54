// Command brine is the single brine binary: the master, the minion, the
// key manager, masterless `brine call` and the Salt-style command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	_ "github.com/brinecm/brine/modules/all" // execution modules
	"github.com/brinecm/brine/pkg/version"
	_ "github.com/brinecm/brine/states/all" // state modules
)

// Exit statuses, documented in the README.
const (
	exitOK          = 0 // every state succeeded, or the function returned
	exitError       = 1 // usage error, compile error, or the function failed
	exitStateFailed = 2 // the run happened and some state failed
)

// exitError carries an exit status out of a command.
type exitStatus struct {
	code int
	err  error // printed when not nil
}

func (e *exitStatus) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var st *exitStatus
	if errors.As(err, &st) {
		if st.err != nil {
			fmt.Fprintln(stderr, "Error:", st.err)
		}
		return st.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return exitError
}

func newRoot() *cobra.Command {
	var pf publishFlags
	root := &cobra.Command{
		Use:   "brine [flags] TARGET FUNCTION [ARG...] [key=value...]",
		Short: "brine: configuration management in the spirit of Salt, in one binary",
		Long: `brine runs functions on minions through a master, as salt does:

  brine '*' test.ping
  brine -G 'os:Debian' state.highstate --test
  brine -C 'G@role:web and not web3' state.apply nginx --batch 1

Exit status: 0 every minion returned and succeeded; 1 usage, compile or function
error; 2 a state failed; 3 some minion did not return.`,
		Version:       version.Version,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return pf.publish(cmd, args)
		},
	}
	addPublishFlags(root, &pf)
	root.AddCommand(newCallCommand(), newMasterCommand(), newMinionCommand(), newKeyCommand(), newJobsCommand(), newEventsCommand(), newTestCommand(), newDriftCommand(), newWebCommand(), newClusterCommand())
	return root
}
