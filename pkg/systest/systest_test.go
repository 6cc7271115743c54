package systest

import (
	"testing"
)

func TestRequireCommandsFindsShell(t *testing.T) {
	RequireCommands(t, "sh") // every test host has a shell; this must neither skip nor fail
	if t.Skipped() {
		t.Fatal("sh reported missing")
	}
}

func TestRequired(t *testing.T) {
	t.Setenv("BRINE_REQUIRE_SYSTEM", "1")
	if !Required() {
		t.Error("BRINE_REQUIRE_SYSTEM=1 not seen")
	}
	t.Setenv("BRINE_REQUIRE_SYSTEM", "")
	if Required() {
		t.Error("Required without BRINE_REQUIRE_SYSTEM")
	}
}
