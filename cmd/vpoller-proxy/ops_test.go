package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

const testVersion = "9.9.9~test2"

// buildStamped compiles the command as the Makefile does, with a version,
// into the directory of test binaries shared across packages and runs
// (linked again only when it changed).
var buildStamped = func() func(t *testing.T) string {
	build := sync.OnceValues(func() (string, error) {
		return testutil.GoBuildSharedStamped("-X main.version="+testVersion, ".")
	})
	return func(t *testing.T) string {
		t.Helper()
		dir, err := build()
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, "vpoller-proxy")
	}
}()

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

// The proxy binary: --version, the version in the start-up line and in
// status, status --pretty; SIGHUP does not end it (it reloads nothing and
// reopens the log file), SIGUSR1 reopens log_file after a rename, SIGTERM
// stops it cleanly.
func TestProxySignalsVersionLogFile(t *testing.T) {
	bin := buildStamped(t)
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).Output()
		if want := "vpoller-proxy " + testVersion + " (go"; err != nil || !strings.HasPrefix(string(out), want) {
			t.Errorf("%q: %v %q, want %q...", args, err, out, want)
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "vpoller.conf")
	logPath := filepath.Join(dir, "proxy.log")
	text := fmt.Sprintf("[proxy]\nfrontend = tcp://127.0.0.1:%d\nbackend = tcp://127.0.0.1:%d\nmgmt = ipc://%s\nlog_file = proxy.log\n",
		testutil.FreePort(t), testutil.FreePort(t), filepath.Join(dir, "run", "proxy.sock"))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	proc := exec.Command(bin, "-f", conf, "start")
	var stderr testutil.Buffer
	proc.Stderr = &stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	gone := make(chan struct{})
	go func() { exited <- proc.Wait(); close(gone) }()
	t.Cleanup(func() {
		proc.Process.Kill()
		<-gone
		if t.Failed() {
			t.Logf("stderr:\n%s\nlog file:\n%s", stderr.String(), read(logPath))
		}
	})
	status := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"-f", conf, "status"}, args...)...).Output()
		return string(out), err
	}
	waitFor(t, "status", func() bool { _, err := status(); return err == nil })
	if l := read(logPath); !strings.Contains(l, `msg="vPoller proxy starting" version=`+testVersion) {
		t.Errorf("log file lacks the start-up line with the version:\n%s", l)
	}
	out, err := status("--pretty")
	if err != nil || !strings.HasPrefix(out, "{\n  \"success\": 0,\n  \"msg\": \"vPoller Proxy status\",\n  \"result\": {\n") ||
		!strings.HasSuffix(out, "\n    \"version\": \""+testVersion+"\"\n  }\n}\n") {
		t.Errorf("status --pretty: %v\n%s", err, out)
	}

	if err := proc.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SIGHUP line", func() bool {
		return strings.Contains(read(logPath), "SIGHUP received: the proxy has nothing to reload")
	})
	if _, err := status(); err != nil {
		t.Fatalf("no status after SIGHUP: %v", err)
	}
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := proc.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reopened log file", func() bool { return strings.Contains(read(logPath), `msg="log file reopened"`) })
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if l := read(logPath); !strings.Contains(l, "vPoller proxy stopped") {
		t.Errorf("new log file:\n%s", l)
	}
	if stderr.String() != "" {
		t.Errorf("stderr with log_file set:\n%s", stderr.String())
	}
}
