// Package group provides the group execution module (group.info) and the
// group database brine's group and user states use: it reads /etc/group
// and changes it with the shadow tools (groupadd, groupmod, gpasswd,
// groupdel), so their checks and their error messages are the system's own.
package group

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/brinecm/brine/modules"
)

// File is the group database.
const File = "/etc/group"

// Group is one entry of the group database.
type Group struct {
	Name    string
	Passwd  string
	GID     int
	Members []string // in file order
}

// Info is the group as Salt's group.info returns it.
func (g Group) Info() map[string]any {
	members := make([]any, len(g.Members))
	for i, m := range g.Members {
		members[i] = m
	}
	return map[string]any{"name": g.Name, "passwd": g.Passwd, "gid": g.GID, "members": members}
}

// Parse reads a file in group(5) format. Comments and blank lines are skipped.
func Parse(r io.Reader) ([]Group, error) {
	var out []Group
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: %d fields, want 4", n, len(f))
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: bad gid %q", n, f[2])
		}
		g := Group{Name: f[0], Passwd: f[1], GID: gid}
		if f[3] != "" {
			g.Members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	}
	return out, sc.Err()
}

// All reads every group of the host.
func All() ([]Group, error) {
	f, err := os.Open(File)
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	defer f.Close()
	gs, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", File, err)
	}
	return gs, nil
}

// Lookup finds a group by name; ok is false when it does not exist.
func Lookup(name string) (g Group, ok bool, err error) {
	gs, err := All()
	if err != nil {
		return Group{}, false, err
	}
	for _, g := range gs {
		if g.Name == name {
			return g, true, nil
		}
	}
	return Group{}, false, nil
}

// LookupGID finds a group by gid; ok is false when none has it.
func LookupGID(gid int) (g Group, ok bool, err error) {
	gs, err := All()
	if err != nil {
		return Group{}, false, err
	}
	for _, g := range gs {
		if g.GID == gid {
			return g, true, nil
		}
	}
	return Group{}, false, nil
}

// SameMembers reports whether two member lists hold the same users, in any order.
func SameMembers(a, b []string) bool {
	x, y := sorted(a), sorted(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// CheckName rejects names the shadow tools would take for options.
func CheckName(kind, name string) error {
	if name == "" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, ":,/ \t\n") {
		return fmt.Errorf("invalid %s name %q", kind, name)
	}
	return nil
}

// Shadow runs a shadow tool (useradd, groupmod, chpasswd...) with stdin.
// A failure is an error carrying the tool's own message, e.g.
// "useradd: UID 0 is not unique".
func Shadow(ctx context.Context, stdin string, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", tool, ctx.Err())
	case errors.As(err, &exit):
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return errors.New(msg)
		}
		return fmt.Errorf("%s: exit status %d", tool, exit.ExitCode())
	}
	return fmt.Errorf("run %s: %w", tool, err)
}

// Add creates a group with groupadd; gid < 0 lets the system choose.
func Add(ctx context.Context, name string, gid int, system bool) error {
	args := []string{}
	if gid >= 0 {
		args = append(args, "-g", strconv.Itoa(gid))
	}
	if system {
		args = append(args, "-r")
	}
	return Shadow(ctx, "", "groupadd", append(args, "--", name)...)
}

// SetGID changes a group's gid with groupmod.
func SetGID(ctx context.Context, name string, gid int) error {
	return Shadow(ctx, "", "groupmod", "-g", strconv.Itoa(gid), "--", name)
}

// SetMembers makes members the group's exact member list with gpasswd.
func SetMembers(ctx context.Context, name string, members []string) error {
	return Shadow(ctx, "", "gpasswd", "-M", strings.Join(members, ","), name)
}

// Delete removes a group with groupdel.
func Delete(ctx context.Context, name string) error {
	return Shadow(ctx, "", "groupdel", "--", name)
}

type infoArgs struct {
	Name string `arg:"name,required"`
}

func init() {
	modules.Register("group.info", modules.Func[infoArgs]{
		ReadOnly: true,
		Doc:      "Return a group's name, gid, passwd and members; an empty mapping when it does not exist.",
		Params:   []string{"name"},
		Call: func(_ context.Context, _ *modules.Runtime, a *infoArgs) (any, error) {
			g, ok, err := Lookup(a.Name)
			if err != nil || !ok {
				return map[string]any{}, err
			}
			return g.Info(), nil
		},
	})
}
