package helpers

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// TestVcsimZabbix replays the original's zabbix-helper answers recorded
// against govmomi's simulator: the same request without the helper gave
// the plain reply, which our helper must turn into the recorded bytes.
func TestVcsimZabbix(t *testing.T) {
	cases := readVcsim(t)
	pairs := []struct{ plain, helper string }{
		{"vm.discover", "vm.discover -H vpoller.helpers.zabbix"},
		{"datastore.discover -p info.url", "datastore.discover -p info.url -H zabbix"},
		{"vm.get unknown VM", "vm.get unknown VM -H zabbix"},
		{"vm.get -n DC0_C0_RP0_VM0 -p runtime.powerState", "vm.get -n DC0_C0_RP0_VM0 -p runtime.powerState -H zabbix"},
		{"vm.get -n DC0_C0_RP0_VM0 -p runtime.powerState", "vm.get -n DC0_C0_RP0_VM0 -p runtime.powerState -H czabbix"},
		{"host.get -n DC0_C0_H0 -p summary.quickStats.overallCpuUsage", "host.get -n DC0_C0_H0 -p summary.quickStats.overallCpuUsage -H zabbix"},
	}
	for _, p := range pairs {
		plain, ok1 := cases[p.plain]
		hx, ok2 := cases[p.helper]
		if !ok1 || !ok2 {
			t.Fatalf("fixture missing: %q (%v) / %q (%v)", p.plain, ok1, p.helper, ok2)
		}
		req, err := vpoller.DecodeRequest(hx.req)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := vpoller.DecodeResponse(plain.rep)
		if err != nil {
			t.Fatalf("%s: %v", p.plain, err)
		}
		got, ok := Apply(req.Helper, req, resp)
		if !ok || !bytes.Equal(got, hx.rep) {
			t.Errorf("%s: ok=%v\n got %.200q\nwant %.200q", p.helper, ok, got, hx.rep)
		}
	}
	// The LLD reply is 8590 bytes for 200 VMs: check the length too, so a
	// truncated fixture line cannot pass unnoticed.
	if n := len(cases["vm.discover -H vpoller.helpers.zabbix"].rep); n != 8590 {
		t.Errorf("vm.discover zabbix fixture has %d bytes, want 8590", n)
	}
}

// TestCModuleRequest feeds the exact request shape of the C Zabbix module
// (every value a string, "(null)" for missing parameters, max-sample "1",
// helper czabbix) for an item and a discovery method.
func TestCModuleRequest(t *testing.T) {
	tests := []struct {
		name, req, plain, want string
	}{
		{
			name:  "item",
			req:   `{"method": "vm.get", "hostname": "vc01.example.org", "name": "vm01", "properties": ["runtime.powerState"], "key": "(null)", "username": "(null)", "password": "(null)", "counter-name": "(null)", "instance": "(null)", "perf-interval": "(null)", "max-sample": "1", "helper": "vpoller.helpers.czabbix"}`,
			plain: `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "vm01", "runtime.powerState": "poweredOn"}]}`,
			want:  "\"poweredOn\"\x00",
		},
		{
			name:  "lld",
			req:   `{"method": "host.discover", "hostname": "vc01.example.org", "name": "(null)", "properties": ["runtime.connectionState"], "key": "(null)", "username": "(null)", "password": "(null)", "counter-name": "(null)", "instance": "(null)", "perf-interval": "(null)", "max-sample": "1", "helper": "vpoller.helpers.czabbix"}`,
			plain: `{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "esx1", "runtime.connectionState": "connected"}]}`,
			want:  "{\"data\": [{\"{#VSPHERE.HOST.NAME}\": \"esx1\", \"{#VSPHERE.HOST.RUNTIME.CONNECTIONSTATE}\": \"connected\"}]}\x00",
		},
		{
			name:  "process count without key",
			req:   `{"method": "vm.process.get", "hostname": "vc01.example.org", "name": "vm01", "properties": ["(null)"], "key": "(null)", "username": "u", "password": "p", "counter-name": "(null)", "instance": "(null)", "perf-interval": "(null)", "max-sample": "1", "helper": "vpoller.helpers.czabbix"}`,
			plain: processes,
			want:  "3\x00",
		},
		{
			name:  "perf newest sample",
			req:   `{"method": "host.perf.metric.get", "hostname": "vc01.example.org", "name": "esx1", "properties": ["value"], "key": "(null)", "username": "(null)", "password": "(null)", "counter-name": "net.usage.kiloBytesPerSecond.average", "instance": "(null)", "perf-interval": "(null)", "max-sample": "1", "helper": "vpoller.helpers.czabbix"}`,
			plain: perfSamples,
			want:  "91\x00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := vpoller.DecodeRequest([]byte(tt.req))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := vpoller.DecodeResponse([]byte(tt.plain))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := Apply(req.Helper, req, resp)
			if !ok || string(got) != tt.want {
				t.Errorf("ok=%v got %q want %q", ok, got, tt.want)
			}
		})
	}
}

