package master

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/testfs"
	"github.com/brinecm/brine/pkg/wire"
)

// TestFileServerSaltenv: a minion reads and lists the state tree of the
// environment its request names, on the real bus; an environment the
// master does not serve is an error naming those it does.
func TestFileServerSaltenv(t *testing.T) {
	base, dev := t.TempDir(), t.TempDir()
	for dir, files := range map[string]map[string]string{
		base: {"x": "base x\n", "only-base": "b\n"},
		dev:  {"x": "dev x\n", "conf/app.conf": "dev app\n"},
	} {
		testfs.Write(t, dir, files)
	}
	_, minions := startFileMaster(t, config.Master{FileRoots: config.Roots{base},
		FileEnvs: config.Envs{"dev": {dev}, "prod": {t.TempDir()}}}, "m1")
	m1 := minions["m1"]
	request := func(op, path, env string) wire.FileResponse {
		b, err := json.Marshal(wire.FileRequest{Op: op, Path: path, Saltenv: env})
		if err != nil {
			t.Fatal(err)
		}
		return fileRequest(t, m1, b)
	}
	for _, tc := range []struct {
		op, path, env string
		data          string // OpRead
		entries       string // OpList
		notFound      bool
		err           string
	}{
		{op: wire.OpRead, path: "x", data: "base x\n"},
		{op: wire.OpRead, path: "x", env: "base", data: "base x\n"},
		{op: wire.OpRead, path: "x", env: "dev", data: "dev x\n"},
		{op: wire.OpRead, path: "only-base", env: "dev", notFound: true},
		{op: wire.OpList, path: "", env: "dev", entries: "conf/:0755 x:0644"},
		{op: wire.OpList, path: "conf", env: "dev", entries: "app.conf:0644"},
		{op: wire.OpRead, path: "x", env: "qa",
			err: "saltenv 'qa' does not exist: the environments of file_roots are base, dev, prod"},
		{op: wire.OpList, path: "", env: "../..", err: "saltenv '../..' does not exist"},
	} {
		got := request(tc.op, tc.path, tc.env)
		what := tc.op + " " + tc.path + " in " + tc.env
		switch {
		case tc.err != "":
			if !strings.Contains(got.Error, tc.err) || got.Data != nil || got.Entries != nil {
				t.Errorf("%s: answer %+v, want an error with %q", what, got, tc.err)
			}
		case got.Error != "" || got.NotFound != tc.notFound || string(got.Data) != tc.data || entriesString(got.Entries) != tc.entries:
			t.Errorf("%s: answer %+v (%s), want data %q entries %q notFound %v", what, got, entriesString(got.Entries), tc.data, tc.entries, tc.notFound)
		}
	}
}
