package all

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryStateModuleIsLinked: every package under states/ that registers
// state functions is imported here, so no state module is built but missing
// from brine.
func TestEveryStateModuleIsLinked(t *testing.T) {
	self, err := os.ReadFile("all.go")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	registering := 0
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "all" {
			continue
		}
		files, err := filepath.Glob(filepath.Join("..", d.Name(), "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), "states.Register(") {
				continue
			}
			registering++
			if !strings.Contains(string(self), `"github.com/brinecm/brine/states/`+d.Name()+`"`) {
				t.Errorf("states/%s registers state functions but states/all does not import it", d.Name())
			}
			break
		}
	}
	if registering < 20 {
		t.Errorf("found %d state packages that register functions; the scan is broken", registering)
	}
}
