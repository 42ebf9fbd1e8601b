package proxy

import (
	"testing"

	"go.uber.org/goleak"
)

// The proxy, its connections and the test peers must leave no goroutine
// behind once stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