func TestZabbixEdgeCases(t *testing.T) {
	okList := func(objs ...vpoller.Object) *vpoller.Response { return vpoller.OK("ok", objs) }
	tests := []struct {
		name string
		req  vpoller.Request
		resp *vpoller.Response
		want string
	}{
		{"missing property is null as in the original (dict.get)",
			vpoller.Request{Method: "vm.get", Properties: []string{"nope"}},
			okList(vpoller.Object{{Key: "name", Value: "vm01"}}), "null"},
		{"last element wins",
			vpoller.Request{Method: "about", Properties: []string{"version"}},
			okList(vpoller.Object{{Key: "version", Value: "6.0"}}, vpoller.Object{{Key: "version", Value: "6.5"}}), `"6.5"`},
		{"non-ASCII stays raw UTF-8",
			vpoller.Request{Method: "vm.get", Properties: []string{"name"}},
			okList(vpoller.Object{{Key: "name", Value: "vm02 ünïcode"}}), `"vm02 ünïcode"`},
		{"failure wins over unknown method, as in the original",
			vpoller.Request{Method: "no.such"}, vpoller.Fail("Unknown or missing task/method name"), "Unknown or missing task/method name"},
		{"unknown method",
			vpoller.Request{Method: "no.such"}, okList(), "[zbx-helper]: Do not know how to process no.such method"},
		{"plugin-only discovery stays unsupported in the helper",
			vpoller.Request{Method: "net.discover"}, okList(vpoller.Object{{Key: "name", Value: "VM Network"}}),
			"[zbx-helper]: Do not know how to process net.discover method"},
		{"empty discovery",
			vpoller.Request{Method: "vm.discover"}, vpoller.OK("ok", []vpoller.Object{}), `{"data": []}`},
		{"empty disk discovery (the original crashed)",
			vpoller.Request{Method: "vm.disk.discover", Name: "vm01"}, vpoller.OK("ok", []vpoller.Object{}), `{"data": []}`},
		{"process filter on key",
			vpoller.Request{Method: "vm.process.get", Key: "init"},
			okList(vpoller.Object{{Key: "cmdLine", Value: "/sbin/init"}}, vpoller.Object{{Key: "cmdLine", Value: nil}}), "1"},
		{"float keeps Python repr",
			vpoller.Request{Method: "vm.cpu.usage.percent", Properties: []string{"vm.cpu.usage.percent"}},
			okList(vpoller.Object{{Key: "vm.cpu.usage.percent", Value: 1e16}}), "1e+16"},
		{"discovery element that is not an object",
			vpoller.Request{Method: "vm.discover"}, vpoller.OK("ok", []any{"x"}),
			"[zbx-helper]: vm.discover: result element 0 is not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Apply(Zabbix, &tt.req, tt.resp)
			if !ok || string(got) != tt.want {
				t.Errorf("ok=%v got %q want %q", ok, got, tt.want)
			}
			cgot, _ := Apply(CZabbix, &tt.req, tt.resp)
			if string(cgot) != tt.want+"\x00" {
				t.Errorf("czabbix got %q", cgot)
			}
		})
	}
}

func TestCClientFailure(t *testing.T) {
	got, ok := Apply(CClient, &vpoller.Request{Method: "vm.get"}, vpoller.Fail("Cannot find object vm\u00fc"))
	want := "{\"success\": 1, \"msg\": \"Cannot find object vm\\u00fc\"}\x00"
	if !ok || string(got) != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestApplyUnknownHelper(t *testing.T) {
	for _, name := range []string{"", "no.such.helper", "vpoller.helpers.Zabbix", " vpoller.helpers.czabbix"} {
		if out, ok := Apply(name, &vpoller.Request{Method: "vm.discover"}, vpoller.OK("ok", []vpoller.Object{})); ok || out != nil {
			t.Errorf("Apply(%q) = %q, %v; want nil, false", name, out, ok)
		}
	}
	// Nil request/reply must not crash.
	if out, ok := Apply(Zabbix, nil, nil); !ok || string(out) != "no reply" {
		t.Errorf("nil inputs: %q %v", out, ok)
	}
}

func TestNames(t *testing.T) {
	want := []string{CClient, CSV, CZabbix, Zabbix}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	for _, n := range Names() {
		if _, ok := Apply(n, &vpoller.Request{}, vpoller.Fail("x")); !ok {
			t.Errorf("%s listed but not applied", n)
		}
	}
}

// TestFormatters checks that the table the worker is given formats every
// helper exactly as Apply does, nil inputs included, and that changing
// the returned map leaves the package's own table alone.
func TestFormatters(t *testing.T) {
	table := Formatters()
	if got := slices.Sorted(maps.Keys(table)); !slices.Equal(got, Names()) {
		t.Fatalf("Formatters() names %q, want %q", got, Names())
	}
	req := &vpoller.Request{Method: "vm.get", Properties: []string{"runtime.powerState"}}
	resp := vpoller.OK("Successfully retrieved object properties", []vpoller.Object{{{Key: "name", Value: "vm1"}, {Key: "runtime.powerState", Value: "poweredOn"}}})
	for name, f := range table {
		want, _ := Apply(name, req, resp)
		if got := f(req, resp); !bytes.Equal(got, want) {
			t.Errorf("%s: Formatters() gives %q, Apply %q", name, got, want)
		}
		wantNil, _ := Apply(name, nil, nil)
		if got := f(nil, nil); !bytes.Equal(got, wantNil) {
			t.Errorf("%s with nil inputs: %q, want %q", name, got, wantNil)
		}
	}
	delete(table, Zabbix)
	if _, ok := Formatters()[Zabbix]; !ok {
		t.Error("deleting from one Formatters() map changed the next")
	}
}
