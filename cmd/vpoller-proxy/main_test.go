package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// buildBinary is the command as the Makefile builds it, version stamped
// (one link for all the tests that run it).
func buildBinary(t *testing.T) string {
	t.Helper()
	return buildStamped(t)
}

// The built binary starts from a vpoller.conf, answers status, and stops on
// `stop`, exiting 0: over its ipc management socket (the default kind), and
// over tcp with a shared secret. Over tcp without one, stop is refused.
func TestBinaryStartStatusStop(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "mgmt.secret")
	if err := os.WriteFile(secret, []byte("s3cret-for-the-test-long-enough-for-plain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mgmt, extra string
		refused           bool
	}{
		{"ipc", "ipc://" + filepath.Join(dir, "run", "proxy.sock"), "", false},
		{"tcp with secret", fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t)), "mgmt_secret_file = " + secret + "\n", false},
		{"tcp without authentication", fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t)), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mgmtEP := tc.mgmt
			conf := filepath.Join(t.TempDir(), "vpoller.conf")
			text := fmt.Sprintf("[proxy]\nfrontend = tcp://127.0.0.1:%d\nbackend = tcp://127.0.0.1:%d\nmgmt = %s\n%s",
				testutil.FreePort(t), testutil.FreePort(t), mgmtEP, tc.extra)
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			proc := exec.Command(bin, "-f", conf, "-d", "start")
			var logs bytes.Buffer
			proc.Stderr = &logs
			if err := proc.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			var waitErr error
			go func() { waitErr = proc.Wait(); close(exited) }()
			t.Cleanup(func() {
				select {
				case <-exited:
				default:
					_ = proc.Process.Kill()
					<-exited
				}
			})

			// Wait until the management socket answers.
			deadline := time.Now().Add(10 * time.Second)
			for {
				if out, err := exec.Command(bin, "-f", conf, "status").Output(); err == nil && len(out) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("proxy did not come up; logs:\n%s", logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}

			out, err := exec.Command(bin, "-f", conf, "status").Output()
			if err != nil {
				t.Fatalf("status: %v", err)
			}
			resp, err := vpoller.DecodeResponse(bytes.TrimSpace(out))
			if err != nil {
				t.Fatalf("status printed %q: %v", out, err)
			}
			obj, _ := resp.Result.(vpoller.Object)
			if st, _ := obj.Get("status"); resp.Msg != "vPoller Proxy status" || st != "running" {
				t.Errorf("status printed %s", out)
			}
			if ep, _ := obj.Get("mgmt"); ep != mgmtEP {
				t.Errorf("status mgmt = %v, want %s", ep, mgmtEP)
			}

			// stop without -e uses the configuration's mgmt endpoint.
			out, err = exec.Command(bin, "-f", conf, "stop").Output()
			if tc.refused {
				if err == nil || !strings.Contains(string(out), "Shutdown refused") {
					t.Fatalf("stop over unauthenticated tcp: %v %s", err, out)
				}
				select {
				case <-exited:
					t.Fatal("the proxy stopped")
				case <-time.After(300 * time.Millisecond):
				}
				return
			}
			if err != nil {
				t.Fatalf("stop: %v", err)
			}
			if want := `{"success": 0, "msg": "Shutdown time has arrived"}`; strings.TrimSpace(string(out)) != want {
				t.Errorf("stop printed %q", out)
			}
			select {
			case <-exited:
				if waitErr != nil {
					t.Errorf("proxy exited with %v; logs:\n%s", waitErr, logs.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("proxy still running after stop; logs:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "vPoller proxy stopped") {
				t.Errorf("logs lack the stop line:\n%s", logs.String())
			}
		})
	}
}

func TestKeygen(t *testing.T) {
	base := filepath.Join(t.TempDir(), "proxy")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"keygen", base}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := curvekey.LoadKeyPair(base + ".key_secret"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "public key: ") {
		t.Fatalf("stdout %q", stdout.String())
	}
}

func TestRunCommandLine(t *testing.T) {
	dead := fmt.Sprintf("tcp://127.0.0.1:%d", testutil.FreePort(t))
	for _, tc := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{}, 2, "Usage:"},
		{[]string{"restart"}, 2, `unknown command "restart"`},
		{[]string{"-x", "start"}, 2, "flag provided but not defined"},
		{[]string{"-f", "/nonexistent/vpoller.conf", "start"}, 1, "no such file"},
		{[]string{"-e", dead, "status"}, 1, "connection refused"},
		{[]string{"-h"}, 0, "Usage:"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if code := run(ctx, tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.inStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.inStderr)
			}
		})
	}
}

// SIGTERM-like cancellation stops a running proxy cleanly.
func TestStartStopsOnCancel(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "vpoller.conf")
	text := "[proxy]\nfrontend = tcp://127.0.0.1:0\nbackend = tcp://127.0.0.1:0\nmgmt = ipc://" + filepath.Join(t.TempDir(), "m.sock") + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-f", conf, "start"}, &bytes.Buffer{}, &stderr) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d; stderr: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("start did not return after cancel")
	}
}
