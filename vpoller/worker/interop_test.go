package worker

import (
	"fmt"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/lld/helpers"
)

// TestBehindLibzmqProxy puts our worker behind an ordinary vPoller proxy,
// libzmq's zmq.proxy(ROUTER, DEALER), and sends Python-CLI style
// requests (every key, nulls) from a Python REQ client.
func TestBehindLibzmqProxy(t *testing.T) {
	front, back := testutil.FreePort(t), testutil.FreePort(t)
	py := testutil.StartPython(t, "testdata/libzmq_proxy.py", fmt.Sprint(front), fmt.Sprint(back))
	if py.Line != "ready" {
		t.Fatalf("python: %q", py.Line)
	}
	runWorker(t, simService(t), Options{Proxy: fmt.Sprintf("tcp://127.0.0.1:%d", back), Helpers: helpers.Names(), Formatters: helpers.Formatters()})

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
			`[b'{"success": 1, "msg": "Unknown or missing agent name \\"vc01.example.org\\": this worker serves vcsim.local (names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names)"}']`},
		{"not JSON", []byte("hello"), `[b'{"success": 1, "msg": "Invalid message received"}']`},
	} {
		if _, err := fmt.Fprintf(py.Stdin, "%s\n", tc.req); err != nil {
			t.Fatal(err)
		}
		got := py.Next(t, 20*time.Second)
		if got != tc.want {
			t.Errorf("%s: reply\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if s := py.Stop(); s != "" {
		t.Errorf("python complained: %s", s)
	}
}
