package sls

import "slices"

// FunctionLister is a Caller that lists the functions it runs; templates
// then answer `'mod.fun' in salt` and iterate salt as Salt's loader does.
type FunctionLister interface {
	// Functions lists the function names the Caller runs ("test.ping").
	Functions() []string
}

// ownFunctions are the salt[...] functions the compiler answers itself.
var ownFunctions = []string{"config.get", "grains.get", "grains.item", "grains.items",
	"pillar.get", "pillar.item", "pillar.items", "pillar.raw"}

// functions lists the functions templates can call: the compiler's own
// and, when it lists them, the Caller's.
func (c *Compiler) functions() []string {
	out := slices.Clone(ownFunctions)
	if l, ok := c.cfg.Caller.(FunctionLister); ok {
		out = append(out, l.Functions()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
