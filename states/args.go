package states

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ArgDecoder is implemented by argument types that decode themselves from a
// YAML-decoded value (string, int, float64, bool, []any, map[string]any, nil).
type ArgDecoder interface {
	DecodeArg(v any) error
}

// ArgError is an argument that could not be decoded: unknown, mistyped or
// missing. Arg is the argument's name as written.
type ArgError struct {
	Arg string
	Msg string
	// Unknown is set when the function has no argument of that name.
	Unknown bool
}

func (e *ArgError) Error() string { return e.Msg }

// ArgErrors is every argument problem of one state, in argument order.
type ArgErrors []*ArgError

func (e ArgErrors) Error() string {
	msgs := make([]string, len(e))
	for i, a := range e {
		msgs[i] = a.Msg
	}
	return strings.Join(msgs, "; ")
}

// Decode fills the struct pointed to by dst from raw arguments. Each field
// tagged `arg:"name"` takes the argument of that name; `arg:"name,required"`
// must be present. Unknown arguments are errors that suggest the closest
// known name. Supported field types: string, bool, int, int64, float64,
// time.Duration (seconds or "10s"), []string (a single string becomes one
// element), []any, map[string]any, map[string]string, any, pointers to
// these (nil when absent), and types implementing ArgDecoder. A
// map[string]any field tagged `arg:"*"` collects every other argument.
func Decode(raw map[string]any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return errors.New("decode arguments: destination is not a struct pointer")
	}
	return newArgSpec(rv.Elem().Type()).decode(raw, rv.Elem())
}

// argSpec is the argument layout of one struct type, computed once per
// registered function so decoding stays cheap on the hot path.
type argSpec struct {
	fields   map[string]argField
	names    []string // sorted, for suggestions
	required []string // sorted
	rest     []int    // index of the `arg:"*"` field, nil when none
}

func newArgSpec(t reflect.Type) *argSpec {
	fields := argFields(t)
	spec := &argSpec{fields: fields}
	if r, ok := fields["*"]; ok {
		spec.rest = r.index
		delete(fields, "*")
	}
	spec.names = fieldNames(fields)
	for _, n := range spec.names {
		if fields[n].required {
			spec.required = append(spec.required, n)
		}
	}
	return spec
}

func (spec *argSpec) decode(raw map[string]any, sv reflect.Value) error {
	var errs ArgErrors
	for k, v := range raw {
		f, ok := spec.fields[k]
		if !ok && spec.rest != nil {
			m := sv.FieldByIndex(spec.rest)
			if m.IsNil() {
				m.Set(reflect.MakeMap(m.Type()))
			}
			m.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(&v).Elem())
			continue
		}
		if !ok {
			msg := fmt.Sprintf("unknown argument '%s'", k)
			if s := Suggest(k, spec.names); s != "" {
				msg += fmt.Sprintf(" (did you mean '%s'?)", s)
			}
			errs = append(errs, &ArgError{Arg: k, Msg: msg, Unknown: true})
			continue
		}
		if err := setValue(sv.FieldByIndex(f.index), v); err != nil {
			errs = append(errs, &ArgError{Arg: k, Msg: fmt.Sprintf("argument '%s': %v", k, err)})
		}
	}
	for _, name := range spec.required {
		if _, ok := raw[name]; !ok {
			errs = append(errs, &ArgError{Arg: name, Msg: fmt.Sprintf("missing required argument '%s'", name)})
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Arg < errs[j].Arg })
		return errs
	}
	return nil
}

type argField struct {
	index    []int
	required bool
}

// argFields maps argument names to their fields; the fields of an
// embedded struct without an arg tag are arguments of the outer struct.
func argFields(t reflect.Type) map[string]argField {
	out := map[string]argField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("arg")
		if !ok {
			if embeddedArgs(f) {
				for name, inner := range argFields(f.Type) {
					inner.index = append(slices.Clone(f.Index), inner.index...)
					out[name] = inner
				}
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "*" && f.Type != reflect.TypeFor[map[string]any]() {
			continue
		}
		out[name] = argField{index: f.Index, required: opts == "required"}
	}
	return out
}

func fieldNames(fields map[string]argField) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ArgNames lists the argument names of an argument struct type, sorted,
// with required ones marked by a trailing '*'; sys.doc prints them.
func ArgNames(t reflect.Type) []string {
	fields := argFields(t)
	delete(fields, "*")
	names := fieldNames(fields)
	for i, n := range names {
		if fields[n].required {
			names[i] = n + "*"
		}
	}
	return names
}

var (
	argDecoderType = reflect.TypeFor[ArgDecoder]()
	durationType   = reflect.TypeFor[time.Duration]()
)

func checkArgType(t reflect.Type) error {
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("argument type %s is not a struct", t)
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup("arg"); !ok {
			if embeddedArgs(f) {
				if err := checkArgType(f.Type); err != nil {
					return err
				}
			}
			continue
		}
		if !supported(f.Type) {
			return fmt.Errorf("argument field %s has unsupported type %s", f.Name, f.Type)
		}
	}
	return nil
}

// embeddedArgs reports whether f is an embedded struct whose fields are
// arguments.
func embeddedArgs(f reflect.StructField) bool {
	return f.Anonymous && f.IsExported() && f.Type.Kind() == reflect.Struct
}

