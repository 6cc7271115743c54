package sls

import (
	"strings"
	"sync"

	"github.com/brinecm/brine/pkg/jinja"
)

// TemplateCache shares the files read from the state and pillar trees and
// their parsed templates between the compilers of one run: every minion of
// one job, every fixture of one `brine test render`. Each file is then read
// and parsed once per run instead of once per minion. A run sees each file
// as it was when the run first read it, so every minion of the run compiles
// the same tree; parsed templates are keyed by their source, never served
// for another. Everything per minion (grains, pillar, opts, salt functions,
// limits, context) stays with each compiler. Use a new TemplateCache for
// each run. Safe for concurrent use.
type TemplateCache struct {
	mu    sync.Mutex
	trees map[string]*sharedTree // by tree kind and directories
}

// NewTemplateCache returns an empty TemplateCache for one run.
func NewTemplateCache() *TemplateCache {
	return &TemplateCache{trees: map[string]*sharedTree{}}
}

// sharedTree is what the compilers of a run share for one tree.
type sharedTree struct {
	templates *jinja.Cache
	mu        sync.Mutex
	files     map[readKey]*sharedRead
}

// readKey names one read: the tree path and the size limit it was read with.
type readKey struct {
	name  string
	limit int64
}

// sharedRead is one read's outcome, done once per run.
type sharedRead struct {
	once sync.Once
	data []byte
	err  error
}

// tree returns the shared state of the tree of kind ("states", "pillar")
// made of dirs, in order.
func (c *TemplateCache) tree(kind string, dirs []string) *sharedTree {
	key := kind + "\x00" + strings.Join(dirs, "\x00")
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.trees[key]
	if !ok {
		t = &sharedTree{templates: jinja.NewCache(), files: map[readKey]*sharedRead{}}
		c.trees[key] = t
	}
	return t
}

// read returns the run's read of name with limit, reading it through read
// the first time. The bytes returned are shared: callers must not modify
// them.
func (t *sharedTree) read(name string, limit int64, read func() ([]byte, error)) ([]byte, error) {
	k := readKey{name: name, limit: limit}
	t.mu.Lock()
	r, ok := t.files[k]
	if !ok {
		r = &sharedRead{}
		t.files[k] = r
	}
	t.mu.Unlock()
	r.once.Do(func() { r.data, r.err = read() })
	return r.data, r.err
}
