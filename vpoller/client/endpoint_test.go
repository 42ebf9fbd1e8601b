package client

import (
	"strings"
	"testing"
)

// FuzzNewEndpoint: New never panics, and every endpoint of an accepted
// list has a supported transport and a non-empty address, and none is
// listed twice.
func FuzzNewEndpoint(f *testing.F) {
	for _, s := range []string{"tcp://localhost:10123", "ipc:///tmp/x", "tcp://[::1]:1", "tcp://*:0", "tcp://h:99999", "x",
		"tcp://a:1,tcp://b:2", " tcp://a:1 , ipc:///x ", "tcp://a:1,tcp://a:1", "tcp://a:1,,tcp://b:2", ","} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		c, err := New(endpoint, Options{})
		if err != nil {
			return
		}
		defer c.Close()
		eps := c.Endpoints()
		if len(eps) != strings.Count(endpoint, ",")+1 {
			t.Fatalf("accepted %q as %q", endpoint, eps)
		}
		seen := map[string]bool{}
		for _, ep := range eps {
			if !strings.HasPrefix(ep, "tcp://") && !strings.HasPrefix(ep, "ipc://") || len(ep) <= len("tcp://") || seen[ep] || ep != strings.TrimSpace(ep) {
				t.Fatalf("accepted %q as %q", endpoint, eps)
			}
			seen[ep] = true
		}
	})
}
