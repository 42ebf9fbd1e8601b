package integration

import (
	"testing"

	"github.com/vpoller/zabbix-vpoller/plugin/internal/standin"
)

// chain is a vPoller behind the agent: an endpoint and a way to stop the
// proxy while the agent keeps running.
type chain struct {
	endpoint  string
	stopProxy func()
}

// buildChain builds the vPoller binaries the tests run (none yet).
func buildChain(dir string) error { return nil }

// startChain starts a vPoller for one test.
func startChain(t *testing.T) *chain {
	t.Helper()
	s, err := standin.Start(standin.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &chain{endpoint: s.Endpoint, stopProxy: s.Close}
}

// simulatorVMs are the VMs of the simulated vCenter.
func simulatorVMs() []string { return standin.SimVMs }
