package testutil

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// GoBuild compiles a command of this module (pkg, a path as go build
// takes it, e.g. "../cmd/vpoller-proxy") into the file out. It is for
// TestMain and sync.Once builders, which have no testing.TB.
func GoBuild(out, pkg string) error {
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// Build compiles pkg into dir (a test's TempDir, usually) and returns the
// binary's path, named after pkg's last element.
func Build(tb testing.TB, dir, pkg string) string {
	tb.Helper()
	name := filepath.Base(pkg)
	if name == "." {
		abs, err := filepath.Abs(pkg)
		if err != nil {
			tb.Fatal(err)
		}
		name = filepath.Base(abs)
	}
	bin := filepath.Join(dir, name)
	if err := GoBuild(bin, pkg); err != nil {
		tb.Fatal(err)
	}
	return bin
}
