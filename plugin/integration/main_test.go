package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"go.uber.org/goleak"
)

// pluginBin is the plugin binary built from this repository by TestMain.
var pluginBin string

func TestMain(m *testing.M) {
	// VPOLLER_INSTALLED=1 tests the installed Debian packages
	// (scripts/package-test.sh) instead of binaries built here.
	if os.Getenv("VPOLLER_INSTALLED") == "1" {
		pluginBin = "/usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller"
		proxyBin, workerBin = "/usr/bin/vpoller-proxy", "/usr/bin/vpoller-worker"
		fmt.Fprintln(os.Stderr, "testing the installed binaries:", pluginBin, proxyBin, workerBin)
		os.Exit(goleakRun(m))
	}
	// One go build for the three binaries (it links them at once),
	// shared with the other test packages that run them.
	bin, err := testutil.GoBuildShared("../../cmd/zabbix-agent2-plugin-vpoller", "../../cmd/vpoller-proxy", "../../cmd/vpoller-worker")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBin = filepath.Join(bin, "zabbix-agent2-plugin-vpoller")
	proxyBin, workerBin = filepath.Join(bin, "vpoller-proxy"), filepath.Join(bin, "vpoller-worker")
	os.Exit(goleakRun(m))
}

func goleakRun(m *testing.M) int {
	// The tests mostly wait on their own agents, daemons and simulators
	// (processes of their own): 4 at once where GOMAXPROCS (2) would
	// leave the cores idle.
	testutil.Parallel(4)
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}
