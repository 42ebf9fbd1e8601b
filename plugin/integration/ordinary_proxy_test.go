package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOrdinaryProxy puts a libzmq zmq.proxy(ROUTER, DEALER), as the
// original Python proxy, between the plugin and our worker: the plugin's
// REQ sockets (one request in flight each) work with ordinary proxies.
func TestOrdinaryProxy(t *testing.T) {
	bins := agentBins(t)
	// Debian's interpreter, where apt's python3-zmq lives (a pyenv python3
	// earlier in PATH would not have it); PYTHON3 overrides.
	python := os.Getenv("PYTHON3")
	if python == "" {
		python = "/usr/bin/python3"
	}
	if out, err := exec.Command(python, "-c", "import zmq").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import zmq (apt-get install python3-zmq): %v %s", python, err, out)
	}
	front, back := freePort(t), freePort(t)
	py := exec.Command(python, "testdata/zmq_proxy.py", fmt.Sprintf("tcp://127.0.0.1:%d", front), fmt.Sprintf("tcp://127.0.0.1:%d", back))
	stdout, err := py.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	py.Stderr = &stderr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = py.Process.Kill(); _ = py.Wait() })
	ready := make(chan string, 1)
	go func() { l, _ := bufio.NewReader(stdout).ReadString('\n'); ready <- l }()
	select {
	case l := <-ready:
		if strings.TrimSpace(l) != "ready" {
			t.Fatalf("python zmq proxy: %q %s", l, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("python zmq proxy did not start: %s", stderr.String())
	}

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "vsphere.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[worker]\nproxy = tcp://127.0.0.1:%d\nmgmt = tcp://127.0.0.1:%d\nvsphere_hosts_dir = vsphere.d\n", back, freePort(t))
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
