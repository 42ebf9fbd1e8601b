package client

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// startPythonProxy runs testdata/pyproxy.py (pyzmq, i.e. libzmq) and returns
// its endpoint; what it complains about on stderr fails the test.
func startPythonProxy(t *testing.T) string {
	t.Helper()
	p := testutil.StartPython(t, "testdata/pyproxy.py")
	t.Cleanup(func() {
		if s := p.Stop(); s != "" {
			t.Errorf("pyproxy complained: %s", s)
		}
	})
	port, err := strconv.Atoi(p.Line)
	if err != nil {
		t.Fatalf("pyproxy printed %q", p.Line)
	}
	return "tcp://127.0.0.1:" + strconv.Itoa(port)
}

func TestInteropWithLibzmqPeer(t *testing.T) {
	ep := startPythonProxy(t)
	c := newClient(t, ep, Options{Timeout: 5 * time.Second})
	ctx := context.Background()

	req := &vpoller.Request{Method: "vm.get", Hostname: "127.0.0.1", Name: "Ünïcødé VM ✓", Properties: []string{"runtime.powerState", "name"}}
	got, err := c.Do(ctx, req.Encode())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"keys": ["method", "hostname", "name", "username", "password", "key", "properties", "counter-name", "instance", "max-sample", "perf-interval", "helper"], "name": "Ünïcødé VM ✓", "properties": ["runtime.powerState", "name"]}]}`
	if string(got) != want {
		t.Errorf("reply from pyzmq peer:\n got %s\nwant %s", got, want)
	}

	req.Helper = "vpoller.helpers.czabbix"
	got, err = c.Do(ctx, req.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "poweredOn\x00" {
		t.Errorf("czabbix reply = %q, want %q", got, "poweredOn\x00")
	}

	resp, err := c.Call(ctx, &vpoller.Request{Method: "about", Hostname: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Failed() || resp.Msg != "Successfully retrieved object properties" {
		t.Errorf("Call via pyzmq peer = %+v", resp)
	}
}
