package client

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: sockets closed by the client
// release their receivers, and Close waits for calls in progress.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