func supported(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(argDecoderType) || t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64, reflect.Interface:
		return true
	case reflect.Pointer:
		return supported(t.Elem())
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String || t.Elem().Kind() == reflect.Interface
	case reflect.Map:
		return t.Key().Kind() == reflect.String && (t.Elem().Kind() == reflect.String || t.Elem().Kind() == reflect.Interface)
	}
	return false
}

func setValue(dst reflect.Value, v any) error {
	t := dst.Type()
	if dst.CanAddr() && reflect.PointerTo(t).Implements(argDecoderType) {
		return dst.Addr().Interface().(ArgDecoder).DecodeArg(v)
	}
	if t == durationType {
		d, err := toDuration(v)
		if err != nil {
			return err
		}
		dst.SetInt(int64(d))
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v == nil {
			dst.SetZero()
			return nil
		}
		p := reflect.New(t.Elem())
		if err := setValue(p.Elem(), v); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.Interface:
		if v == nil {
			dst.SetZero()
		} else {
			dst.Set(reflect.ValueOf(v))
		}
		return nil
	case reflect.String:
		s, err := toString(v)
		if err != nil {
			return err
		}
		dst.SetString(s)
	case reflect.Bool:
		b, err := toBool(v)
		if err != nil {
			return err
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		dst.SetInt(n)
	case reflect.Float64:
		f, err := toFloat(v)
		if err != nil {
			return err
		}
		dst.SetFloat(f)
	case reflect.Slice:
		return setSlice(dst, v)
	case reflect.Map:
		return setMap(dst, v)
	default:
		return fmt.Errorf("unsupported argument type %s", t)
	}
	return nil
}

func setSlice(dst reflect.Value, v any) error {
	items, ok := v.([]any)
	if !ok {
		if v == nil {
			dst.SetZero()
			return nil
		}
		if _, isMap := v.(map[string]any); isMap {
			return fmt.Errorf("expected a list, got a mapping")
		}
		items = []any{v} // a single scalar is a one-element list
	}
	out := reflect.MakeSlice(dst.Type(), len(items), len(items))
	for i, it := range items {
		if err := setValue(out.Index(i), it); err != nil {
			return fmt.Errorf("item %d: %w", i+1, err)
		}
	}
	dst.Set(out)
	return nil
}

func setMap(dst reflect.Value, v any) error {
	if v == nil {
		dst.SetZero()
		return nil
	}
	m, err := toMap(v)
	if err != nil {
		return err
	}
	out := reflect.MakeMapWithSize(dst.Type(), len(m))
	for k, item := range m {
		ev := reflect.New(dst.Type().Elem()).Elem()
		if err := setValue(ev, item); err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		out.SetMapIndex(reflect.ValueOf(k), ev)
	}
	dst.Set(out)
	return nil
}

// toMap accepts a mapping or Salt's list of one-key mappings.
func toMap(v any) (map[string]any, error) {
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case []any:
		out := map[string]any{}
		for _, it := range x {
			m, ok := it.(map[string]any)
			if !ok || len(m) != 1 {
				return nil, fmt.Errorf("expected a mapping or a list of one-key mappings")
			}
			for k, val := range m {
				out[k] = val
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a mapping, got %s", describe(v))
}

func toString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("expected a string, got %s", describe(v))
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true", "yes", "on", "1":
			return true, nil
		case "false", "no", "off", "0", "":
			return false, nil
		}
	case int:
		return x != 0, nil
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("expected true or false, got %s", describe(v))
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("expected an integer, got %s", describe(v))
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("expected a number, got %s", describe(v))
}

func toDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case int, int64, float64:
		f, _ := toFloat(x)
		return time.Duration(f * float64(time.Second)), nil
	case string:
		if d, err := time.ParseDuration(x); err == nil {
			return d, nil
		}
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return time.Duration(f * float64(time.Second)), nil
		}
	}
	return 0, fmt.Errorf("expected seconds or a duration like \"10s\", got %s", describe(v))
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%v", v)
}

// Mode is a file permission mode as Salt users write it: 644, "0644",
// '0o644', 0o644 or 0644 (octal digits either way), or keep (the mode of
// the source file, for file.managed).
type Mode struct {
	Perm uint32
	Set  bool
	Keep bool
}

// DecodeArg reads a mode from an integer written with octal digits or a string.
func (m *Mode) DecodeArg(v any) error {
	var s string
	switch x := v.(type) {
	case nil:
		*m = Mode{}
		return nil
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64: // a mode that travelled as JSON
		if x != math.Trunc(x) || x < 0 {
			return fmt.Errorf("expected a mode like 0644, got %s", describe(v))
		}
		s = strconv.FormatInt(int64(x), 10)
	case string:
		s = strings.TrimSpace(x)
		if strings.EqualFold(s, "keep") {
			*m = Mode{Keep: true}
			return nil
		}
	default:
		return fmt.Errorf("expected a mode like 0644, got %s", describe(v))
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 07777 {
		return fmt.Errorf("expected a mode like 0644, got %s", describe(v))
	}
	*m = Mode{Perm: uint32(n), Set: true}
	return nil
}

// Suggest returns the candidate closest to s by edit distance, or "" when
// none is close enough to be a likely typo.
func Suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost one,
// so "cdw" is one edit from "cwd".
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
