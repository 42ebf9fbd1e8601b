package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// An in-process start/stop and a status call against a dead endpoint must
// leave no goroutine behind. The binary the tests built goes afterwards.
func TestMain(m *testing.M) {
	code := m.Run()
	if stamped.dir != "" {
		_ = os.RemoveAll(stamped.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
