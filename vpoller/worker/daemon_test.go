package worker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/lld/helpers"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
)

// TestDaemon starts a whole worker from a configuration file with
// relative paths, serves a request, and checks the management status
// (fields and order) and shutdown.
func TestDaemon(t *testing.T) {
	b := newBackend(t, "127.0.0.1:0")
	mgmtEP := "ipc://" + filepath.Join(t.TempDir(), "worker.sock")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc", "hosts.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "etc", "hosts.d"), "vcsim.local.conf", "hostname = vcsim.local\nsimulator = true\n", 0o644)
	cfgPath := writeFile(t, filepath.Join(dir, "etc"), "vpoller.conf", fmt.Sprintf(
		"[worker]\nproxy = %s\nmgmt = %s\nvsphere_hosts_dir = hosts.d\nconcurrency = 3\nhelpers = vpoller.helpers.zabbix, vpoller.helpers.nosuch\nmetrics_listen = 127.0.0.1:0\n",
		b.endpoint(), mgmtEP), 0o644)
	// Started from another directory: relative paths follow the file.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(context.Background(), cfg, DaemonOptions{Worker: Options{Formatters: helpers.Formatters()}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			d.Stop()
		}
	})
	c := b.next(t, 5*time.Second)
	rep := ask(t, c, "x", request("vm.get", "vcsim.local", map[string]any{
		"name": "DC0_H0_VM1", "properties": []any{"runtime.powerState"}, "helper": "vpoller.helpers.zabbix"}))
	if string(rep) != `"poweredOn"` {
		t.Fatalf("reply %q", rep)
	}

	raw, err := mgmt.Call(context.Background(), mgmtEP, "status", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := vpoller.DecodeResponse(raw)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := st.Result.(vpoller.Object)
	var keys []string
	for _, f := range obj {
		keys = append(keys, f.Key)
	}
	wantKeys := "status hostname proxy mgmt db concurrency helpers tasks agents requests in_flight queued connected id proxies roles vsphere lanes security unavailable version"
	if st.Msg != "vPoller Worker status" || strings.Join(keys, " ") != wantKeys {
		t.Fatalf("status %s", raw)
	}
	host, _ := os.Hostname()
	prefix := fmt.Sprintf(`{"success": 0, "msg": "vPoller Worker status", "result": {"status": "running", "hostname": %q, "proxy": %q, "mgmt": %q, "db": "", "concurrency": 3, "helpers": ["vpoller.helpers.zabbix", "vpoller.helpers.nosuch"], "tasks": ["vpoller.vsphere.tasks"], "agents": ["vcsim.local"], "requests": 1, "in_flight": 0, "queued": 0, "connected": true, "id": %q, "proxies": [{"endpoint": %q, "connected": true, "vpoller_proxy": false, "connects": 1}], "roles": {"vcsim.local": "auto"}, "vsphere": {"soap_calls": `,
		host, b.endpoint(), mgmtEP, host+" "+mgmtEP, b.endpoint())
	if !strings.HasPrefix(string(raw), prefix) {
		t.Fatalf("status\n got %s\nwant prefix %s", raw, prefix)
	}
	vs, _ := obj.Get("vsphere")
	if calls, _ := vs.(vpoller.Object).Get("soap_calls"); fmt.Sprint(calls) == "0" {
		t.Fatalf("no SOAP calls counted: %s", raw)
	}

	// The Prometheus scrape counts the request and its lane.
	resp, err := http.Get("http://" + d.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"vpoller_worker_requests_total 1\n",
		`vpoller_worker_agent_requests_total{agent="vcsim.local",result="ok"} 1` + "\n",
		`vpoller_worker_agent_circuit{agent="vcsim.local"} 0` + "\n",
		`vpoller_worker_request_duration_seconds_count{agent="vcsim.local"} 1` + "\n",
		"vpoller_worker_proxy_connected 1\n",
		"vpoller_worker_vsphere_logins_total 1\n",
	} {
		if !strings.Contains(string(scrape), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	lanes, _ := obj.Get("lanes")
	lane, _ := lanes.(vpoller.Object).Get("vcsim.local")
	lat, _ := lane.(vpoller.Object).Get("latency_ms")
	if of, _ := lat.(vpoller.Object).Get("of"); fmt.Sprint(of) != "1" {
		t.Errorf("lane latency %v", lat)
	}

	raw, err = mgmt.Call(context.Background(), mgmtEP, "shutdown", 5*time.Second, nil)
	if err != nil || string(raw) != `{"success": 0, "msg": "Shutdown time has arrived"}` {
		t.Fatalf("shutdown: %s %v", raw, err)
	}
	select {
	case <-d.ShutdownRequested():
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown not signalled")
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
}

func TestDaemonConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "vc.conf", "hostname = vc\nusername = u\npassword = p\n", 0o644)
	cfg := config.Default()
	cfg.Worker.VSphereHostsDir = dir
	cfg.Worker.Mgmt = fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t))
	if _, err := Start(context.Background(), cfg, DaemonOptions{}); err == nil || !strings.Contains(err.Error(), "readable by every user") {
		t.Fatalf("err = %v", err)
	}
	cfg = config.Default()
	cfg.Worker.Proxy = "bogus"
	if _, err := Start(context.Background(), cfg, DaemonOptions{}); err == nil {
		t.Fatal("bogus proxy accepted")
	}
}

func TestResolvePaths(t *testing.T) {
	cfg := &config.Config{Path: "/etc/vpoller/vpoller.conf", Worker: config.Worker{DB: "db/vconnector.db", VSphereHostsDir: "/abs/dir"}}
	ResolvePaths(cfg)
	if cfg.Worker.DB != "/etc/vpoller/db/vconnector.db" || cfg.Worker.VSphereHostsDir != "/abs/dir" {
		t.Fatalf("%+v", cfg.Worker)
	}
	cfg = &config.Config{Worker: config.Worker{DB: "rel.db"}} // built-in defaults: no file
	ResolvePaths(cfg)
	if cfg.Worker.DB != "rel.db" {
		t.Fatalf("%+v", cfg.Worker)
	}
}
