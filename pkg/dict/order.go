package dict

import "sort"

// Order is the key order of a mapping, and of the mappings below it, as
// the YAML it came from wrote them. Salt's data are Python dicts, which
// keep that order; Go maps do not, so the order travels beside the data.
// A nil *Order knows no order.
type Order struct {
	Keys []string
	Sub  map[string]*Order
	// Items are the orders of a sequence's items, when some are mappings.
	Items []*Order
}

// Child is the order of the mapping under key k, or nil.
func (o *Order) Child(k string) *Order {
	if o == nil {
		return nil
	}
	return o.Sub[k]
}

// At walks the order along keys, as a delimited key walks the data.
func (o *Order) At(keys ...string) *Order {
	for _, k := range keys {
		o = o.Child(k)
	}
	return o
}

// Merge returns the order of Merge(dst, src)'s result, where o is dst's
// order: dst's keys first, then src's new keys in their order, as a
// Python dict.update keeps them; the orders of mappings present in both
// merge recursively.
func (o *Order) Merge(src *Order) *Order {
	switch {
	case src == nil:
		return o
	case o == nil:
		return src.clone()
	}
	out := &Order{Keys: append([]string(nil), o.Keys...), Sub: make(map[string]*Order, len(o.Sub)+len(src.Sub))}
	seen := make(map[string]bool, len(o.Keys))
	for _, k := range o.Keys {
		seen[k] = true
	}
	for _, k := range src.Keys {
		if !seen[k] {
			out.Keys = append(out.Keys, k)
		}
	}
	for k, s := range o.Sub {
		out.Sub[k] = s
	}
	for k, s := range src.Sub {
		out.Sub[k] = out.Sub[k].Merge(s)
	}
	return out
}

func (o *Order) clone() *Order {
	out := &Order{Keys: append([]string(nil), o.Keys...), Sub: make(map[string]*Order, len(o.Sub)), Items: make([]*Order, len(o.Items))}
	for k, s := range o.Sub {
		out.Sub[k] = s.clone()
	}
	for i, s := range o.Items {
		if s != nil {
			out.Items[i] = s.clone()
		}
	}
	return out
}

// Nest is the order of {key: <mapping of order o>}.
func (o *Order) Nest(key string) *Order {
	return &Order{Keys: []string{key}, Sub: map[string]*Order{key: o}}
}

// Ordered is a mapping with its key order, handed to consumers that
// iterate mappings as Python does (the Jinja engine). Map stays the data;
// Order only sorts it.
type Ordered struct {
	Map   map[string]any
	Order *Order
}

// OrderedKeys lists Map's keys: those Order knows in its order, then any
// others sorted.
func (m Ordered) OrderedKeys() []string {
	keys := make([]string, 0, len(m.Map))
	seen := make(map[string]bool, len(m.Map))
	if m.Order != nil {
		for _, k := range m.Order.Keys {
			if _, ok := m.Map[k]; ok && !seen[k] {
				keys = append(keys, k)
				seen[k] = true
			}
		}
	}
	var rest []string
	for k := range m.Map {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// Lookup is Map[k]; a mapping value comes back as an Ordered with its
// own order.
func (m Ordered) Lookup(k string) (any, bool) {
	v, ok := m.Map[k]
	return WithOrder(v, m.Order.Child(k)), ok
}

// WithOrder pairs v, when it is a mapping and o is known, with o; a
// sequence whose items have orders becomes a copy holding Ordered items.
func WithOrder(v any, o *Order) any {
	if o == nil {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		return Ordered{Map: x, Order: o}
	case []any:
		if len(o.Items) == 0 {
			return v
		}
		out := make([]any, len(x))
		for i, e := range x {
			if i < len(o.Items) {
				e = WithOrder(e, o.Items[i])
			}
			out[i] = e
		}
		return out
	}
	return v
}
