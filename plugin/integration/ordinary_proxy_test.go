package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// TestOrdinaryProxy puts a libzmq zmq.proxy(ROUTER, DEALER), as the
// original Python proxy, between the plugin and our worker: the plugin's
// REQ sockets (one request in flight each) work with ordinary proxies.
func TestOrdinaryProxy(t *testing.T) {
	t.Parallel()
	bins := agentBins(t)
	front, back := testutil.FreePort(t), testutil.FreePort(t)
	py := testutil.StartPython(t, "testdata/zmq_proxy.py", fmt.Sprintf("tcp://127.0.0.1:%d", front), fmt.Sprintf("tcp://127.0.0.1:%d", back))
	if py.Line != "ready" {
		t.Fatalf("python zmq proxy: %q %s", py.Line, py.Stop())
	}

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "vsphere.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[worker]\nproxy = tcp://127.0.0.1:%d\nmgmt = tcp://127.0.0.1:%d\nvsphere_hosts_dir = vsphere.d\n", back, testutil.FreePort(t))
	_ = os.WriteFile(filepath.Join(dir, "vpoller.conf"), []byte(conf), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "vsphere.d/vcsim.local.conf"), []byte("hostname = vcsim.local\nsimulator = true\n"), 0o600)
	startProcess(t, "vpoller-worker", workerBin, "-f", filepath.Join(dir, "vpoller.conf"), "start")

	endpoint := fmt.Sprintf("tcp://127.0.0.1:%d", front)
	vms := simulatorVMs(t)
	for _, bin := range bins {
		t.Run(bin.name, func(t *testing.T) {
			a := startAgent(t, bin, endpoint)
			key := fmt.Sprintf("vpoller.poll[vm.get,%s,%s,runtime.powerState]", vc, vms[0])
			var v string
			var err error
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
				// the worker may still be connecting to the proxy
				if v, err = passive(a.addr, key, 10*time.Second); err == nil {
					break
				}
			}
			if err != nil || v != "poweredOn" {
				t.Fatalf("%s through zmq.proxy = %q, %v", key, v, err)
			}
		})
	}
}
