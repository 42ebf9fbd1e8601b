package worker

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller/helpers"
)

// pythonZMQ is Debian's python3 with python3-zmq (the pyenv python3
// that may come first on PATH has no zmq module).
const pythonZMQ = "/usr/bin/python3"

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestBehindLibzmqProxy puts our worker behind an ordinary vPoller proxy,
// libzmq's zmq.proxy(ROUTER, DEALER), and sends Python-CLI style
// requests (every key, nulls) from a Python REQ client.
func TestBehindLibzmqProxy(t *testing.T) {
	if err := exec.Command(pythonZMQ, "-c", "import zmq").Run(); err != nil {
		t.Fatalf("%s with python3-zmq is required (apt-get install python3-zmq): %v", pythonZMQ, err)
	}
	front, back := freePort(t), freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonZMQ, "testdata/libzmq_proxy.py", fmt.Sprint(front), fmt.Sprint(back))
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
	out := bufio.NewScanner(stdout)
	out.Buffer(nil, 1<<20)
	line := func() string {
		if !out.Scan() {
			t.Fatalf("python ended: %v\n%s", out.Err(), stderr.String())
		}
		return out.Text()
	}
	if l := line(); l != "ready" {
		t.Fatalf("python: %q", l)
	}
	runWorker(t, simService(t), Options{Proxy: fmt.Sprintf("tcp://127.0.0.1:%d", back), Helpers: helpers.Names()})

	for _, tc := range []struct {
		name string
		req  []byte
		want string // Python repr of the reply frames
	}{
		{"vm.get", request("vm.get", "vcsim.local", map[string]any{"name": "DC0_C0_RP0_VM1", "properties": []any{"runtime.powerState"}}),
			`[b'{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_C0_RP0_VM1", "runtime.powerState": "poweredOn"}]}']`},
		{"vm.host.get", request("vm.host.get", "vcsim.local", map[string]any{"name": "DC0_H0_VM0"}),
			`[b'{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_H0_VM0", "host": "DC0_H0"}]}']`},
		{"czabbix helper", request("host.get", "vcsim.local", map[string]any{"name": "DC0_H0", "properties": []any{"runtime.connectionState"}, "helper": "vpoller.helpers.czabbix"}),
			`[b'"connected"\x00']`},
		{"unknown agent", request("vm.discover", "vc01.example.org", nil),
			`[b'{"success": 1, "msg": "Unknown or missing agent name"}']`},
		{"not JSON", []byte("hello"), `[b'{"success": 1, "msg": "Invalid message received"}']`},
	} {
		if _, err := fmt.Fprintf(stdin, "%s\n", tc.req); err != nil {
			t.Fatal(err)
		}
		got := line()
		if got != tc.want {
			t.Errorf("%s: reply\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
}
