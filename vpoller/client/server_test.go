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

// hang is how much longer than its timeouts a call may take on a loaded
// machine (2 cores under a parallel test run) and still count as having
// ended on time. The upper bound only tells a call that ended from one
// that hung (the tests of early ends give the client a 10 s timeout);
// the lower bound, which a slow scheduler cannot break, is the assertion.
const hang = 5 * time.Second

// within checks that a call took at least lo (its timeouts cannot end
// early) and did not hang (at most lo+hang).
func within(t testing.TB, what string, got, lo time.Duration) {
	t.Helper()
	if got < lo || got > lo+hang {
		t.Errorf("%s took %v, want between %v and %v", what, got, lo, lo+hang)
	}
}

// waitReceived waits until srv has received n requests (a bounded wait
// for an event, not a sleep).
func waitReceived(t testing.TB, received func() int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for received() < n {
		if time.Now().After(deadline) {
			t.Fatalf("server received %d requests, want %d", received(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
