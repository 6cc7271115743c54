package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/brinecm/brine/pkg/result"
)

// A tree is the JSON form of a return, decoded so that every printer sees
// the same values in the same order: nil, bool, string, json.Number, []any
// and object. Plain Go maps arrive with sorted keys (encoding/json sorts
// them) and a Highstate arrives in run order (its MarshalJSON keeps it).

// member is one key of a JSON object.
type member struct {
	Key   string
	Value any
}

// object is a JSON object with its keys in source order.
type object []member

// toTree converts a return value to its tree form through its JSON encoding.
func toTree(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode return data: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	t, err := decodeValue(dec)
	if err != nil {
		return nil, fmt.Errorf("decode return data: %w", err)
	}
	if h, ok := v.(result.Highstate); ok {
		floatDurations(t, h)
	}
	return t, nil
}

// floatDurations prints each state's duration as the float it is ("40.0",
// as Salt prints it, not "40"); t is the tree of h, one member per state in
// the same order.
func floatDurations(t any, h result.Highstate) {
	run, ok := t.(object)
	if !ok || len(run) != len(h) {
		return
	}
	for i, m := range run {
		fields, ok := m.Value.(object)
		if !ok {
			continue
		}
		for j := range fields {
			if fields[j].Key == "duration" {
				fields[j].Value = json.Number(pyFloat(h[i].Duration))
			}
		}
	}
}

// decodeValue reads one JSON value from dec.
func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // nil, bool, string or json.Number
	}
	switch d {
	case '{':
		obj := object{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("object key %v is not a string", k)
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{Key: key, Value: v})
		}
		_, err := dec.Token() // '}'
		return obj, err
	case '[':
		list := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token() // ']'
		return list, err
	}
	return nil, errors.New("unexpected " + d.String())
}

// writeJSON writes t as indented JSON (four spaces a level, as Salt's json
// outputter), keeping object keys in order and leaving <, > and & as they are.
func writeJSON(w *bytes.Buffer, t any, depth int) error {
	switch v := t.(type) {
	case object:
		if len(v) == 0 {
			w.WriteString("{}")
			return nil
		}
		w.WriteString("{")
		for i, m := range v {
			if i > 0 {
				w.WriteString(",")
			}
			newline(w, depth+1)
			if err := writeScalar(w, m.Key); err != nil {
				return err
			}
			w.WriteString(": ")
			if err := writeJSON(w, m.Value, depth+1); err != nil {
				return err
			}
		}
		newline(w, depth)
		w.WriteString("}")
		return nil
	case []any:
		if len(v) == 0 {
			w.WriteString("[]")
			return nil
		}
		w.WriteString("[")
		for i, e := range v {
			if i > 0 {
				w.WriteString(",")
			}
			newline(w, depth+1)
			if err := writeJSON(w, e, depth+1); err != nil {
				return err
			}
		}
		newline(w, depth)
		w.WriteString("]")
		return nil
	}
	return writeScalar(w, t)
}

// newline starts a new line indented for depth.
func newline(w *bytes.Buffer, depth int) {
	w.WriteByte('\n')
	for range depth {
		w.WriteString("    ")
	}
}

// writeScalar writes one JSON scalar without HTML escaping.
func writeScalar(w *bytes.Buffer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %v: %w", v, err)
	}
	w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return nil
}
