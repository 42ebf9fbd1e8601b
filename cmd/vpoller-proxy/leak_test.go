package main

import (
	"testing"

	"go.uber.org/goleak"
)

// An in-process start/stop and a status call against a dead endpoint must
// leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
