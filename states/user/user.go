// Package user provides the user state module: user.present and
// user.absent, through the shadow tools (useradd, usermod, chpasswd,
// userdel). Password hashes are never reported: a changed password shows
// as "XXX-REDACTED-XXX", as in Salt.
package user

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	grp "github.com/brinecm/brine/modules/group"
	usr "github.com/brinecm/brine/modules/user"
	"github.com/brinecm/brine/states"
)

// redacted stands for a password hash in changes.
const redacted = "XXX-REDACTED-XXX"

func init() {
	states.Register("user.present", states.Func[PresentArgs]{
		Doc: "Ensures the named user exists with the given attributes: uid, gid (number or group name), " +
			"groups (supplementary; others are removed unless remove_groups: False), home, createhome " +
			"(default True), shell, fullname, password (a crypt hash), system.",
		Apply: present,
	})
	states.Register("user.absent", states.Func[AbsentArgs]{
		Doc:   "Ensures the named user does not exist; purge: True also removes its home directory and mail spool.",
		Apply: absent,
	})
}

// PresentArgs are user.present's arguments; the user is the state's name.
type PresentArgs struct {
	UID          *int      `arg:"uid"`
	GID          *string   `arg:"gid"`
	Groups       *[]string `arg:"groups"`
	RemoveGroups *bool     `arg:"remove_groups"`
	Home         string    `arg:"home"`
	CreateHome   *bool     `arg:"createhome"`
	Shell        string    `arg:"shell"`
	Fullname     *string   `arg:"fullname"`
	Password     *string   `arg:"password"`
	System       bool      `arg:"system"`
	// AllowUIDChange and AllowGIDChange are accepted and ignored: brine
	// changes an existing user's uid or gid when asked, as Salt does when
	// they are True.
	AllowUIDChange bool `arg:"allow_uid_change"`
	AllowGIDChange bool `arg:"allow_gid_change"`
	// OptionalGroups are supplementary groups the user joins when the
	// host has them; missing ones are skipped, as in Salt.
	OptionalGroups []string `arg:"optional_groups"`
	// Expire is the account's expiry, in days since 1970-01-01 (-1: never).
	Expire *int `arg:"expire"`
	// EmptyPassword true empties the password (without password).
	EmptyPassword bool `arg:"empty_password"`
}

// AbsentArgs are user.absent's arguments.
type AbsentArgs struct {
	Purge bool `arg:"purge"`
}

// resolveGID turns the gid argument (a number or a group name) into a
// gid; ok is false for a group name the host does not have.
func resolveGID(s string) (gid int, ok bool, err error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, true, nil
	}
	g, ok, err := grp.Lookup(s)
	return g.GID, ok, err
}

