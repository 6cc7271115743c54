package sls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/target"
	"gopkg.in/yaml.v3"
)

// topFile is the name of the top file at the root of a tree.
const topFile = "top.sls"

// topEntry is one SLS name a top file gives the minion.
type topEntry struct {
	named
	ignoreMissing bool // pillar tops: `- ignore_missing: True`
}

// Top file merging strategies (Config.TopMerging), as Salt's
// top_file_merging_strategy.
const (
	// TopMerge: every section of base's top file, then each other
	// environment's own section of its own top file, unless base's top
	// file has a section for that environment (Salt's default).
	TopMerge = "merge"
	// TopSame: each environment's own section of its own top file; an
	// environment without a top file takes its section of
	// Config.DefaultTop's.
	TopSame = "same"
	// TopMergeAll: every section of every top file, in environment order,
	// the SLS of one environment and target gathered in one list.
	TopMergeAll = "merge_all"
)

// topSection is one environment's section of one top file.
type topSection struct {
	p   *parser
	sec pair
}

// topEntries evaluates the top files of the kind of tree for this
// minion, whose pillar (for pillar matchers and the `pillar` Jinja
// variable) is pillar. With an environment given (Config.Saltenv for
// states, Config.Pillarenv for pillar) it reads that environment's top file
// and, of it, that environment's section. Otherwise the top files of the
// environments (Config.EnvOrder's, or base then the others sorted; only
// Config.StateTopSaltenv's when set) are merged as Config.TopMerging says
// (pillar top files always as TopMerge). No top file at all gives
// nothing; required reports that as an error.
func (c *Compiler) topEntries(ctx context.Context, kind treeKind, pillar map[string]any, required bool, errs *Errors) []topEntry {
	only := ""
	switch {
	case kind == stateTrees && c.envGiven:
		only = c.cfg.Saltenv
	case kind == pillarTrees:
		only = c.cfg.Pillarenv
	}
	strategy, order, read := TopMerge, c.envNames(kind), []string(nil)
	if kind == stateTrees {
		if c.cfg.TopMerging != "" {
			strategy = c.cfg.TopMerging
		}
		if len(c.cfg.EnvOrder) > 0 {
			order = c.cfg.EnvOrder
		}
		if c.cfg.StateTopSaltenv != "" {
			read = []string{c.cfg.StateTopSaltenv}
		}
	}
	if read == nil {
		read = order
	}
	if only != "" {
		read = []string{only}
	}
	var inOrder map[string]bool // with env_order: the environments it keeps
	if kind == stateTrees && len(c.cfg.EnvOrder) > 0 {
		inOrder = map[string]bool{}
		for _, env := range order {
			inOrder[env] = true
		}
	}
	minion := target.Minion{ID: c.cfg.ID, Grains: c.cfg.Grains, Pillar: pillar}
	nodegroups := c.nodegroups()
	known := c.envNames(kind)
	before := len(*errs)

	// Each environment's top file, by environment: its sections.
	tops := map[string][]topSection{}
	hasTop := map[string]bool{}
	found := false
	for _, env := range read {
		e, err := c.env(kind, env)
		if err != nil {
			errs.add(Pos{}, "", "%v", err)
			continue
		}
		p, sections, ok := c.readTop(ctx, e, env, pillar, errs)
		if !ok {
			continue
		}
		found = true
		for _, sec := range sections {
			if sec.key == "include" || inOrder != nil && !inOrder[sec.key] && sec.key != only {
				continue // Salt's top file includes are not read; env_order leaves other environments out
			}
			tops[env] = append(tops[env], topSection{p, sec})
			hasTop[env] = true
		}
	}

	// The sections that count, in the order Salt merges them.
	var chosen []topSection
	section := func(topEnv, env string) (topSection, bool) {
		for _, ts := range tops[topEnv] {
			if ts.sec.key == env {
				return ts, true
			}
		}
		return topSection{}, false
	}
	switch {
	case only != "":
		if ts, ok := section(only, only); ok {
			chosen = append(chosen, ts)
		}
	case strategy == TopSame:
		for _, env := range read {
			topEnv := env
			if !hasTop[env] && c.cfg.DefaultTop != "" {
				topEnv = c.cfg.DefaultTop
			} else if !hasTop[env] {
				topEnv = Base
			}
			if ts, ok := section(topEnv, env); ok {
				chosen = append(chosen, ts)
			}
		}
	case strategy == TopMergeAll:
		for _, env := range read {
			chosen = append(chosen, tops[env]...)
		}
	default:
		covered := map[string]bool{}
		for _, ts := range tops[Base] {
			chosen = append(chosen, ts)
			covered[ts.sec.key] = true
		}
		for _, env := range read {
			if env == Base || covered[env] {
				continue // Salt ignores these sections of a non-base top file
			}
			if ts, ok := section(env, env); ok {
				chosen = append(chosen, ts)
			}
		}
	}

	// Salt's merged top: by environment, then by target, each list of SLS
	// gathering what every chosen section gives it.
	type group struct {
		env, target string
		entries     []topEntry
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, ts := range chosen {
		body := resolve(ts.sec.val)
		if isNull(body) {
			continue
		}
		if body.Kind != yaml.MappingNode {
			ts.p.errorf(ts.sec.keyNode, "", "environment %q must be a mapping of targets to SLS lists, not a %s", ts.sec.key, kindName(body))
			continue
		}
		for _, tp := range ts.p.pairs(body) {
			key := ts.sec.key + "\x00" + tp.key
			g := byKey[key]
			if g == nil {
				g = &group{env: ts.sec.key, target: tp.key}
				byKey[key] = g
				groups = append(groups, g)
			}
			g.entries = append(g.entries, ts.p.topTarget(tp, minion, nodegroups, known)...)
		}
	}
	envFirst := map[string]int{} // each environment's first group
	for i, g := range groups {
		if _, ok := envFirst[g.env]; !ok {
			envFirst[g.env] = i
		}
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return envFirst[a.env] - envFirst[b.env] })
	var out []topEntry
	seen := map[string]bool{} // env:name given already
	for _, g := range groups {
		for _, te := range g.entries {
			if te.env == "" {
				te.env = g.env
			}
			if !seen[te.env+":"+te.name] {
				seen[te.env+":"+te.name] = true
				out = append(out, te)
			}
		}
	}
	if !found && required && len(*errs) == before {
		if only != "" {
			errs.add(Pos{}, "", "no %s found in the %s of env %q", topFile, kind, only)
		} else {
			errs.add(Pos{}, "", "no %s found in the file roots", topFile)
		}
	}
	return out
}

