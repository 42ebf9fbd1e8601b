package lld

import (
	"encoding/json"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

var fuzzSeeds = []struct {
	method, prop, key, reply string
}{
	{"vm.discover", "", "", `{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "vm01", "runtime.powerState": "poweredOn"}]}`},
	{"vm.disk.discover", "", "", `{"success": 0, "msg": "m", "result": [{"name": "vm01", "disk": [{"diskPath": "/", "capacity": 10737418240}]}]}`},
	{"vm.guest.net.get", "", "", `{"success": 0, "msg": "m", "result": {"name": "vm01", "net": [{"network": "VM Network", "ipAddress": ["10.0.0.5"]}]}}`},
	{"vm.get", "p", "", `{"success": 0, "msg": "m", "result": [{"name": "vm01", "p": {"a": [1, 2.5, null]}}]}`},
	{"vm.disk.get", "freeSpace", "/", `{"success": 0, "msg": "m", "result": [{"name": "vm01", "disk": {"freeSpace": 1}}]}`},
	{"vm.process.get", "", "apache", `{"success": 0, "msg": "m", "result": [{"cmdLine": "/usr/sbin/apache2"}, {"cmdLine": null}]}`},
	{"host.perf.metric.get", "value", "", `{"success": 0, "msg": "m", "result": [{"value": 84}, {"value": 91}]}`},
	{"host.perf.metric.get", "value", "", `{"success": 0, "msg": "m", "result": []}`},
	{"vm.get", "p", "", `{"success": 1, "msg": "Cannot find object vm01"}`},
	{"net.discover", "", "", `{"success": 0, "msg": "m", "result": "x"}`},
}

// FuzzDiscovery: arbitrary replies and methods never panic; the outcome is
// either valid JSON output or an error.
func FuzzDiscovery(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.method, []byte(s.reply))
	}
	f.Fuzz(func(t *testing.T, method string, reply []byte) {
		resp, err := vpoller.DecodeResponse(reply)
		if err != nil {
			return
		}
		for _, style := range []vpoller.Style{vpoller.Python, vpoller.Compact} {
			out, err := Discovery(&vpoller.Request{Method: method}, resp, style)
			if (err == nil) == (out == nil) {
				t.Fatalf("out=%q err=%v: exactly one must be set", out, err)
			}
			if err == nil && !json.Valid(out) {
				t.Fatalf("invalid JSON: %q", out)
			}
		}
	})
}

// FuzzItem: arbitrary replies, methods, properties and keys never panic;
// a value Item returns always renders with Text.
func FuzzItem(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.method, s.prop, s.key, []byte(s.reply))
	}
	f.Fuzz(func(t *testing.T, method, prop, key string, reply []byte) {
		resp, err := vpoller.DecodeResponse(reply)
		if err != nil {
			return
		}
		v, err := Item(&vpoller.Request{Method: method, Properties: []string{prop}, Key: key}, resp)
		if err != nil {
			if v != nil {
				t.Fatalf("value %#v with error %v", v, err)
			}
			return
		}
		if _, err := Text(v); err != nil {
			t.Fatalf("Text(%#v): %v", v, err)
		}
	})
}
