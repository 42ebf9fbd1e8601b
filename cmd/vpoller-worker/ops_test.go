package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// testVersion is stamped into the test binary as the Makefile stamps
// releases (-X main.version=...).
const testVersion = "9.9.9~test1"

// waitFor polls cond (each call runs the binary or reads a file) until it
// holds, failing the test after 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}, {"-f", "/nonexistent.conf", "--version"}} {
		out, code := ctl(t, args...)
		if want := "vpoller-worker " + testVersion + " (go"; code != 0 || !strings.HasPrefix(out, want) {
			t.Errorf("%q: exit %d, %q; want %q...", args, code, out, want)
		}
	}
}

// A real SIGHUP to the running binary reloads vsphere.d: the added vCenter
// is served through the proxy, the worker does not end, and the log says
// what changed. The start-up line and status carry the version, the debug
// log each vCenter's host and port; status --pretty indents.
func TestSIGHUPReloads(t *testing.T) {
	addrs := startProxy(t)
	mgmtEP := "ipc://" + filepath.Join(t.TempDir(), "worker.sock")
	conf := shippedConfig(t, addrs.Backend, mgmtEP)
	cmd, logs, done := startWorker(t, conf, "-d")
	waitFor(t, "status", func() bool {
		out, code := ctl(t, "-e", mgmtEP, "-mgmt-timeout", "1s", "status")
		return code == 0 && strings.Contains(out, `"connected": true`)
	})
	out, code := ctl(t, "-e", mgmtEP, "status")
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), `"version": "`+testVersion+`"}}`) {
		t.Errorf("status does not end with the version: %s", out)
	}
	out, code = ctl(t, "status", "--pretty", "-e", mgmtEP) // options after the command too
	if code != 0 || !strings.HasPrefix(out, "{\n  \"success\": 0,\n  \"msg\": \"vPoller Worker status\",\n  \"result\": {\n    \"status\": \"running\",") ||
		!strings.Contains(out, "\n    \"version\": \""+testVersion+"\"\n  }\n}\n") {
		t.Errorf("status --pretty (exit %d):\n%s", code, out)
	}
	for _, want := range []string{
		`msg="vPoller worker starting" version=` + testVersion,
		`msg="vSphere agent" agent.name=vcsim.local agent.host=vcsim.local agent.port=443`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}

	hosts := filepath.Join(filepath.Dir(conf), "vsphere.d")
	if err := os.WriteFile(filepath.Join(hosts, "vc2.conf"), []byte("hostname = vc2.local ; added\nsimulator = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool {
		out, _ := ctl(t, "-e", mgmtEP, "-mgmt-timeout", "1s", "status")
		return strings.Contains(out, `"agents": ["vc2.local", "vcsim.local"]`)
	})
	cl := clienttest.New(t, addrs.Frontend, client.Options{Timeout: 10 * time.Second, Retries: 2})
	for _, vc := range []string{"vc2.local", "vcsim.local"} {
		r, err := cl.Call(context.Background(), &vpoller.Request{Method: "vm.get", Hostname: vc, Name: "DC0_H0_VM0",
			Properties: []string{"runtime.powerState"}})
		if err != nil || r.Failed() {
			t.Fatalf("%s after the reload: %v %v", vc, r, err)
		}
	}
	// Nothing changed: a second SIGHUP says so and keeps the connection.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second reload", func() bool {
		return strings.Contains(logs.String(), `added=[] removed=[] changed=[] vcenters=2 reannounced=false`)
	})
	for _, want := range []string{
		`msg="SIGHUP received: reloading the vCenters"`,
		`msg="vCenters reloaded" added=[vc2.local] removed=[] changed=[] vcenters=2 reannounced=true`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	// The same through the management socket: vpoller-worker reload.
	if err := os.Remove(filepath.Join(hosts, "vc2.conf")); err != nil {
		t.Fatal(err)
	}
	out, code = ctl(t, "-e", mgmtEP, "reload")
	if want := `{"success": 0, "msg": "Reloaded", "result": {"added": [], "removed": ["vc2.local"], "changed": [], "agents": ["vcsim.local"]}}` + "\n"; code != 0 || out != want {
		t.Errorf("reload (exit %d):\n got %s\nwant %s", code, out, want)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// log_file: the worker logs there, not on stderr; after logrotate's
// rename, SIGUSR1 makes it write to a new file at the path.
func TestLogFileReopenedOnSIGUSR1(t *testing.T) {
	mgmtEP := "ipc://" + filepath.Join(t.TempDir(), "worker.sock")
	conf := shippedConfig(t, fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t)), mgmtEP)
	raw, _ := os.ReadFile(conf)
	text := strings.Replace(string(raw), "[worker]\n", "[worker]\nlog_file = worker.log ; next to the configuration\n", 1)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(filepath.Dir(conf), "worker.log")
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	cmd, stderr, done := startWorker(t, conf)
	waitFor(t, "the start-up line in the log file", func() bool { return strings.Contains(read(logPath), "vPoller worker starting") })
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new log file", func() bool { return strings.Contains(read(logPath), `msg="log file reopened" file=`+logPath) })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	cur, old := read(logPath), read(logPath+".1")
	if !strings.Contains(cur, "vPoller worker stopped") || strings.Contains(cur, "vPoller worker starting") {
		t.Errorf("new log file:\n%s", cur)
	}
	if !strings.Contains(old, "vPoller worker starting") || strings.Contains(old, "log file reopened") {
		t.Errorf("rotated log file:\n%s", old)
	}
	if st, err := os.Stat(logPath); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("new log file mode: %v %v", st.Mode(), err)
	}
	if s := stderr.String(); s != "" {
		t.Errorf("stderr is not empty with log_file set:\n%s", s)
	}
}

