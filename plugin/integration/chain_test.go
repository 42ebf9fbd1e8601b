package integration

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// The real vPoller binaries, built by TestMain.
var proxyBin, workerBin string

// chain is a real vPoller (proxy + worker serving a simulated vCenter named
// vcsim.local) on loopback ports chosen at runtime.
type chain struct {
	endpoint string
	// mgmtConf are the agent lines that reach the proxy's management
	// socket (Mgmt.Proxy), for vpoller.status.
	mgmtConf []string
	proxy    *process
	worker   *process
}

type process struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
}

func startProcess(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startDaemons starts the vpoller-proxy and vpoller-worker commands (the
// ones just built, or the installed package's) as separate processes with a
// private configuration, the way the agent meets them in production, and
// waits until a discovery goes through. (integration.startChain, by
// contrast, runs proxy and worker in process to read their figures.)
// vcenters are more per-vCenter files (name -> body) beside the
// embedded simulator's vcsim.local.
func startDaemons(t *testing.T, vcenters map[string]string) *chain {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "vsphere.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	front, back, pmgmt := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	// The proxy's management socket is tcp with a shared secret, as a
	// Zabbix agent reading vpoller.status from another user needs it.
	conf := fmt.Sprintf(`[proxy]
frontend = tcp://127.0.0.1:%d
backend  = tcp://127.0.0.1:%d
mgmt     = tcp://127.0.0.1:%d
mgmt_secret_file = %s
[worker]
proxy    = tcp://127.0.0.1:%d
mgmt     = ipc://%s
vsphere_hosts_dir = vsphere.d
`, front, back, pmgmt, filepath.Join(dir, "mgmt.secret"), back, filepath.Join(dir, "worker.sock"))
	files := map[string]string{
		"vpoller.conf":               conf,
		"mgmt.secret":                "agent-reads-proxy-status-with-this-secret\n",
		"vsphere.d/vcsim.local.conf": "hostname = vcsim.local\nsimulator = true\nsimulator_model = vpx\n",
	}
	for name, body := range vcenters {
		files["vsphere.d/"+name] = body
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &chain{endpoint: fmt.Sprintf("tcp://127.0.0.1:%d", front),
		mgmtConf: []string{fmt.Sprintf("Plugins.VPoller.Mgmt.Proxy.Endpoint=tcp://127.0.0.1:%d", pmgmt),
			"Plugins.VPoller.Mgmt.Proxy.SecretFile=" + filepath.Join(dir, "mgmt.secret")}}
	c.proxy = startProcess(t, "vpoller-proxy", proxyBin, "-f", filepath.Join(dir, "vpoller.conf"), "start")
	c.worker = startProcess(t, "vpoller-worker", workerBin, "-f", filepath.Join(dir, "vpoller.conf"), "start")

	cl := clienttest.New(t, c.endpoint, client.Options{Timeout: 2 * time.Second, Retries: 1})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := cl.Call(context.Background(), &vpoller.Request{Method: "vm.discover", Hostname: vc})
		if err == nil && !resp.Failed() {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("vPoller chain not ready: %v %+v\nproxy:\n%s\nworker:\n%s", err, resp, tail(c.proxy.out.String(), 2000), tail(c.worker.out.String(), 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopProxy stops the proxy while agent and worker keep running.
func (c *chain) stopProxy() { c.proxy.stop() }

var (
	vmsOnce sync.Once
	vms     []string
	vmsErr  error
)

// simulatorVMs lists the VMs of govmomi's default vCenter model, found
// with govmomi itself on a simulator of our own: the truth the plugin's
// discovery is compared with, independent of vPoller. The simulator is
// started as the other tests' in-process one is (session.StartSimulator:
// govmomi's model creation writes package state without a lock, so two
// at once race).
func simulatorVMs(t *testing.T) []string {
	t.Helper()
	vmsOnce.Do(func() {
		sim, err := session.StartSimulator("vpx", "user", "pass", slog.New(slog.DiscardHandler), nil)
		if err != nil {
			vmsErr = err
			return
		}
		defer sim.Close()
		ctx := context.Background()
		c, err := govmomi.NewClient(ctx, sim.URL(), true)
		if err != nil {
			vmsErr = err
			return
		}
		defer func() { _ = c.Logout(ctx); c.CloseIdleConnections() }()
		list, err := find.NewFinder(c.Client).VirtualMachineList(ctx, "*")
		if err != nil {
			vmsErr = err
			return
		}
		for _, vm := range list {
			vms = append(vms, vm.Name())
		}
		slices.Sort(vms)
	})
	if vmsErr != nil || len(vms) == 0 {
		t.Fatalf("listing the simulator's VMs: %v", vmsErr)
	}
	return vms
}
