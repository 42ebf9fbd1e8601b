package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
)

var binary string

func TestMain(m *testing.M) {
	// Stamped as the Makefile stamps it, in a directory reachable by the
	// unprivileged user some tests run it as (0755 under the system's
	// temporary directory), linked again only when it changed.
	dir, err := testutil.GoBuildSharedStamped("-X main.version="+testVersion, ".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "vpoller-worker")
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// startProxy runs our proxy in process on loopback ports.
func startProxy(t *testing.T) proxy.Addrs {
	t.Helper()
	p, err := proxy.New(proxy.Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "ipc://" + filepath.Join(t.TempDir(), "p.sock"),
		MaxRequestBytes: 16 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, p)
	return p.Addrs()
}

// shippedConfig copies conf/vpoller.conf and conf/vsphere.d into a temp
// directory, changing only the worker's proxy and mgmt endpoints.
func shippedConfig(t *testing.T, backend, mgmtEP string) string {
	t.Helper()
	raw, err := os.ReadFile("../../conf/vpoller.conf")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^proxy *=.*$`).ReplaceAllString(string(raw), "proxy = "+backend)
	text = regexp.MustCompile(`(?m)^mgmt *= *ipc:///run/vpoller/worker-mgmt.sock$`).ReplaceAllString(text, "mgmt = "+mgmtEP)
	if !strings.Contains(text, mgmtEP) || !strings.Contains(text, "vsphere_hosts_dir = vsphere.d") {
		t.Fatalf("shipped config changed shape:\n%s", text)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vpoller.conf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "vsphere.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../conf/vsphere.d/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "vsphere.d", filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "vpoller.conf")
}

// startWorker runs `vpoller-worker -f cfg start` from an unrelated
// directory (relative paths must follow the config file).
// The returned channel delivers the exit once; it is closed after that.
func startWorker(t *testing.T, cfg string, extra ...string) (*exec.Cmd, *testutil.Buffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(binary, append(append([]string{"-f", cfg}, extra...), "start")...)
	cmd.Dir = t.TempDir()
	logs := &testutil.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { done <- cmd.Wait(); close(exited); close(done) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	return cmd, logs, done
}

func ctl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String() + errb.String(), code
}

// TestShippedConfigThroughProxy: the shipped vpoller.conf (simulator
// agent vcsim.local) behind our proxy answers a vm.discover from a
// client; status and stop work through -e.
func TestShippedConfigThroughProxy(t *testing.T) {
	addrs := startProxy(t)
	mgmtEP := "ipc://" + filepath.Join(t.TempDir(), "worker.sock")
	_, logs, done := startWorker(t, shippedConfig(t, addrs.Backend, mgmtEP), "-c", "5", "-d")

	cl := clienttest.New(t, addrs.Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
	req := &vpoller.Request{Method: "vm.discover", Hostname: "vcsim.local", Helper: "vpoller.helpers.zabbix"}
	raw, err := cl.Do(context.Background(), req.Encode())
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range []string{"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"} {
		if !strings.Contains(string(raw), `{"{#VSPHERE.VM.NAME}": "`+vm+`"}`) {
			t.Fatalf("LLD reply lacks %s: %s", vm, raw)
		}
	}

	out, code := ctl(t, "-e", mgmtEP, "status")
	host, _ := os.Hostname()
	want := fmt.Sprintf(`{"success": 0, "msg": "vPoller Worker status", "result": {"status": "running", "hostname": %q, "proxy": %q, "mgmt": %q, "db": "", "concurrency": 5, "helpers": ["vpoller.helpers.zabbix", "vpoller.helpers.czabbix", "vpoller.helpers.cclient", "vpoller.helpers.csvhelper"], "tasks": ["vpoller.vsphere.tasks"], "agents": ["vcsim.local"], "requests": 1, "in_flight": 0, "queued": 0, "connected": true, "id": %q, "proxies": [{"endpoint": %q, "connected": true, "vpoller_proxy": true, "connects": 1}], "roles": {"vcsim.local": "owner"}, "vsphere": {`,
		host, addrs.Backend, mgmtEP, host+" "+mgmtEP, addrs.Backend)
	if code != 0 || !strings.HasPrefix(out, want) {
		t.Fatalf("status (exit %d)\n got %s\nwant prefix %s", code, out, want)
	}

	out, code = ctl(t, "-e", mgmtEP, "stop")
	if code != 0 || out != `{"success": 0, "msg": "Shutdown time has arrived"}`+"\n" {
		t.Fatalf("stop (exit %d): %s", code, out)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not exit after stop")
	}
	for _, s := range []string{"connected to proxy", "vPoller worker stopped", "level=DEBUG"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %q", s)
		}
	}
	if strings.Contains(logs.String(), "pass") || strings.Contains(strings.ToLower(logs.String()), "password") {
		t.Errorf("log shows a password:\n%s", logs.String())
	}
}

// TestSignalStops: SIGTERM stops the worker cleanly even while its proxy
// is unreachable (it must not hang in a re-dial).
func TestSignalStops(t *testing.T) {
	mgmtEP := "ipc://" + filepath.Join(t.TempDir(), "worker.sock")
	cfg := shippedConfig(t, fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t)), mgmtEP)
	cmd, logs, done := startWorker(t, cfg)
	// Wait until the management socket answers: the process is up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, code := ctl(t, "-e", mgmtEP, "-mgmt-timeout", "1s", "status")
		if code == 0 && strings.Contains(out, `"connected": false`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status: %s", out)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop on SIGTERM")
	}
	if !strings.Contains(logs.String(), "cannot connect to proxy") || !strings.Contains(logs.String(), "signal received") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "want exactly one command"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"-c", "-1", "start"}, 2, "-c must be positive"},
		{[]string{"-nosuchflag", "start"}, 2, "flag provided but not defined"},
		{[]string{"-h"}, 0, "vpoller-worker [-f CONFIG] [-c CONCURRENCY] [-d] start"},
		{[]string{"-f", "/nonexistent/vpoller.conf", "start"}, 1, "read config"},
		{[]string{"-e", "tcp://127.0.0.1:1", "-mgmt-timeout", "300ms", "status"}, 1, "connection refused"},
	} {
		out, code := ctl(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%q: exit %d, output %q; want exit %d and %q", tc.args, code, out, tc.code, tc.want)
		}
	}
}