// unprivileged runs cmd as an ordinary user: nobody when the tests run as
// root (who reads and writes past any mode), else the current user. It
// returns that user's name and primary group's name.
func unprivileged(t *testing.T, cmd *exec.Cmd) (name, group string) {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			t.Fatal(err)
		}
		return u.Username, g.Name
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody to run the worker as")
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	var uid, gid uint32
	fmt.Sscan(u.Uid, &uid)
	fmt.Sscan(u.Gid, &gid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	return u.Username, g.Name
}

// openDir is a temporary directory every user may enter (t.TempDir is
// 0700, and the unprivileged user must reach the files in it).
func openDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Started by hand as an ordinary user, the worker creates the missing
// directory of its management socket (mode 0750); where it cannot, it
// stops with the command that fixes it.
func TestRuntimeDir(t *testing.T) {
	t.Run("created", func(t *testing.T) {
		run := filepath.Join(t.TempDir(), "run", "vpoller")
		mgmtEP := "ipc://" + filepath.Join(run, "worker-mgmt.sock")
		_, _, done := startWorker(t, shippedConfig(t, fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t)), mgmtEP))
		waitFor(t, "status", func() bool { _, code := ctl(t, "-e", mgmtEP, "-mgmt-timeout", "1s", "status"); return code == 0 })
		if st, err := os.Stat(run); err != nil || st.Mode().Perm() != 0o750 {
			t.Errorf("runtime directory: %v %v", st, err)
		}
		if out, code := ctl(t, "-e", mgmtEP, "stop"); code != 0 {
			t.Fatalf("stop: %s", out)
		}
		<-done
	})
	t.Run("not allowed", func(t *testing.T) {
		dir := openDir(t)
		if os.Geteuid() != 0 {
			if err := os.Chmod(dir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
		}
		run := filepath.Join(dir, "run")
		conf := filepath.Join(openDir(t), "vpoller.conf")
		text := fmt.Sprintf("[worker]\nproxy = tcp://127.0.0.1:%d\nmgmt = ipc://%s/worker-mgmt.sock\n", testutil.FreePort(t), run)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary, "-f", conf, "start")
		cmd.Dir = filepath.Dir(conf)
		name, group := unprivileged(t, cmd)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		want := fmt.Sprintf("user %s may not create %s: as root run install -d -m 0750 -o %s -g %s %s", name, run, name, group, run)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out.String(), want) {
			t.Fatalf("exit %v:\n%s\nwant %q", err, out.String(), want)
		}
	})
}

