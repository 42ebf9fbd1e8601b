// Package clienttest gives other packages' tests a vPoller client that
// closes itself when the test ends. (The client's own tests cannot import
// it: it imports the client.)
package clienttest

import (
	"log/slog"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// New returns a client of endpoint, failing the test when it cannot be
// made, and closes it when the test ends. Its logs are discarded unless
// opts.Logger is set.
func New(tb testing.TB, endpoint string, opts client.Options) *client.Client {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := client.New(endpoint, opts)
	if err != nil {
		tb.Fatalf("client of %s: %v", endpoint, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
