// Package log provides Salt's log module: log.debug, log.info,
// log.warning, log.error and log.critical write a template's message to
// the log of the process rendering it.
package log

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/brinecm/brine/modules"
)

type logArgs struct {
	Message string `arg:"message,required"`
	Args    []any  `arg:"args"`
}

// levels maps each function to its slog level.
var levels = map[string]slog.Level{
	"debug":    slog.LevelDebug,
	"info":     slog.LevelInfo,
	"warning":  slog.LevelWarn,
	"error":    slog.LevelError,
	"critical": slog.LevelError + 4,
}

func init() {
	for name, level := range levels {
		modules.Register("log."+name, modules.Func[logArgs]{
			ReadOnly: true,
			Pure:     true,
			Doc:      "Log message at level " + name + "; further arguments fill its %s placeholders.",
			Params:   []string{"message", "args..."},
			Call: func(ctx context.Context, rt *modules.Runtime, a *logArgs) (any, error) {
				l := rt.Log
				if l == nil {
					l = slog.Default()
				}
				l.Log(ctx, level, Format(a.Message, a.Args), "source", "template")
				return nil, nil
			},
		})
	}
}

// Format fills the %s (and %d, %r) placeholders of msg with args in
// order, as Python's % operator does for a log call; placeholders past the
// arguments stay as written.
func Format(msg string, args []any) string {
	if len(args) == 0 {
		return msg
	}
	var b strings.Builder
	i := 0
	for {
		j := strings.IndexByte(msg, '%')
		if j < 0 || j+1 >= len(msg) {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:j])
		switch c := msg[j+1]; {
		case c == '%':
			b.WriteByte('%')
		case (c == 's' || c == 'd' || c == 'r') && i < len(args):
			b.WriteString(fmt.Sprint(args[i]))
			i++
		default:
			b.WriteString(msg[j : j+2])
		}
		msg = msg[j+2:]
	}
}