// missingGroups lists the named groups the host does not have.
func missingGroups(names []string) ([]string, error) {
	var missing []string
	for _, n := range names {
		if _, ok, err := grp.Lookup(n); err != nil {
			return nil, err
		} else if !ok {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	if err := grp.CheckName("user", c.Name); err != nil {
		return states.Failedf("%v", err)
	}
	for _, s := range []string{a.Home, a.Shell} {
		if strings.ContainsAny(s, ":\n") {
			return states.Failedf("invalid value %q: ':' and newlines cannot be stored in %s", s, usr.PasswdFile)
		}
	}
	if a.OptionalGroups != nil {
		missing, err := missingGroups(a.OptionalGroups)
		if err != nil {
			return states.Failedf("%v", err)
		}
		groups := []string{}
		if a.Groups != nil {
			groups = append(groups, *a.Groups...)
		}
		for _, g := range a.OptionalGroups {
			if !slices.Contains(missing, g) {
				groups = append(groups, g)
			}
		}
		a.Groups = &groups
	}
	if a.EmptyPassword && a.Password == nil {
		empty := ""
		a.Password = &empty
	}
	if a.Groups != nil {
		missing, err := missingGroups(*a.Groups)
		if err != nil {
			return states.Failedf("%v", err)
		}
		if len(missing) > 0 {
			return states.Failedf("The following group(s) are not present: %s", strings.Join(missing, ","))
		}
	}
	gid := -1
	if a.GID != nil {
		n, ok, err := resolveGID(*a.GID)
		if err != nil {
			return states.Failedf("%v", err)
		}
		if !ok {
			return states.Failedf("The following group(s) are not present: %s", *a.GID)
		}
		gid = n
	}
	u, ok, err := usr.Lookup(c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	if !ok {
		return create(ctx, c, a, gid)
	}
	return update(ctx, c, a, u, gid)
}

func create(ctx context.Context, c *states.Call, a *PresentArgs, gid int) states.Outcome {
	if c.Test {
		return states.WouldChange(fmt.Sprintf("User %s set to be added", c.Name), map[string]any{"name": c.Name})
	}
	var args []string
	if a.UID != nil {
		args = append(args, "-u", strconv.Itoa(*a.UID))
	}
	if gid >= 0 {
		args = append(args, "-g", strconv.Itoa(gid))
	}
	if a.Groups != nil && len(*a.Groups) > 0 {
		args = append(args, "-G", strings.Join(*a.Groups, ","))
	}
	if a.Home != "" {
		args = append(args, "-d", a.Home)
	}
	if a.CreateHome == nil || *a.CreateHome {
		args = append(args, "-m")
	} else {
		args = append(args, "-M")
	}
	if a.Shell != "" {
		args = append(args, "-s", a.Shell)
	}
	if a.Fullname != nil {
		args = append(args, "-c", *a.Fullname)
	}
	if a.System {
		args = append(args, "-r")
	}
	if a.Expire != nil {
		args = append(args, "-e", expireDate(*a.Expire))
	}
	if err := grp.Shadow(ctx, "", "useradd", append(args, "--", c.Name)...); err != nil {
		return states.Failedf("Failed to create new user %s: %v", c.Name, err)
	}
	u, _, err := usr.Lookup(c.Name)
	if err != nil {
		return states.Failed(err.Error(), map[string]any{"name": c.Name})
	}
	changes, err := usr.Info(u)
	if err != nil {
		return states.Failed(err.Error(), map[string]any{"name": c.Name})
	}
	delete(changes, "passwd")
	if a.Expire != nil {
		changes["expire"] = *a.Expire
	}
	if a.Password != nil {
		if err := usr.SetPassword(ctx, c.Name, *a.Password); err != nil {
			return states.Failed(fmt.Sprintf("User %s created, but its password could not be set: %v", c.Name, err), changes)
		}
		changes["passwd"] = redacted
	}
	return states.Succeeded(fmt.Sprintf("New user %s created", c.Name), changes)
}

func update(ctx context.Context, c *states.Call, a *PresentArgs, u usr.User, gid int) states.Outcome {
	changes := map[string]any{}
	var args []string
	if a.UID != nil && *a.UID != u.UID {
		changes["uid"] = *a.UID
		args = append(args, "-u", strconv.Itoa(*a.UID))
	}
	if gid >= 0 && gid != u.GID {
		changes["gid"] = gid
		args = append(args, "-g", strconv.Itoa(gid))
	}
	if a.Home != "" && a.Home != u.Home {
		changes["home"] = a.Home
		args = append(args, "-d", a.Home)
	}
	if a.Shell != "" && a.Shell != u.Shell {
		changes["shell"] = a.Shell
		args = append(args, "-s", a.Shell)
	}
	if a.Fullname != nil && *a.Fullname != u.Fullname() {
		changes["fullname"] = *a.Fullname
		args = append(args, "-c", u.WithFullname(*a.Fullname))
	}
	if a.Groups != nil {
		current, err := usr.Groups(c.Name)
		if err != nil {
			return states.Failedf("%v", err)
		}
		if want, flags := groupChange(current, *a.Groups, a.RemoveGroups == nil || *a.RemoveGroups); flags != nil {
			changes["groups"] = want
			args = append(args, flags...)
		}
	}
	if a.Expire != nil {
		cur, err := expireDays(c.Name)
		if err != nil {
			return states.Failedf("%v", err)
		}
		if want := max(*a.Expire, -1); cur != want {
			changes["expire"] = want
			args = append(args, "-e", expireDate(want))
		}
	}
	var hash string
	setHash := false
	if a.Password != nil {
		old, err := usr.Password(c.Name)
		if err != nil {
			return states.Failedf("%v", err)
		}
		if old != *a.Password {
			hash, setHash = *a.Password, true
			changes["passwd"] = redacted
			if hash == "" {
				changes["passwd"] = ""
			}
		}
	}
	if len(changes) == 0 {
		return states.Succeeded(fmt.Sprintf("User %s is present and up to date", c.Name), nil)
	}
	if c.Test {
		return states.WouldChange("The following user attributes are set to be changed:\n"+describe(changes), changes)
	}
	if len(args) > 0 {
		if err := grp.Shadow(ctx, "", "usermod", append(args, "--", c.Name)...); err != nil {
			return states.Failedf("Failed to update user %s: %v", c.Name, err)
		}
	}
	if setHash {
		if err := usr.SetPassword(ctx, c.Name, hash); err != nil {
			delete(changes, "passwd")
			return states.Failed(fmt.Sprintf("Failed to set the password of user %s: %v", c.Name, err), nilIfEmpty(changes))
		}
	}
	return states.Succeeded(fmt.Sprintf("Updated user %s", c.Name), changes)
}

// groupChange compares supplementary groups. It returns the resulting
// group list and the usermod flags that get there, or nil flags when
// nothing changes. Without remove, groups are only added.
func groupChange(current, wanted []string, remove bool) ([]any, []string) {
	want := append([]string(nil), wanted...)
	if !remove {
		for _, g := range current {
			if !slices.Contains(want, g) {
				want = append(want, g)
			}
		}
	}
	sort.Strings(want)
	want = slices.Compact(want)
	if slices.Equal(want, current) {
		return nil, nil
	}
	list := make([]any, len(want))
	for i, g := range want {
		list[i] = g
	}
	return list, []string{"-G", strings.Join(want, ",")}
}

func absent(ctx context.Context, c *states.Call, a *AbsentArgs) states.Outcome {
	if err := grp.CheckName("user", c.Name); err != nil {
		return states.Failedf("%v", err)
	}
	u, ok, err := usr.Lookup(c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	if !ok {
		return states.Succeeded(fmt.Sprintf("User %s is not present", c.Name), nil)
	}
	own, hasOwn, err := grp.LookupGID(u.GID)
	if err != nil {
		return states.Failedf("%v", err)
	}
	hasOwn = hasOwn && own.Name == c.Name
	if c.Test {
		return states.WouldChange(fmt.Sprintf("User %s set for removal", c.Name), map[string]any{c.Name: "removed"})
	}
	args := []string{}
	if a.Purge {
		args = append(args, "-r")
	}
	if err := grp.Shadow(ctx, "", "userdel", append(args, "--", c.Name)...); err != nil {
		if _, still, _ := usr.Lookup(c.Name); still {
			return states.Failedf("Failed to remove user %s: %v", c.Name, err)
		}
		// userdel -r removed the user but, say, not all of its home
		return states.Failed(fmt.Sprintf("Removed user %s, with errors: %v", c.Name, err), map[string]any{c.Name: "removed"})
	}
	changes := map[string]any{c.Name: "removed"}
	if hasOwn {
		if _, still, err := grp.Lookup(c.Name); err == nil && !still {
			changes[c.Name+" group"] = "removed"
		}
	}
	return states.Succeeded(fmt.Sprintf("Removed user %s", c.Name), changes)
}

// expireDate is usermod's and useradd's -e value for days since the
// epoch: a date, or "" (never) for a negative number.
func expireDate(days int) string {
	if days < 0 {
		return ""
	}
	return time.Unix(int64(days)*86400, 0).UTC().Format(time.DateOnly)
}

// expireDays reads the account's expiry (days since the epoch, -1 for
// none) from the shadow file's eighth field.
func expireDays(name string) (int, error) {
	b, err := os.ReadFile(usr.ShadowFile)
	if err != nil {
		return 0, fmt.Errorf("read account expiry: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimRight(line, "\n"), ":")
		if len(f) < 8 || f[0] != name {
			continue
		}
		if f[7] == "" {
			return -1, nil
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			return 0, fmt.Errorf("%s: account expiry %q of %s is not a number", usr.ShadowFile, f[7], name)
		}
		return n, nil
	}
	return -1, nil
}

func nilIfEmpty(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// describe lists changes one per line, sorted: "shell: /bin/sh".
func describe(changes map[string]any) string {
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%s: %v", k, changes[k])
	}
	return strings.Join(lines, "\n")
}
