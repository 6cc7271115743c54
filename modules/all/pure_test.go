package all_test

import (
	"slices"
	"testing"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/all"
)

// TestPureSet pins the functions a master may answer for a minion while it
// renders the minion's recipe: growing this list lets a template run that
// function on the master, so it must answer from the data the runtime
// carries alone (see docs/security.md).
func TestPureSet(t *testing.T) {
	want := []string{
		"config.get",
		"cp.list_master", "cp.list_master_dirs",
		"defaults.deepcopy", "defaults.get", "defaults.merge",
		"file.basename", "file.dirname",
		"grains.filter_by", "grains.get", "grains.item", "grains.items", "grains.ls",
		"log.critical", "log.debug", "log.error", "log.info", "log.warning",
		"mine.get",
		"slsutil.merge", "slsutil.serialize", "slsutil.update",
		"state.show_highstate", "state.show_low_sls", "state.show_lowstate", "state.show_sls", "state.show_states", "state.show_top",
		"test.echo", "test.false", "test.true",
	}
	var got []string
	for _, name := range modules.Names() {
		if e, _ := modules.Lookup(name); e.Pure {
			got = append(got, name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pure functions %v, want %v", got, want)
	}
	for _, name := range []string{"cmd.run", "cmd.run_all", "cmd.retcode", "pkg.version", "test.ping", "docker.ps", "file.file_exists", "cmd.has_exec"} {
		e, ok := modules.Lookup(name)
		if !ok {
			t.Errorf("%s is not registered", name)
		} else if e.Pure {
			t.Errorf("%s reads or changes the host it runs on, yet is Pure", name)
		}
	}
}
