package file

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
)

// pyProgram reads and writes files with Python's own plistlib and
// configparser (which Salt's serializers wrap). Its argument is a JSON
// list of jobs: ["read", format, path] prints what Python reads from
// path, ["write", format, path, data] writes data there (format xml or
// binary for plists, ini); it prints a JSON list of what each read gave.
const pyProgram = `
import configparser, json, plistlib, sys
out = []
for job in json.loads(sys.argv[1]):
    op, fmt, path = job[0], job[1], job[2]
    if op == "read":
        if fmt == "plist":
            with open(path, "rb") as f:
                out.append(plistlib.load(f))
        else:
            cp = configparser.ConfigParser()
            with open(path) as f:
                cp.read_file(f)
            out.append({s: dict(cp.items(s)) for s in cp.sections()})
    elif fmt in ("xml", "binary"):
        with open(path, "wb") as f:
            plistlib.dump(job[3], f, fmt=plistlib.FMT_BINARY if fmt == "binary" else plistlib.FMT_XML)
    else:
        cp = configparser.ConfigParser()
        cp.read_dict(job[3])
        with open(path, "w") as f:
            cp.write(f)
print(json.dumps(out, sort_keys=True))
`

// runPython runs pyProgram on jobs and returns what the reads gave.
func runPython(t *testing.T, jobs [][]any) []any {
	t.Helper()
	arg, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", "-c", pyProgram, string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var got []any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python3 printed %q: %v", out, err)
	}
	return got
}

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
	// What brine reads back and what Python reads are compared with
	// want: configparser holds strings, keys lower-cased, %% read as %.
	wants := make([]any, len(cases))
	dir := t.TempDir()
	var reads, writes [][]any
	for i, c := range cases {
		b, err := serializers[c.format].write(c.data, c.opts)
		if err != nil {
			t.Fatalf("%s: write: %v", c.name, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("brine-%d", i))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		wants[i] = jsonNormal(t, c.data)
		pyData := wants[i]
		if c.format == "configparser" {
			wants[i] = jsonNormal(t, map[string]any{
				"main":  map[string]any{"name": "brine", "port": "8080", "flag": "True", "multi": "one\ntwo"},
				"other": map[string]any{"path": "/srv/%data"},
			})
			// Python's configparser refuses to set a lone %.
			pyData = jsonNormal(t, map[string]any{
				"main":  map[string]any{"name": "brine", "port": "8080", "flag": "True", "multi": "one\ntwo"},
				"other": map[string]any{"path": "/srv/data"},
			})
		}
		back, err := serializers[c.format].read(b, nil)
		if err != nil {
			t.Fatalf("%s: brine reads what it wrote: %v", c.name, err)
		}
		if got := jsonNormal(t, back); !reflect.DeepEqual(got, wants[i]) {
			t.Errorf("%s: brine read back %v\nwant %v", c.name, got, wants[i])
		}
		reads = append(reads, []any{"read", c.format, path})
		writes = append(writes, []any{"write", c.pyFormat, filepath.Join(dir, fmt.Sprintf("python-%d", i)), pyData})
	}
	pyGot := runPython(t, append(writes, reads...))
	for i, c := range cases {
		if !reflect.DeepEqual(pyGot[i], wants[i]) {
			t.Errorf("%s: python3 read %v from brine's file\nwant %v", c.name, pyGot[i], wants[i])
		}
		pb, err := os.ReadFile(writes[i][2].(string))
		if err != nil {
			t.Fatal(err)
		}
		got, err := serializers[c.format].read(pb, nil)
		if err != nil {
			t.Fatalf("%s: brine reads what python3 wrote: %v\n%s", c.name, err, pb)
		}
		if g, want := jsonNormal(t, got), writes[i][3]; !reflect.DeepEqual(g, want) {
			t.Errorf("%s: brine read %v from python3's file\nwant %v", c.name, g, want)
		}
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
