package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// A proxy that is down is reported as refusing, where it is, even when
// the call's deadline (not the attempt's) ends the retrying: that is what
// the plugin's items meet, whose deadline is the attempt's.
func TestRefusedUntilTheCallsDeadline(t *testing.T) {
	dead := "tcp://" + testutil.FreeAddr(t)
	c, err := New(dead, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []Policy{
		{Attempts: 1, Timeout: 300 * time.Millisecond, Spread: true}, // the plugin's policy
		{Attempts: 1, Timeout: 300 * time.Millisecond},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := c.DoWith(ctx, []byte(`{}`), p)
		cancel()
		var ce *CallError
		if !errors.As(err, &ce) {
			t.Fatalf("%+v: %v, want a *CallError", p, err)
		}
		if want := "vPoller proxy " + dead + ": connection refused (kept trying for 300ms)"; ce.Summary() != want || !ce.Unreachable() || ce.Silent() {
			t.Errorf("%+v: summary %q (unreachable %v, silent %v)\nwant %q, unreachable", p, ce.Summary(), ce.Unreachable(), ce.Silent(), want)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%+v: %v does not wrap the deadline", p, err)
		}
	}
}

func TestCallErrorSummary(t *testing.T) {
	e := &CallError{Attempts: []Attempt{
		{Endpoint: "tcp://a:1", Err: &unreachableError{err: errors.New("x")}},
		{Endpoint: "tcp://b:2", Err: &silentError{timeout: time.Second}},
		{Endpoint: "tcp://b:2", Err: &silentError{timeout: time.Second}},
	}}
	if want := "vPoller proxy tcp://a:1: cannot connect: x; vPoller proxy tcp://b:2: no reply within 1s (2 times)"; e.Summary() != want {
		t.Errorf("summary %q\nwant %q", e.Summary(), want)
	}
	if e.Unreachable() || e.Silent() {
		t.Errorf("unreachable %v, silent %v: want neither", e.Unreachable(), e.Silent())
	}
	if (&CallError{}).Unreachable() {
		t.Error("no attempts: unreachable")
	}
}
