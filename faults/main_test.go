//go:build faults

package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// bins are the programs under test.
var bins struct {
	proxy, worker, client, plugin, vcsim string
}

// suiteDir holds every scenario's files; kept when a row failed or when
// FAULTS_KEEP=1, removed otherwise.
var suiteDir string

// TestMain finds or builds the binaries, runs the scenarios and prints
// the table, whatever happened. FAULTS_BIN names a directory holding the
// four binaries of `make build` (the Makefile passes bin/); without it
// they are built here. The simulator (faults/vcsim) is always built.
func TestMain(m *testing.M) {
	os.Exit(mainRun(m))
}

func mainRun(m *testing.M) int {
	start := time.Now()
	dir, err := os.MkdirTemp("", "vpoller-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	suiteDir = dir
	if err := findBinaries(filepath.Join(dir, "bin")); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	code := m.Run()
	failed := table.failed()
	table.print(os.Stdout, time.Since(start))
	if failed > 0 && code == 0 {
		code = 1
	}
	if code != 0 || os.Getenv("FAULTS_KEEP") == "1" {
		fmt.Printf("scenario files and process logs kept in %s\n", dir)
	} else {
		os.RemoveAll(dir)
	}
	return code
}

func findBinaries(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := map[string]*string{"vpoller-proxy": &bins.proxy, "vpoller-worker": &bins.worker,
		"vpoller-client": &bins.client, "zabbix-agent2-plugin-vpoller": &bins.plugin}
	if from := os.Getenv("FAULTS_BIN"); from != "" {
		for name, dst := range names {
			p, err := filepath.Abs(filepath.Join(from, name))
			if err != nil {
				return err
			}
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("FAULTS_BIN=%s: %w (run make build)", from, err)
			}
			*dst = p
		}
	} else {
		for name, dst := range names {
			*dst = filepath.Join(dir, name)
			if err := goBuild(*dst, "../cmd/"+name); err != nil {
				return err
			}
		}
	}
	bins.vcsim = filepath.Join(dir, "vcsim")
	return goBuild(bins.vcsim, "./vcsim")
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
