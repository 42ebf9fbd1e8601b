package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
	"github.com/vpoller/zabbix-vpoller/vpoller/worker"
)

// keys writes a key pair NAME.key / NAME.key_secret into dir.
func keys(t *testing.T, dir, name string) curvekey.KeyPair {
	t.Helper()
	kp, err := curvekey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := curvekey.WriteCertFiles(filepath.Join(dir, name), kp); err != nil {
		t.Fatal(err)
	}
	return kp
}

// pyCurveREQ is a libzmq (pyzmq) REQ client with CURVE: it sends the
// request and prints the reply, or "timeout".
const pyCurveREQ = `
import sys, zmq
ep, spub, cpub, csec, req = sys.argv[1:6]
s = zmq.Context().socket(zmq.REQ)
s.curve_serverkey, s.curve_publickey, s.curve_secretkey = spub.encode(), cpub.encode(), csec.encode()
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 5000)
s.connect(ep)
s.send(req.encode())
try:
    print(s.recv().decode())
except zmq.Again:
    print("timeout")
`

// The whole chain with CURVE on both proxy sockets, configured the way an
// administrator does it (key files, allow-list directories, the worker's
// [worker] keys): a python3-zmq CURVE client gets its answer from our
// worker through our proxy; a client whose key is not in the allow-list
// gets nothing, and the proxy logs the refusal with the key; a worker
// whose key is not allowed cannot join the backend.
func TestCurveChainWithLibzmqClient(t *testing.T) {
	python := testutil.Python(t, true)
	dir := t.TempDir()
	for _, d := range []string{"clients.d", "workers.d", "vsphere.d", "rogue"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	proxyKey := keys(t, dir, "proxy")
	pyClient := keys(t, filepath.Join(dir, "clients.d"), "zabbix")
	keys(t, filepath.Join(dir, "workers.d"), "worker1")
	stranger := keys(t, filepath.Join(dir, "rogue"), "stranger")
	keys(t, filepath.Join(dir, "rogue"), "rogueworker")
	for _, d := range []string{"clients.d", "workers.d"} {
		secrets, _ := filepath.Glob(filepath.Join(dir, d, "*.key_secret"))
		for _, s := range secrets { // the proxy keeps public keys only
			_ = os.Rename(s, filepath.Join(dir, filepath.Base(s)))
		}
	}

	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := config.Parse([]byte(fmt.Sprintf(`[proxy]
frontend = tcp://127.0.0.1:0
backend = tcp://127.0.0.1:0
mgmt = ipc://%[1]s/proxy.sock
frontend_curve_secret_key = %[1]s/proxy.key_secret
frontend_curve_allow = %[1]s/clients.d
backend_curve_secret_key = %[1]s/proxy.key_secret
backend_curve_allow = %[1]s/workers.d
`, dir)))
	if err != nil {
		t.Fatal(err)
	}
	pc := cfg.Proxy
	p, err := proxy.New(proxy.Options{Frontend: pc.Frontend, Backend: pc.Backend, Mgmt: pc.Mgmt, MaxRequestBytes: pc.MaxRequestBytes,
		FrontendSecurity: pc.FrontendSecurity, BackendSecurity: pc.BackendSecurity, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, p)

	startWorker := func(secret, mgmtName string) *worker.Daemon {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "vsphere.d", "vcsim.conf"), []byte("hostname = "+agentName+"\nsimulator = true\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		wcfg, err := config.Parse([]byte(fmt.Sprintf(`[worker]
proxy = %s
mgmt = ipc://%s/%s
vsphere_hosts_dir = %s/vsphere.d
proxy_curve_server_key = %s/proxy.key
proxy_curve_secret_key = %s
`, p.Addrs().Backend, dir, mgmtName, dir, dir, secret)))
		if err != nil {
			t.Fatal(err)
		}
		d, err := worker.Start(context.Background(), wcfg, worker.DaemonOptions{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Stop() })
		return d
	}
	good := startWorker(filepath.Join(dir, "worker1.key_secret"), "w1.sock")
	deadline := time.Now().Add(10 * time.Second)
	for !good.Worker().Stats().Connected {
		if time.Now().After(deadline) {
			t.Fatalf("the allowed worker did not connect:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	py := func(client curvekey.KeyPair, req string) string {
		out, err := exec.Command(python, "-c", pyCurveREQ, p.Addrs().Frontend,
			proxyKey.Public.String(), client.Public.String(), client.Secret.String(), req).CombinedOutput()
		if err != nil {
			t.Fatalf("pyzmq client: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	req := `{"method": "vm.get", "hostname": "vcsim.local", "name": "DC0_H0_VM0", "properties": ["runtime.powerState"]}`
	want := `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_H0_VM0", "runtime.powerState": "poweredOn"}]}`
	if got := py(pyClient, req); got != want {
		t.Fatalf("CURVE client through the proxy:\n got %s\nwant %s\nlogs:\n%s", got, want, logs.String())
	}
	if got := py(stranger, req); got != "timeout" {
		t.Fatalf("a key not in the allow-list got %q", got)
	}
	if !strings.Contains(logs.String(), "CURVE client key "+stranger.Public.String()+" is not in the allow-list") {
		t.Fatalf("the refusal is not logged with the key:\n%s", logs.String())
	}

	// A worker with a key the backend does not allow never joins.
	rogue := startWorker(filepath.Join(dir, "rogue", "rogueworker.key_secret"), "w2.sock")
	time.Sleep(500 * time.Millisecond)
	if rogue.Worker().Stats().Connected || p.Stats().Workers != 1 {
		t.Fatalf("rogue worker joined: connected %v, proxy workers %d", rogue.Worker().Stats().Connected, p.Stats().Workers)
	}
	raw, err := mgmt.Call(context.Background(), p.Addrs().Mgmt, "status", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := vpoller.DecodeResponse(raw)
	obj, _ := st.Result.(vpoller.Object)
	front, _ := obj.Get("frontend_connections")
	back, _ := obj.Get("backend_connections")
	fa, _ := front.(vpoller.Object).Get("auth_failed")
	ba, _ := back.(vpoller.Object).Get("auth_failed")
	if fmt.Sprint(fa) == "0" || fmt.Sprint(ba) == "0" {
		t.Fatalf("status does not count the refusals: %s", raw)
	}
	sec, _ := obj.Get("security")
	if f, _ := sec.(vpoller.Object).Get("frontend"); !strings.HasPrefix(fmt.Sprint(f), "CURVE, server key "+proxyKey.Public.String()+", 1 allowed") {
		t.Fatalf("status security: %s", raw)
	}
}
