package states

import (
	"context"
	"log/slog"
)

// withAttrs is l.With(attrs...) that formats the attributes only when a
// record is logged: most states log nothing, and a run makes one logger
// per state.
func withAttrs(l *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	return slog.New(&lazyAttrs{h: l.Handler(), attrs: attrs})
}

// lazyAttrs is a handler that adds attrs to h when it handles a record.
type lazyAttrs struct {
	h     slog.Handler
	attrs []slog.Attr
}

// Enabled reports whether h handles records at level.
func (l *lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

// Handle hands rec to h with the attributes added.
func (l *lazyAttrs) Handle(ctx context.Context, rec slog.Record) error {
	return l.h.WithAttrs(l.attrs).Handle(ctx, rec)
}

// WithAttrs returns h with l's attributes, then attrs.
func (l *lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return l.h.WithAttrs(l.attrs).WithAttrs(attrs)
}

// WithGroup returns h with l's attributes, then the group.
func (l *lazyAttrs) WithGroup(name string) slog.Handler {
	return l.h.WithAttrs(l.attrs).WithGroup(name)
}
