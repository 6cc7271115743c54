package file

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
)

// pyRead is a Python program printing, as JSON, what Python's own
// plistlib or configparser (as Salt's deserializers use them) reads from
// the file argv[2].
const pyRead = `
import configparser, json, plistlib, sys
fmt, path = sys.argv[1], sys.argv[2]
if fmt == "plist":
    with open(path, "rb") as f:
        data = plistlib.load(f)
else:
    cp = configparser.ConfigParser()
    with open(path) as f:
        cp.read_file(f)
    data = {s: dict(cp.items(s)) for s in cp.sections()}
print(json.dumps(data, sort_keys=True))
`

// pyWrite writes the JSON data of argv[3] to argv[2] with Python's
// plistlib (xml or binary) or configparser.
const pyWrite = `
import configparser, json, plistlib, sys
fmt, path, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if fmt in ("xml", "binary"):
    with open(path, "wb") as f:
        plistlib.dump(data, f, fmt=plistlib.FMT_BINARY if fmt == "binary" else plistlib.FMT_XML)
else:
    cp = configparser.ConfigParser()
    cp.read_dict(data)
    with open(path, "w") as f:
        cp.write(f)
`

func jsonNormal(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSerializersAgainstPython checks brine's plist and configparser
// serializers against Python's plistlib and configparser, which Salt's
// serializers wrap: each reads what the other writes.
func TestSerializersAgainstPython(t *testing.T) {
	systest.RequireCommands(t, "python3")
	plistData := map[string]any{
		"name":    "naïve <&> \"quoted\"",
		"count":   340282366,
		"big":     int64(1) << 40,
		"neg":     -7,
		"ratio":   0.25,
		"on":      true,
		"off":     false,
		"list":    []any{"a", 1, []any{}, map[string]any{}},
		"nested":  map[string]any{"k": "v", "long": strings.Repeat("x", 300)},
		"unicode": "한국어",
	}
	many := map[string]any{}
	for i := range 300 {
		many[strings.Repeat("k", i%7+1)+string(rune('a'+i%26))+strings.Repeat("z", i/26)] = i
	}
	iniData := map[string]any{
		"main":  map[string]any{"Name": "brine", "port": 8080, "flag": true, "multi": "one\ntwo"},
		"other": map[string]any{"path": "/srv/%%data"},
	}
	cases := []struct {
		name, format, pyFormat string
		opts                   map[string]any
		data                   any
	}{
		{"plist xml", "plist", "xml", nil, plistData},
		{"plist binary", "plist", "binary", map[string]any{"fmt": "FMT_BINARY"}, plistData},
		{"plist binary, 300 keys", "plist", "binary", map[string]any{"fmt": "FMT_BINARY"}, many},
		{"configparser", "configparser", "ini", nil, iniData},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ser := serializers[c.format]
			b, err := ser.write(c.data, c.opts)
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			path := filepath.Join(dir, "brine-"+c.pyFormat)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("python3", "-c", pyRead, c.format, path).CombinedOutput()
			if err != nil {
				t.Fatalf("python3 reads what brine wrote: %v\n%s", err, out)
			}
			var pyGot any
			if err := json.Unmarshal(out, &pyGot); err != nil {
				t.Fatalf("python3 printed %q: %v", out, err)
			}
			want := jsonNormal(t, c.data)
			if c.format == "configparser" {
				// configparser holds strings, with keys lower-cased
				// and %% read as %.
				want = jsonNormal(t, map[string]any{
					"main":  map[string]any{"name": "brine", "port": "8080", "flag": "True", "multi": "one\ntwo"},
					"other": map[string]any{"path": "/srv/%data"},
				})
			}
			if !reflect.DeepEqual(pyGot, want) {
				t.Errorf("python3 read %v\nwant %v", pyGot, want)
			}
			back, err := ser.read(b, nil)
			if err != nil {
				t.Fatalf("brine reads what it wrote: %v", err)
			}
			if got := jsonNormal(t, back); !reflect.DeepEqual(got, want) {
				t.Errorf("brine read back %v\nwant %v", got, want)
			}

			// The other way round: Python writes, brine reads.
			pyPath := filepath.Join(dir, "python-"+c.pyFormat)
			if c.format == "configparser" {
				// Python's configparser refuses to set a lone %.
				want = jsonNormal(t, map[string]any{
					"main":  map[string]any{"name": "brine", "port": "8080", "flag": "True", "multi": "one\ntwo"},
					"other": map[string]any{"path": "/srv/data"},
				})
			}
			arg, _ := json.Marshal(want)
			if out, err := exec.Command("python3", "-c", pyWrite, c.pyFormat, pyPath, string(arg)).CombinedOutput(); err != nil {
				t.Fatalf("python3 writes: %v\n%s", err, out)
			}
			pb, err := os.ReadFile(pyPath)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ser.read(pb, nil)
			if err != nil {
				t.Fatalf("brine reads what python3 wrote: %v\n%s", err, pb)
			}
			if g := jsonNormal(t, got); !reflect.DeepEqual(g, want) {
				t.Errorf("brine read %v from python3's file\nwant %v", g, want)
			}
		})
	}
}

// TestSerializerErrors: data or options a format cannot take are refused
// with what is wrong.
func TestSerializerErrors(t *testing.T) {
	cases := []struct {
		name, format string
		data         any
		opts         map[string]any
		want         string
	}{
		{"ini top level not a mapping", "configparser", []any{"a"}, nil, "mapping of sections, not a list"},
		{"ini section not a mapping", "configparser", map[string]any{"s": "v"}, nil, `section "s" must be a mapping of keys, not a string`},
		{"ini unknown option", "configparser", map[string]any{}, map[string]any{"strict": true}, `does not take the option "strict" (it takes defaults)`},
		{"plist None", "plist", map[string]any{"k": nil}, nil, "k: a plist cannot hold None"},
		{"plist bad fmt", "plist", map[string]any{}, map[string]any{"fmt": "FMT_TEXT"}, "FMT_XML or FMT_BINARY, not FMT_TEXT"},
		{"yaml options", "yaml", map[string]any{}, map[string]any{"indent": 4}, `yaml serializer takes no options, got "indent"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := serializers[c.format].write(c.data, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to hold %q", err, c.want)
			}
		})
	}
	reads := []struct {
		name, format, text, want string
	}{
		{"ini line", "configparser", "[a]\nk = v\nnot an option\n", `line 3: expected [section] or key = value, got "not an option"`},
		{"ini key before section", "configparser", "k = v\n", "line 1: expected [section]"},
		{"ini reference loop", "configparser", "[a]\nx = %(y)s\ny = %(x)s\n", "nests too deep"},
		{"ini missing reference", "configparser", "[a]\nx = %(nope)s\n", "refers to nope, which is not set"},
		{"plist not xml", "plist", "hello", "not a property list"},
		{"plist broken binary", "plist", "bplist00" + strings.Repeat("\x00", 40), "broken trailer"},
	}
	for _, c := range reads {
		t.Run(c.name, func(t *testing.T) {
			_, err := serializers[c.format].read([]byte(c.text), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to hold %q", err, c.want)
			}
		})
	}
}
