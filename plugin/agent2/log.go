package agent2

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Severity of a Log message, as the agent numbers them.
type Severity uint32

const (
	SeverityInfo    Severity = 0
	SeverityCrit    Severity = 1
	SeverityErr     Severity = 2
	SeverityWarning Severity = 3
	SeverityDebug   Severity = 4
	SeverityTrace   Severity = 5
)

// LogReceiver is implemented by handlers that want a logger writing to the
// agent's log file (the plugin's stdout and stderr are discarded by 6.0).
type LogReceiver interface {
	UseLogger(*slog.Logger)
}

// logHandler is a slog.Handler sending records as Log messages.
type logHandler struct {
	s     *Session
	level slog.Leveler
	attrs string // preformatted " k=v" pairs from WithAttrs
	group string
}

// NewLogHandler returns a slog.Handler that writes to the agent's log through
// the session. Records below level are dropped in the plugin, saving frames.
func NewLogHandler(s *Session, level slog.Leveler) slog.Handler {
	return &logHandler{s: s, level: level}
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	return h.s.Log(severityOf(r.Level), b.String())
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range as {
		writeAttr(&b, h.group, a)
	}
	c := *h
	c.attrs += b.String()
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group = h.group + name + "."
	return &c
}

func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, x := range a.Value.Group() {
			writeAttr(b, g, x)
		}
		return
	}
	v := a.Value.String()
	if strings.ContainsAny(v, " \t\n\"=") || v == "" {
		v = fmt.Sprintf("%q", v)
	}
	b.WriteString(" ")
	b.WriteString(group)
	b.WriteString(a.Key)
	b.WriteString("=")
	b.WriteString(v)
}

func severityOf(l slog.Level) Severity {
	switch {
	case l >= slog.LevelError:
		return SeverityErr
	case l >= slog.LevelWarn:
		return SeverityWarning
	case l >= slog.LevelInfo:
		return SeverityInfo
	case l >= slog.LevelDebug:
		return SeverityDebug
	default:
		return SeverityTrace
	}
}