func TestRefusesWorldReadableDB(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "vconnector.db")
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(db, 0o644)
	cfg := filepath.Join(dir, "vpoller.conf")
	text := fmt.Sprintf("[worker]\ndb = vconnector.db\nmgmt = tcp://127.0.0.1:%d\n", testutil.FreePort(t))
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := ctl(t, "-f", cfg, "start")
	if code != 1 || !strings.Contains(out, "readable by every user") || !strings.Contains(out, db) {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// status and stop with -e still authenticate with the configuration's
// management secret.
func TestStopWithEndpointUsesConfiguredSecret(t *testing.T) {
	addrs := startProxy(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "mgmt.secret")
	if err := os.WriteFile(secret, []byte("worker-secret-for-the-test-long-enough\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mgmtEP := fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t))
	conf := shippedConfig(t, addrs.Backend, mgmtEP)
	raw, _ := os.ReadFile(conf)
	text := strings.Replace(string(raw), "mgmt = "+mgmtEP, "mgmt = "+mgmtEP+"\nmgmt_secret_file = "+secret, 1)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, done := startWorker(t, conf)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if out, code := ctl(t, "-f", conf, "-e", mgmtEP, "-mgmt-timeout", "1s", "status"); code == 0 && strings.Contains(out, `"status": "running"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no status with the configured secret")
		}
	}
	if out, code := ctl(t, "-e", mgmtEP, "-mgmt-timeout", "1s", "stop"); code == 0 {
		t.Fatalf("stop without the secret: %s", out)
	}
	out, code := ctl(t, "-f", conf, "-e", mgmtEP, "stop")
	if code != 0 || !strings.Contains(out, "Shutdown time has arrived") {
		t.Fatalf("stop (exit %d): %s", code, out)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not exit after stop")
	}
}