// readTop reads, renders and parses the top file of the environment env
// (tree e): its sections by environment. ok is false when there is no top
// file or it does not parse (errs then says why).
func (c *Compiler) readTop(ctx context.Context, e *envTree, env string, pillar map[string]any, errs *Errors) (p *parser, sections []pair, ok bool) {
	src, err := e.tree.ReadFile(topFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			errs.add(Pos{File: topFile}, "", "%v", err)
		}
		return nil, nil, false
	}
	src, ok = render(ctx, e.jinja, topFile, src, func() map[string]any { return c.baseVars(pillar, env) }, errs)
	if !ok {
		return nil, nil, false
	}
	root, perr := parseYAML(topFile, src)
	if perr != nil {
		*errs = append(*errs, perr)
		return nil, nil, false
	}
	if root == nil {
		return nil, nil, true
	}
	p = newParser(topFile, errs)
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "top file must be a mapping of environments, not a %s", kindName(root))
		return nil, nil, false
	}
	return p, p.pairs(root), true
}

// topTarget evaluates one target of a top file and returns its SLS names
// when the minion matches. An item {env: name} names an SLS of another of
// the environments envs, as in Salt.
func (p *parser) topTarget(tp pair, minion target.Minion, nodegroups map[string]string, envs []string) []topEntry {
	n := resolve(tp.val)
	items := []*yaml.Node{n}
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind != yaml.ScalarNode:
		p.errorf(tp.keyNode, "", "target %q: want a list of SLS names, not a %s", tp.key, kindName(n))
		return nil
	}
	kind := target.Compound // Salt's default top matcher; plain globs are compound expressions too
	ignoreMissing := false
	var names []topEntry
	for _, item := range items {
		item = resolve(item)
		switch {
		case item.Kind == yaml.ScalarNode && !isNull(item):
			names = append(names, topEntry{named: named{name: item.Value, pos: p.pos(item)}})
		case item.Kind == yaml.MappingNode:
			for _, opt := range p.pairs(item) {
				v := resolve(opt.val)
				switch opt.key {
				case "match":
					kind = target.Kind(v.Value)
				case "ignore_missing":
					b, ok := scalar(v).(bool)
					if !ok {
						p.errorf(opt.keyNode, "", "target %q: ignore_missing must be true or false", tp.key)
					}
					ignoreMissing = b
				default:
					if slices.Contains(envs, opt.key) && v.Kind == yaml.ScalarNode && !isNull(v) {
						names = append(names, topEntry{named: named{name: v.Value, pos: p.pos(v), env: opt.key}})
						continue
					}
					p.errorf(opt.keyNode, "", "target %q: unknown option %q (want match, ignore_missing or an environment: %s)",
						tp.key, opt.key, strings.Join(envs, ", "))
				}
			}
		default:
			p.errorf(item, "", "target %q: item must be an SLS name or {match: kind}, not a %s", tp.key, kindName(item))
		}
	}
	m, err := compileTarget(kind, tp.key, nodegroups)
	if err != nil {
		p.errorf(tp.keyNode, "", "%v", err)
		return nil
	}
	if !m.Match(minion) {
		return nil
	}
	for i := range names {
		names[i].ignoreMissing = ignoreMissing
	}
	return names
}

// compileTarget compiles a matcher, turning a panic in it into an error.
func compileTarget(kind target.Kind, expr string, nodegroups map[string]string) (m target.Matcher, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%s target %q: matcher failure: %v", kind, expr, r)
		}
	}()
	switch kind {
	case target.Glob, target.List, target.Grain, target.GrainPCRE, target.PCRE, target.Pillar,
		target.PillarPCRE, target.IPCIDR, target.Compound, target.Nodegroup:
	default:
		return nil, fmt.Errorf("target %q: unknown match kind %q", expr, kind)
	}
	return target.Compile(kind, expr, nodegroups)
}

// nodegroups reads the nodegroups option: names to compound expressions,
// a list of expressions meaning any of them.
func (c *Compiler) nodegroups() map[string]string {
	raw, ok := c.cfg.Opts["nodegroups"].(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(raw))
	for name, v := range raw {
		switch v := v.(type) {
		case string:
			out[name] = v
		case []any:
			parts := make([]string, 0, len(v))
			for _, x := range v {
				parts = append(parts, "( "+fmt.Sprint(x)+" )")
			}
			out[name] = strings.Join(parts, " or ")
		}
	}
	return out
}
