package client

import (
	"strings"
	"testing"
)

// FuzzNewEndpoint: New never panics, and an accepted endpoint has a
// supported transport and a non-empty address.
func FuzzNewEndpoint(f *testing.F) {
	for _, s := range []string{"tcp://localhost:10123", "ipc:///tmp/x", "tcp://[::1]:1", "tcp://*:0", "tcp://h:99999", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		c, err := New(endpoint, Options{})
		if err != nil {
			return
		}
		defer c.Close()
		if !strings.HasPrefix(endpoint, "tcp://") && !strings.HasPrefix(endpoint, "ipc://") || len(endpoint) <= len("tcp://") {
			t.Fatalf("accepted %q", endpoint)
		}
	})
}
