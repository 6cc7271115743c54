package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
)

// TestManagedSaltenv: file.managed and file.recurse read salt:// sources
// from the environment their saltenv (or __env__) or the URL names, and
// otherwise from the state's own.
func TestManagedSaltenv(t *testing.T) {
	base, dev := t.TempDir(), t.TempDir()
	write(t, filepath.Join(base, "motd"), "base motd\n", 0o644)
	write(t, filepath.Join(dev, "motd"), "dev motd\n", 0o644)
	write(t, filepath.Join(dev, "conf/a"), "dev a\n", 0o644)
	comp := sls.New(sls.Config{FileRoots: []string{base}, FileEnvs: map[string][]string{"dev": {dev}}})
	for _, tc := range []struct {
		name    string
		fun     string
		env     states.Env // the state's own environment
		args    map[string]any
		file    string // below the destination, for file.recurse
		want    string
		comment string // a failure's comment holds this
	}{
		{name: "base", fun: "file.managed", env: comp, args: map[string]any{"source": "salt://motd"}, want: "base motd\n"},
		{name: "saltenv", fun: "file.managed", env: comp, args: map[string]any{"source": "salt://motd", "saltenv": "dev"}, want: "dev motd\n"},
		{name: "__env__", fun: "file.managed", env: comp, args: map[string]any{"source": "salt://motd", "__env__": "dev"}, want: "dev motd\n"},
		{name: "state of dev", fun: "file.managed", env: comp.InSaltenv("dev"), args: map[string]any{"source": "salt://motd"}, want: "dev motd\n"},
		{name: "URL over saltenv", fun: "file.managed", env: comp, args: map[string]any{"source": "salt://motd?saltenv=base", "saltenv": "dev"},
			want: "base motd\n"},
		{name: "unknown saltenv", fun: "file.managed", env: comp, args: map[string]any{"source": "salt://motd", "saltenv": "qa"},
			comment: "saltenv 'qa' does not exist: the environments of file_roots are base, dev"},
		{name: "recurse in dev", fun: "file.recurse", env: comp.InSaltenv("dev"), args: map[string]any{"source": "salt://conf"}, file: "a", want: "dev a\n"},
		{name: "recurse URL", fun: "file.recurse", env: comp, args: map[string]any{"source": "salt://conf?saltenv=dev"}, file: "a", want: "dev a\n"},
		{name: "recurse missing in that env", fun: "file.recurse", env: comp, args: map[string]any{"source": "salt://conf"},
			comment: "The directory 'salt://conf' does not exist on the salt fileserver in saltenv 'base'"},
		{name: "recurse missing in dev", fun: "file.recurse", env: comp, args: map[string]any{"source": "salt://nope", "saltenv": "dev"},
			comment: "The directory 'salt://nope' does not exist on the salt fileserver in saltenv 'dev'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest")
			e, ok := states.Lookup(tc.fun)
			if !ok {
				t.Fatalf("%s is not registered", tc.fun)
			}
			args, err := e.Decode(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			o := e.Apply(context.Background(), &states.Call{ID: dest, Name: dest, Env: tc.env}, args)
			if tc.comment != "" {
				if o.Result == nil || *o.Result || !strings.Contains(o.Comment, tc.comment) {
					t.Fatalf("result %v %q, want a failure holding %q", states.ResultString(o.Result), o.Comment, tc.comment)
				}
				return
			}
			if o.Result == nil || !*o.Result {
				t.Fatalf("result %v: %s", states.ResultString(o.Result), o.Comment)
			}
			b, err := os.ReadFile(filepath.Join(dest, tc.file))
			if err != nil || string(b) != tc.want {
				t.Errorf("%s = %q (%v), want %q", filepath.Join(dest, tc.file), b, err, tc.want)
			}
		})
	}
}
