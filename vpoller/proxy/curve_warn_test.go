package proxy

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// warnSink passes each WARN message to a channel, so that a test can
// wait for one instead of sleeping.
type warnSink chan string

func (s warnSink) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (s warnSink) Handle(_ context.Context, r slog.Record) error {
	select {
	case s <- r.Message:
	default:
	}
	return nil
}
func (s warnSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s warnSink) WithGroup(string) slog.Handler      { return s }

// A CURVE frontend that accepts any client key (frontend_curve_allow =
// *) is warned about at start-up, as a frontend without CURVE is.
func TestWarnCurveAnyClientKey(t *testing.T) {
	kp, _ := curvekey.Generate()
	_, secret, err := curvekey.WriteCertFiles(filepath.Join(t.TempDir(), "proxy"), kp)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.FrontendSecurity.CurveSecretKey, cfg.FrontendSecurity.CurveAllow = secret, "*"
	sink := make(warnSink, 16)
	cfg.Logger = slog.New(sink)
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, p)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-sink:
			if strings.Contains(m, "accepts any client key (frontend_curve_allow = *)") {
				return
			}
		case <-timeout:
			t.Fatal("no warning about frontend_curve_allow = *")
		}
	}
}
