// Package ovsx is brine's one adapter to Open vSwitch. It reads the switch
// configuration from OVSDB through github.com/digitalocean/go-openvswitch
// (its ovsdb JSON-RPC client), deletes bridges and ports through that
// library's ovs-vsctl wrapper, and writes everything else as ONE ovs-vsctl
// transaction per change, because go-openvswitch cannot set what brine
// needs: datapath_type, other_config, external_ids, local_ip, dst_port,
// and a port together with its interface type and options (it adds a port
// and sets its type in two commands). Every write is read back and
// verified: ovs-vsctl exits 0 even when ovs-vswitchd could not set up the
// interface it was given.
package ovsx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-openvswitch/ovs"
)

// DefaultTimeout bounds one conversation with Open vSwitch when the
// caller's context has no earlier deadline.
const DefaultTimeout = 30 * time.Second

// Client talks to the local Open vSwitch. The zero value is not usable;
// call New.
type Client struct {
	// Socket is the OVSDB server's unix socket.
	Socket string
	// Timeout bounds each read and each ovs-vsctl transaction.
	Timeout time.Duration
}

// New returns a client for the local Open vSwitch: its database socket is
// db.sock in $OVS_RUNDIR (default /var/run/openvswitch), as for the OVS
// tools themselves.
func New() *Client {
	dir := os.Getenv("OVS_RUNDIR")
	if dir == "" {
		dir = "/var/run/openvswitch"
	}
	return &Client{Socket: filepath.Join(dir, "db.sock"), Timeout: DefaultTimeout}
}

// Available reports whether an OVSDB server socket exists, without
// connecting to it.
func (c *Client) Available() bool {
	fi, err := os.Stat(c.Socket)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// nameRE is what brine accepts as a bridge or port name: a Linux interface
// name (at most 15 characters) that ovs-vsctl cannot mistake for an option.
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}$`) })

// CheckName returns an error unless name is usable as a bridge or port name.
func CheckName(name string) error {
	if !nameRE().MatchString(name) {
		return fmt.Errorf("invalid name %q: 1 to 15 letters, digits or _.:@- characters, the first a letter, digit or _", name)
	}
	return nil
}

// withTimeout applies the client's timeout to ctx.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	t := c.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return context.WithTimeout(ctx, t)
}

// vsctl runs ovs-vsctl against the client's database with args (a whole
// transaction, its commands separated by "--"). ctx bounds the run.
func (c *Client) vsctl(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	full := append([]string{"--db=unix:" + c.Socket, fmt.Sprintf("--timeout=%d", c.timeoutSeconds())}, args...)
	cmd := exec.CommandContext(ctx, "ovs-vsctl", full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ovs-vsctl: %w", ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		var exit *exec.ExitError
		if errors.As(err, &exit) && msg != "" {
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("run ovs-vsctl: %w", err)
	}
	return out, nil
}

func (c *Client) timeoutSeconds() int {
	s := int(c.Timeout / time.Second)
	if s < 1 {
		s = int(DefaultTimeout / time.Second)
	}
	return s
}

// lib returns go-openvswitch's client, running its ovs-vsctl commands
// under ctx against the client's database.
func (c *Client) lib(ctx context.Context) *ovs.Client {
	return ovs.New(ovs.Exec(func(cmd string, args ...string) ([]byte, error) {
		if cmd != "ovs-vsctl" {
			return nil, fmt.Errorf("unexpected command %s", cmd)
		}
		return c.vsctl(ctx, args...)
	}))
}

// RemoveBridge deletes bridge name and its ports; a missing bridge is no error.
func (c *Client) RemoveBridge(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := c.lib(ctx).VSwitch.DeleteBridge(name); err != nil {
		return fmt.Errorf("delete bridge %s: %w", name, libErr(err))
	}
	return nil
}

// RemovePort deletes port name from whichever bridge holds it; a missing
// port is no error.
func (c *Client) RemovePort(ctx context.Context, bridge, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := c.lib(ctx).VSwitch.DeletePort(bridge, name); err != nil {
		return fmt.Errorf("delete port %s from bridge %s: %w", name, bridge, libErr(err))
	}
	return nil
}

// libErr unwraps go-openvswitch's error, which appends the command's
// output to an error that already carries it.
func libErr(err error) error {
	var e *ovs.Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err
	}
	return err
}
