package log

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		msg  string
		args []any
		want string
	}{
		{"plain", nil, "plain"},
		{"a %s b %d", []any{"x", 3}, "a x b 3"},
		{"100%% %s", []any{"done"}, "100% done"},
		{"%s and %s", []any{"one"}, "one and %s"},
		{"trailing %", []any{"x"}, "trailing %"},
	}
	for _, tc := range tests {
		if got := Format(tc.msg, tc.args); got != tc.want {
			t.Errorf("Format(%q, %v) = %q, want %q", tc.msg, tc.args, got, tc.want)
		}
	}
}

func TestLogLevels(t *testing.T) {
	var buf bytes.Buffer
	rt := &modules.Runtime{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, name := range []string{"debug", "info", "warning", "error", "critical"} {
		out, err := modules.Call(context.Background(), rt, "log."+name, []any{"hello %s", name}, nil)
		if err != nil || out != nil {
			t.Fatalf("log.%s returned %v, %v", name, out, err)
		}
		if !strings.Contains(buf.String(), "hello "+name) {
			t.Errorf("log.%s did not log its message: %q", name, buf.String())
		}
	}
	for _, level := range []string{"DEBUG", "INFO", "WARN", "ERROR", "ERROR+4"} {
		if !strings.Contains(buf.String(), "level="+level+" ") {
			t.Errorf("no line at level %s in %q", level, buf.String())
		}
	}
}
