// Package group provides the group state module: group.present and
// group.absent, through the shadow tools (groupadd, groupmod, gpasswd,
// groupdel).
package group

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	grp "github.com/brinecm/brine/modules/group"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("group.present", states.Func[PresentArgs]{
		Doc: "Ensures the named group exists, with gid when given and exactly the users in members when given. " +
			"system: True makes a new group a system group.",
		Apply: present,
	})
	states.Register("group.absent", states.Func[struct{}]{
		Doc:   "Ensures the named group does not exist.",
		Apply: absent,
	})
}

// PresentArgs are group.present's arguments; the group is the state's name.
type PresentArgs struct {
	GID     *int      `arg:"gid"`
	Members *[]string `arg:"members"`
	System  bool      `arg:"system"`
	// AddUsers and DelUsers add members to and remove members from the
	// group's current ones; they cannot be combined with members.
	AddUsers []string `arg:"addusers"`
	DelUsers []string `arg:"delusers"`
}

// memberEdit turns addusers/delusers into the full member list, from
// the group's current members.
func memberEdit(current []string, a *PresentArgs) error {
	if a.AddUsers == nil && a.DelUsers == nil {
		return nil
	}
	if a.Members != nil {
		return fmt.Errorf("members and addusers/delusers cannot be used together: list every member in members, or edit with addusers/delusers")
	}
	for _, u := range a.AddUsers {
		if slices.Contains(a.DelUsers, u) {
			return fmt.Errorf("user %s is both in addusers and in delusers", u)
		}
	}
	want := []string{}
	for _, u := range current {
		if !slices.Contains(a.DelUsers, u) {
			want = append(want, u)
		}
	}
	for _, u := range a.AddUsers {
		if !slices.Contains(want, u) {
			want = append(want, u)
		}
	}
	a.Members = &want
	return nil
}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	if err := grp.CheckName("group", c.Name); err != nil {
		return states.Failedf("%v", err)
	}
	g, ok, err := grp.Lookup(c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	if err := memberEdit(g.Members, a); err != nil {
		return states.Failedf("group.present %s: %v", c.Name, err)
	}
	if !ok {
		return create(ctx, c, a)
	}
	changes := map[string]any{}
	if a.GID != nil && *a.GID != g.GID {
		changes["gid"] = *a.GID
	}
	if a.Members != nil && !grp.SameMembers(g.Members, *a.Members) {
		changes["members"] = anyList(*a.Members)
	}
	if len(changes) == 0 {
		return states.Succeeded(fmt.Sprintf("Group %s is present and up to date", c.Name), nil)
	}
	if c.Test {
		return states.WouldChange("The following group attributes are set to be changed:\n"+describe(changes), changes)
	}
	if _, ok := changes["gid"]; ok {
		if err := grp.SetGID(ctx, c.Name, *a.GID); err != nil {
			return states.Failedf("Failed to change the gid of group %s: %v", c.Name, err)
		}
	}
	if _, ok := changes["members"]; ok {
		if err := grp.SetMembers(ctx, c.Name, *a.Members); err != nil {
			delete(changes, "members")
			return states.Failed(fmt.Sprintf("Failed to set the members of group %s: %v", c.Name, err), nilIfEmpty(changes))
		}
	}
	return states.Succeeded(fmt.Sprintf("Updated group %s", c.Name), changes)
}

func create(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	if c.Test {
		changes := map[string]any{"name": c.Name}
		if a.GID != nil {
			changes["gid"] = *a.GID
		}
		if a.Members != nil {
			changes["members"] = anyList(*a.Members)
		}
		return states.WouldChange(fmt.Sprintf("Group %s set to be added", c.Name), changes)
	}
	gid := -1
	if a.GID != nil {
		gid = *a.GID
	}
	if err := grp.Add(ctx, c.Name, gid, a.System); err != nil {
		return states.Failedf("Failed to create new group %s: %v", c.Name, err)
	}
	if a.Members != nil && len(*a.Members) > 0 {
		if err := grp.SetMembers(ctx, c.Name, *a.Members); err != nil {
			return states.Failed(fmt.Sprintf("Group %s created, but its members could not be set: %v", c.Name, err),
				map[string]any{"name": c.Name})
		}
	}
	g, _, err := grp.Lookup(c.Name)
	if err != nil {
		return states.Failed(err.Error(), map[string]any{"name": c.Name})
	}
	return states.Succeeded(fmt.Sprintf("New group %s created", c.Name), g.Info())
}

func absent(ctx context.Context, c *states.Call, _ *struct{}) states.Outcome {
	if err := grp.CheckName("group", c.Name); err != nil {
		return states.Failedf("%v", err)
	}
	_, ok, err := grp.Lookup(c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	if !ok {
		return states.Succeeded("Group not present", nil)
	}
	changes := map[string]any{c.Name: ""}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Group %s is set for removal", c.Name), changes)
	}
	if err := grp.Delete(ctx, c.Name); err != nil {
		return states.Failedf("Failed to remove group %s: %v", c.Name, err)
	}
	return states.Succeeded(fmt.Sprintf("Removed group %s", c.Name), changes)
}

func anyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func nilIfEmpty(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// describe lists changes one per line, sorted: "gid: 5000".
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