// A per-vCenter file the worker's user may not read is logged at
// ERROR naming the file and the fix; the worker starts and serves the
// other vCenters.
func TestUnreadableVCenterFile(t *testing.T) {
	dir := openDir(t)
	hosts := filepath.Join(dir, "vsphere.d")
	if err := os.Mkdir(hosts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hosts, "vcsim.local.conf"), []byte("hostname = vcsim.local\nsimulator = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(hosts, "vc01.example.org.conf")
	if err := os.WriteFile(bad, []byte("hostname = vc01.example.org\nusername = u\npassword = p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		os.Chmod(bad, 0o000)
	}
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(run, 0o777)
	mgmtEP := "ipc://" + filepath.Join(run, "worker.sock")
	conf := filepath.Join(dir, "vpoller.conf")
	text := fmt.Sprintf("[worker]\nproxy = tcp://127.0.0.1:%d\nmgmt = %s\nvsphere_hosts_dir = vsphere.d\n", testutil.FreePort(t), mgmtEP)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "-f", conf, "start")
	cmd.Dir = dir
	name, _ := unprivileged(t, cmd)
	var logs testutil.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	waitFor(t, "the worker to serve", func() bool {
		out, code := ctl(t, "-e", mgmtEP, "-mgmt-timeout", "1s", "status")
		return code == 0 && strings.Contains(out, `"agents": ["vcsim.local"]`)
	})
	want := fmt.Sprintf("run chown %s: %s && chmod 0600 %s", name, bad, bad)
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, want) || !strings.Contains(l, "file="+bad) {
		t.Errorf("log lacks the ERROR naming %q:\n%s", want, l)
	}
	// status lists it, with the same fix.
	out, _ := ctl(t, "-e", mgmtEP, "status")
	if !strings.Contains(out, `"unavailable": {"vc01.example.org": "vCenter vc01.example.org is not served by this worker: vsphere host file `+bad+` cannot be read`) ||
		!strings.Contains(out, want) {
		t.Errorf("status lacks the unavailable vCenter:\n%s", out)
	}
}

// A worker started with its management socket on ipc, whose
// configuration then moved mgmt to tcp with a secret, is still stopped
// from the command line: -e names the old socket, and the configured
// secret does not get in the way.
func TestStopAfterMgmtMoved(t *testing.T) {
	dir := t.TempDir()
	oldEP := "ipc://" + filepath.Join(dir, "worker-mgmt.sock")
	conf := shippedConfig(t, fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t)), oldEP)
	_, _, done := startWorker(t, conf)
	waitFor(t, "status", func() bool { _, code := ctl(t, "-f", conf, "-mgmt-timeout", "1s", "status"); return code == 0 })

	secret := filepath.Join(dir, "mgmt.secret")
	if err := os.WriteFile(secret, []byte("a-management-secret-of-32-bytes-or-more\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(conf)
	newEP := fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t))
	text := strings.Replace(string(raw), "mgmt = "+oldEP, "mgmt = "+newEP+"\nmgmt_secret_file = "+secret, 1)
	if text == string(raw) {
		t.Fatal("mgmt not replaced")
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// The new configuration alone cannot reach it (nothing listens there).
	if out, code := ctl(t, "-f", conf, "-mgmt-timeout", "1s", "stop"); code != 1 || !strings.Contains(out, "connection refused") {
		t.Fatalf("stop via the new endpoint: exit %d %s", code, out)
	}
	out, code := ctl(t, "-f", conf, "-e", oldEP, "-mgmt-timeout", "2s", "stop")
	if code != 0 || !strings.Contains(out, "Shutdown time has arrived") ||
		!strings.Contains(out, "trying "+oldEP+", without the configured credentials") {
		t.Fatalf("stop -e %s: exit %d\n%s", oldEP, code, out)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the worker did not stop")
	}
}
