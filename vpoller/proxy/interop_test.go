package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// pyRun runs a one-shot pypeer role with stdin and returns its stdout.
func pyRun(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.Python(t, false), append([]string{"testdata/pypeer.py"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pypeer %v: %v; stderr: %s", args, err, stderr.String())
	}
	return out
}

// (a) A libzmq REQ client through our proxy to a Go worker.
func TestInteropPythonREQClient(t *testing.T) {
	p := startProxy(t)
	startWorker(t, p, "go")
	payload := []byte(`{"method": "vm.get", "hostname": "vc01", "name": "Ünïcødé ✓"}`)
	got := pyRun(t, payload, "req", p.Addrs().Frontend)
	if want := append([]byte("go:"), payload...); !bytes.Equal(got, want) {
		t.Errorf("python REQ got\n %q\nwant %q", got, want)
	}
}

// (c) libzmq DEALER clients get the envelope they sent: [""][reply] after
// [""][payload], and a bare [reply] after a bare [payload].
func TestInteropPythonDEALERClient(t *testing.T) {
	p := startProxy(t)
	startWorker(t, p, "go")
	for _, tc := range []struct {
		mode string
		want []string
	}{
		{"delim", []string{"", `go:{"method": "about"}`}},
		{"bare", []string{`go:{"method": "about"}`}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			out := pyRun(t, []byte(`{"method": "about"}`), "dealer", p.Addrs().Frontend, tc.mode)
			var got []string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("frames %q, want %q", got, tc.want)
			}
		})
	}
}

// (b) A Python DEALER worker with the original [id][""][json] framing
// behind our proxy, queried by our client: dispatch needs nothing else from
// a worker (no READY message).
func TestInteropPythonWorker(t *testing.T) {
	p := startProxy(t)
	cmd := exec.Command(testutil.Python(t, false), "testdata/pypeer.py", "worker", p.Addrs().Backend)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the worker exits when stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("python worker: %v; stderr: %s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Error("python worker did not exit")
		}
	})
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("python worker said %q, %v; stderr: %s", line, err, stderr.String())
	}
	waitFor(t, "the python worker to connect", func() bool { return p.Stats().Workers == 1 })

	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 8, Timeout: 10 * time.Second, Retries: 1})
	want := `{"success": 0, "msg": "python worker", "result": [{"method": "vm.discover", "frames": 3, "empty": true}]}`
	for range 20 {
		got, err := c.Do(context.Background(), []byte(`{"method": "vm.discover", "hostname": "vc01"}`))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("reply %s\nwant  %s", got, want)
		}
	}
	got, err := c.Do(context.Background(), []byte("not json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"success": 1, "msg": "Invalid message received"}`; string(got) != want {
		t.Errorf("non-JSON through the python worker: %s, want %s", got, want)
	}
	if s := p.Stats(); s.Served != 21 {
		t.Errorf("served %d, want 21", s.Served)
	}
}
