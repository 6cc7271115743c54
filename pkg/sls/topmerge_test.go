package sls

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/testfs"
)

// TestTopMergingStrategies replays Salt's TopFileMergingCase: four
// environments (base, foo, bar, baz) whose top files each give every
// environment one SLS named <top's env>_<section's env>, baz having no top
// file, merged as each strategy, env_order, default_top and
// state_top_saltenv say. Each want lists env:sls in the merged order.
func TestTopMergingStrategies(t *testing.T) {
	envs := []string{"base", "foo", "bar", "baz"}
	top := func(env string, sections ...string) string {
		var b strings.Builder
		for _, s := range sections {
			fmt.Fprintf(&b, "%s:\n  '*':\n    - %s_%s\n", s, env, s)
		}
		return b.String()
	}
	layTrees := func(t *testing.T, limitedBase bool) (string, map[string][]string) {
		dir := t.TempDir()
		other := map[string][]string{}
		for _, env := range envs {
			files := map[string]string{"placeholder.sls": ""}
			switch {
			case env == "baz":
			case env == "base" && limitedBase:
				files["top.sls"] = top(env, "base")
			default:
				files["top.sls"] = top(env, envs...)
			}
			testfs.Write(t, filepath.Join(dir, env), files)
			if env != "base" {
				other[env] = []string{filepath.Join(dir, env)}
			}
		}
		return filepath.Join(dir, "base"), other
	}
	all := func(topEnv string) []string { // every section of one top file
		var out []string
		for _, env := range envs {
			out = append(out, env+":"+topEnv+"_"+env)
		}
		return out
	}
	cases := []struct {
		name                           string
		limitedBase                    bool
		strategy, defaultTop, stateTop string
		envOrder                       []string
		want                           []string
	}{
		{name: "merge", want: all("base")},
		{name: "merge, limited base", limitedBase: true, want: []string{"base:base_base", "foo:foo_foo", "bar:bar_bar"}},
		{name: "merge, state_top_saltenv base", stateTop: "base", want: all("base")},
		{name: "merge, state_top_saltenv foo", stateTop: "foo", want: []string{"foo:foo_foo"}},
		{name: "merge_all", strategy: TopMergeAll, want: []string{
			"base:base_base", "base:foo_base", "base:bar_base",
			"foo:base_foo", "foo:foo_foo", "foo:bar_foo",
			"bar:base_bar", "bar:foo_bar", "bar:bar_bar",
			"baz:base_baz", "baz:foo_baz", "baz:bar_baz"}},
		{name: "merge_all, env_order", strategy: TopMergeAll, envOrder: []string{"bar", "foo", "base"}, want: []string{
			"base:bar_base", "base:foo_base", "base:base_base",
			"foo:bar_foo", "foo:foo_foo", "foo:base_foo",
			"bar:bar_bar", "bar:foo_bar", "bar:base_bar"}},
		{name: "merge_all, state_top_saltenv base", strategy: TopMergeAll, stateTop: "base", want: all("base")},
		{name: "merge_all, state_top_saltenv foo", strategy: TopMergeAll, stateTop: "foo", want: all("foo")},
		{name: "same, default_top foo", strategy: TopSame, defaultTop: "foo", want: []string{"base:base_base", "foo:foo_foo", "bar:bar_bar", "baz:foo_baz"}},
		{name: "same, default_top unset", strategy: TopSame, want: []string{"base:base_base", "foo:foo_foo", "bar:bar_bar", "baz:base_baz"}},
		{name: "same, limited base", strategy: TopSame, limitedBase: true, want: []string{"base:base_base", "foo:foo_foo", "bar:bar_bar"}},
		{name: "same, state_top_saltenv base", strategy: TopSame, stateTop: "base", want: []string{"base:base_base"}},
		{name: "same, state_top_saltenv foo", strategy: TopSame, stateTop: "foo", want: []string{"foo:foo_foo"}},
		{name: "same, state_top_saltenv baz", strategy: TopSame, stateTop: "baz", want: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, other := layTrees(t, c.limitedBase)
			order := c.envOrder
			if order == nil {
				order = envs // Salt's test lists its environments in this order
			}
			comp := New(Config{FileRoots: []string{base}, FileEnvs: other, ID: "match",
				TopMerging: c.strategy, EnvOrder: order, DefaultTop: c.defaultTop, StateTopSaltenv: c.stateTop})
			var errs Errors
			var got []string
			for _, te := range comp.topEntries(context.Background(), stateTrees, nil, false, &errs) {
				got = append(got, te.env+":"+te.name)
			}
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("merged top\n %v\nwant\n %v", got, c.want)
			}
		})
	}
}
