// Package sls reads Salt-format state trees: it renders SLS files through
// Jinja, parses the YAML with line numbers, evaluates top.sls, resolves
// include, exclude, extend and names, and compiles everything into an
// ordered list of low chunks the state engine runs.
package sls

import "fmt"

// Pos is a position in a source file, for error messages.
type Pos struct {
	File string // path relative to the state tree root, e.g. "web/init.sls"
	Line int    // 1-based; 0 when unknown
}

// String formats the position as file:line.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// OrderKind says how a state's `order:` argument placed it.
type OrderKind int

// Order kinds, in the sequence the engine runs them.
const (
	OrderDefault OrderKind = iota // no order: argument, definition order
	OrderFirst                    // order: first
	OrderNumber                   // order: N
	OrderLast                     // order: last
)

// Order is a state's `order:` argument.
type Order struct {
	Kind OrderKind
	N    int // for OrderNumber
}

// Req is one requisite as written in a recipe, before resolution.
// Kind is the requisite keyword exactly as written: "require", "watch_in",
// "onchanges_any", "prereq", "listen", "use", ...
type Req struct {
	Kind   string
	Module string // state module named in the requisite ("file"), or "" for any
	Target string // ID or name (may be a glob), or an SLS name when Module is "sls"
	Pos    Pos
}

// Low is one compiled state: one ID declaration and one of its names,
// with one module function and its arguments (Salt's "low chunk").
type Low struct {
	ID       string         // __id__
	Name     string         // name argument, or the ID when not given
	Module   string         // "file"
	Fun      string         // "managed"
	SLS      string         // __sls__, e.g. "web.nginx"
	Env      string         // saltenv, "base"
	Args     map[string]any // every other argument, as YAML-decoded values
	ArgPos   map[string]Pos // where each argument in Args was written
	Reqs     []Req
	Order    Order
	Failhard bool
	Pos      Pos // where the ID declaration (or the name in names:) was written
	Index    int // definition order across the whole run, from 0
	// FromNames: Name is an entry of the state's names: list.
	FromNames bool `json:",omitempty"`
}

// Function returns "module.fun".
func (l *Low) Function() string { return l.Module + "." + l.Fun }

// Key returns Salt's result key: "file_|-motd_|-/etc/motd_|-managed".
func (l *Low) Key() string {
	return l.Module + "_|-" + l.ID + "_|-" + l.Name + "_|-" + l.Fun
}
