// Package registry is the name-keyed table that state and execution modules
// register themselves in from their init functions.
package registry

import (
	"sort"
	"sync"
)

// Map holds values by name; it is safe for concurrent use.
type Map[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// Add stores v under name; it reports false, storing nothing, when the
// name is taken.
func (r *Map[T]) Add(name string, v T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		return false
	}
	if r.m == nil {
		r.m = map[string]T{}
	}
	r.m[name] = v
	return true
}

// Get returns the value stored under name.
func (r *Map[T]) Get(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Names lists every name, sorted.
func (r *Map[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
