package testutil

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GoBuild compiles commands of this module (pkgs, paths as go build
// takes them, e.g. "../cmd/vpoller-proxy") into out: the file out for one
// package, the directory out (ending in a separator) for several, each
// binary named after its package's last element (one go build links them
// in parallel). It is for TestMain and sync.Once builders, which have no
// testing.TB.
func GoBuild(out string, pkgs ...string) error {
	args := append([]string{"build", "-o", out}, pkgs...)
	if b, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, b)
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
