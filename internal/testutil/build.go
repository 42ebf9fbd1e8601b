package testutil

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// GoBuildShared compiles commands of this module (pkgs, paths as go build
// takes them) into a directory kept for the test binaries of this module
// checkout (under os.TempDir, one per user and checkout), and returns it;
// each binary is named after its package's last element. go build does
// not relink a binary that is up to date, so the commands that several
// test packages run (the plugin, proxy, worker and client: about a second
// to five of CPU per link) are linked once per change instead of once per
// package and run. A lock file serialises the packages that build at
// once; a binary another package runs is replaced by rename, never
// rewritten in place.
func GoBuildShared(pkgs ...string) (string, error) {
	return GoBuildSharedStamped("", pkgs...)
}

// GoBuildSharedStamped is GoBuildShared with -ldflags (a version stamped
// as the Makefile stamps it): binaries of other flags go to a directory of
// their own.
func GoBuildSharedStamped(ldflags string, pkgs ...string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(root + "\x00" + ldflags))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("vpoller-test-bin-%d-%x", os.Getuid(), sum[:6]))
	// 0755 whatever the umask: some tests run a binary as another user.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("test binaries directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("test binaries directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("test binaries lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("test binaries lock: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	// Absolute package paths: the build runs in this test's directory
	// either way, and names the same binaries whichever package asks.
	abs := make([]string, len(pkgs))
	for i, p := range pkgs {
		if abs[i], err = filepath.Abs(p); err != nil {
			return "", err
		}
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	if b, err := exec.Command("go", append(args, abs...)...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, b)
	}
	return dir, nil
}

// moduleRoot is the directory of the go.mod above the working directory
// (a test's package directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
