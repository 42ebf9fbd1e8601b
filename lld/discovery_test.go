package lld

import (
	"errors"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func decode(t testing.TB, s string) *vpoller.Response {
	t.Helper()
	r, err := vpoller.DecodeResponse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name, method, reply string
		style               vpoller.Style
		want                string
	}{
		{"vm.discover compact for the plugin", "vm.discover",
			`{"success": 0, "msg": "m", "result": [{"name": "vm01", "runtime.powerState": "poweredOn"}, {"name": "vm02 \u00fcn\u00efcode", "runtime.powerState": "poweredOff"}]}`,
			vpoller.Compact,
			`{"data":[{"{#VSPHERE.VM.NAME}":"vm01","{#VSPHERE.VM.RUNTIME.POWERSTATE}":"poweredOn"},{"{#VSPHERE.VM.NAME}":"vm02 ünïcode","{#VSPHERE.VM.RUNTIME.POWERSTATE}":"poweredOff"}]}`},
		{"values keep their JSON type", "datacenter.alarm.get",
			`{"success": 0, "msg": "m", "result": [{"key": "alarm-4.host-30", "acknowledged": false, "acknowledgedByUser": null, "n": 12.50}]}`,
			vpoller.Python,
			`{"data": [{"{#VSPHERE.DATACENTER.ALARM.KEY}": "alarm-4.host-30", "{#VSPHERE.DATACENTER.ALARM.ACKNOWLEDGED}": false, "{#VSPHERE.DATACENTER.ALARM.ACKNOWLEDGEDBYUSER}": null, "{#VSPHERE.DATACENTER.ALARM.N}": 12.50}]}`},
		{"vm.disk.discover over result[0].disk with prefix VM", "vm.disk.discover",
			`{"success": 0, "msg": "m", "result": [{"name": "vm01", "disk": [{"diskPath": "/", "freeSpace": 5368709120}]}]}`,
			vpoller.Compact, `{"data":[{"{#VSPHERE.VM.DISKPATH}":"/","{#VSPHERE.VM.FREESPACE}":5368709120}]}`},
		{"vm.guest.net.get over result.net with prefix VM", "vm.guest.net.get",
			`{"success": 0, "msg": "m", "result": {"name": "vm01", "net": [{"network": "VM Network", "ipAddress": ["10.0.0.5"]}]}}`,
			vpoller.Compact, `{"data":[{"{#VSPHERE.VM.NETWORK}":"VM Network","{#VSPHERE.VM.IPADDRESS}":["10.0.0.5"]}]}`},
		{"vm.guest.net.get without guest networks", "vm.guest.net.get",
			`{"success": 0, "msg": "m", "result": {"name": "vm01", "net": null}}`,
			vpoller.Compact, `{"data":[]}`},
		{"plugin-only method net.discover", "net.discover",
			`{"success": 0, "msg": "m", "result": [{"name": "VM Network"}]}`,
			vpoller.Compact, `{"data":[{"{#VSPHERE.NET.NAME}":"VM Network"}]}`},
		{"plugin-only method resource.pool.discover", "resource.pool.discover",
			`{"success": 0, "msg": "m", "result": [{"name": "Resources"}]}`,
			vpoller.Compact, `{"data":[{"{#VSPHERE.RESOURCE.POOL.NAME}":"Resources"}]}`},
		{"empty result", "host.discover", `{"success": 0, "msg": "m", "result": []}`, vpoller.Compact, `{"data":[]}`},
		{"absent result", "host.discover", `{"success": 0, "msg": "m"}`, vpoller.Python, `{"data": []}`},
		{"empty disk discovery", "vm.disk.discover", `{"success": 0, "msg": "m", "result": []}`, vpoller.Compact, `{"data":[]}`},
		{"keys colliding after upper-casing: first position, last value", "vm.discover",
			`{"success": 0, "msg": "m", "result": [{"a": 1, "b": 2, "A": 3}]}`,
			vpoller.Compact, `{"data":[{"{#VSPHERE.VM.A}":3,"{#VSPHERE.VM.B}":2}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Discovery(&vpoller.Request{Method: tt.method}, decode(t, tt.reply), tt.style)
			if err != nil || string(got) != tt.want {
				t.Errorf("got %s, %v\nwant %s", got, err, tt.want)
			}
		})
	}
}

// TestDiscoveryWorkerForm: the worker hands over []vpoller.Object with Go
// numbers rather than decoded JSON.
func TestDiscoveryWorkerForm(t *testing.T) {
	resp := vpoller.OK("m", []vpoller.Object{
		{{Key: "name", Value: "LocalDS_0"}, {Key: "info.url", Value: "ds:///vmfs/volumes/x/"}, {Key: "summary.capacity", Value: int64(1 << 40)}},
	})
	got, err := Discovery(&vpoller.Request{Method: "datastore.discover"}, resp, vpoller.Python)
	want := `{"data": [{"{#VSPHERE.DATASTORE.NAME}": "LocalDS_0", "{#VSPHERE.DATASTORE.INFO.URL}": "ds:///vmfs/volumes/x/", "{#VSPHERE.DATASTORE.SUMMARY.CAPACITY}": 1099511627776}]}`
	if err != nil || string(got) != want {
		t.Errorf("got %s, %v", got, err)
	}
}

func TestDiscoveryErrors(t *testing.T) {
	_, err := Discovery(&vpoller.Request{Method: "vm.discover"}, vpoller.Fail("Unknown or missing agent name"), vpoller.Compact)
	var re *ReplyError
	if !errors.As(err, &re) || re.Msg != "Unknown or missing agent name" || err.Error() != re.Msg {
		t.Errorf("failed reply: %v", err)
	}
	for _, m := range []string{"vm.get", "host.net.get", "perf.metric.info", "no.such", ""} {
		_, err := Discovery(&vpoller.Request{Method: m}, vpoller.OK("m", []vpoller.Object{}), vpoller.Compact)
		var ue *UnsupportedError
		if !errors.As(err, &ue) || err.Error() != "[zbx-helper]: Do not know how to process "+m+" method" {
			t.Errorf("%q: %v", m, err)
		}
	}
	shape := []struct{ method, reply, msg string }{
		{"vm.discover", `{"success": 0, "msg": "m", "result": {"name": "x"}}`, "vm.discover: result is not a list"},
		{"vm.discover", `{"success": 0, "msg": "m", "result": [1]}`, "vm.discover: result element 0 is not an object"},
		{"vm.disk.discover", `{"success": 0, "msg": "m", "result": [{"disk": "x"}]}`, `vm.disk.discover: result "disk" is not a list`},
		{"vm.disk.discover", `{"success": 0, "msg": "m", "result": ["x"]}`, `vm.disk.discover: result element 0 is not an object`},
		{"vm.guest.net.get", `{"success": 0, "msg": "m", "result": 3}`, `vm.guest.net.get: result is not a list`},
	}
	for _, s := range shape {
		_, err := Discovery(&vpoller.Request{Method: s.method}, decode(t, s.reply), vpoller.Compact)
		if !errors.Is(err, ErrNoValue) || err.Error() != s.msg {
			t.Errorf("%s %s: %v, want %q", s.method, s.reply, err, s.msg)
		}
	}
	if _, err := Discovery(nil, nil, vpoller.Compact); !errors.Is(err, ErrNoValue) {
		t.Errorf("nil: %v", err)
	}
}

func TestMacro(t *testing.T) {
	if got := Macro("DATASTORE", "info.url"); got != "{#VSPHERE.DATASTORE.INFO.URL}" {
		t.Error(got)
	}
}

// Every catalogue method has its Zabbix facts here, and the exceptions
// name catalogue methods only.
func TestKindsMatchCatalogue(t *testing.T) {
	for _, name := range vpoller.Methods() {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s: in the catalogue, not in lld's kinds", name)
		}
	}
	for name := range exceptions {
		if _, ok := vpoller.Method(name); !ok {
			t.Errorf("%s: in lld's exceptions, not in the catalogue", name)
		}
	}
	for m, want := range map[string]Method{
		"vm.discover":      {Name: "vm.discover", Helper: KindLLD, Plugin: KindLLD, Prefix: "VM"},
		"net.discover":     {Name: "net.discover", Helper: KindNone, Plugin: KindLLD, Prefix: "NET"},
		"vm.get":           {Name: "vm.get", Helper: KindItem, Plugin: KindItem, Prefix: "VM"},
		"vm.disk.discover": {Name: "vm.disk.discover", Helper: KindLLD, Plugin: KindLLD, Prefix: "VM"},
		"net.host.get":     {Name: "net.host.get", Helper: KindNone, Plugin: KindNone, Prefix: "NET.HOST"},
	} {
		if got, _ := Lookup(m); got != want {
			t.Errorf("%s: %+v, want %+v", m, got, want)
		}
	}
}
