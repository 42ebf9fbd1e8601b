package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds the CLI binary built by the end-to-end tests.
var binDir string

// TestMain removes the built binary and, like goleak.VerifyTestMain,
// fails the run if a goroutine outlived the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vpoller-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
