package client

import (
	"testing"
	"time"
)

func newClient(t testing.TB, endpoint string, opts Options) *Client {
	t.Helper()
	c, err := New(endpoint, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", endpoint, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func within(t testing.TB, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s took %v, want between %v and %v", what, got, lo, hi)
	}
}
