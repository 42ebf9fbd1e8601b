package lld

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestItem(t *testing.T) {
	tests := []struct {
		name string
		req  vpoller.Request
		rep  string
		want any
		text string
	}{
		{"string", vpoller.Request{Method: "vm.get", Properties: []string{"runtime.powerState"}},
			`{"success": 0, "msg": "m", "result": [{"name": "vm01", "runtime.powerState": "poweredOn"}]}`, "poweredOn", "poweredOn"},
		{"big int", vpoller.Request{Method: "host.get", Properties: []string{"p"}},
			`{"success": 0, "msg": "m", "result": [{"p": 1234567890123}]}`, json.Number("1234567890123"), "1234567890123"},
		{"float", vpoller.Request{Method: "datastore.get", Properties: []string{"p"}},
			`{"success": 0, "msg": "m", "result": [{"p": 12.5}]}`, json.Number("12.5"), "12.5"},
		{"bool", vpoller.Request{Method: "cluster.get", Properties: []string{"p"}},
			`{"success": 0, "msg": "m", "result": [{"p": true}]}`, true, "true"},
		{"null is an empty value", vpoller.Request{Method: "vm.get", Properties: []string{"runtime.bootTime"}},
			`{"success": 0, "msg": "m", "result": [{"runtime.bootTime": null}]}`, nil, ""},
		{"list as compact JSON", vpoller.Request{Method: "vm.get", Properties: []string{"p"}},
			`{"success": 0, "msg": "m", "result": [{"p": ["10.0.0.1", "fe80::1"]}]}`, []any{"10.0.0.1", "fe80::1"}, `["10.0.0.1","fe80::1"]`},
		{"data object as compact JSON", vpoller.Request{Method: "vm.get", Properties: []string{"p"}},
			`{"success": 0, "msg": "m", "result": [{"p": {"_moId": "host-30", "_stub": null}}]}`,
			vpoller.Object{{Key: "_moId", Value: "host-30"}, {Key: "_stub", Value: nil}}, `{"_moId":"host-30","_stub":null}`},
		{"newest perf sample", vpoller.Request{Method: "vm.perf.metric.get", Properties: []string{"value"}},
			`{"success": 0, "msg": "m", "result": [{"timestamp": "t1", "value": 84}, {"timestamp": "t2", "value": 91}]}`, json.Number("91"), "91"},
		{"vm.disk.get", vpoller.Request{Method: "vm.disk.get", Key: "C:\\", Properties: []string{"freeSpace"}},
			`{"success": 0, "msg": "m", "result": [{"name": "vm01", "disk": {"diskPath": "C:\\", "freeSpace": 0}}]}`, json.Number("0"), "0"},
		{"vm.process.get all", vpoller.Request{Method: "vm.process.get"},
			`{"success": 0, "msg": "m", "result": [{"cmdLine": "/sbin/init"}, {"cmdLine": "/usr/sbin/apache2"}]}`, 2, "2"},
		{"vm.process.get filtered", vpoller.Request{Method: "vm.process.get", Key: "apache2"},
			`{"success": 0, "msg": "m", "result": [{"cmdLine": "/sbin/init"}, {"cmdLine": "/usr/sbin/apache2"}, {"pid": 3}]}`, 1, "1"},
		{"vm.process.get none running", vpoller.Request{Method: "vm.process.get", Key: "x"},
			`{"success": 0, "msg": "m", "result": []}`, 0, "0"},
		{"single-object result", vpoller.Request{Method: "vm.host.get", Properties: []string{"host"}},
			`{"success": 0, "msg": "m", "result": {"name": "vm01", "host": "esx1"}}`, "esx1", "esx1"},
		{"unicode", vpoller.Request{Method: "event.latest", Properties: []string{"event"}},
			`{"success": 0, "msg": "m", "result": [{"event": "User r\u00f6ot logged in"}]}`, "User röot logged in", "User röot logged in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Item(&tt.req, decode(t, tt.rep))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Item = %#v, %v; want %#v", got, err, tt.want)
			}
			text, err := Text(got)
			if err != nil || text != tt.text {
				t.Errorf("Text = %q, %v; want %q", text, err, tt.text)
			}
		})
	}
}

// TestItemWorkerForm: the worker's own value shapes.
func TestItemWorkerForm(t *testing.T) {
	resp := vpoller.OK("m", []vpoller.Object{{{Key: "name", Value: "esx1"}, {Key: "summary.quickStats.overallCpuUsage", Value: int32(67)}}})
	got, err := Item(&vpoller.Request{Method: "host.get", Properties: []string{"summary.quickStats.overallCpuUsage"}}, resp)
	if err != nil || got != int32(67) {
		t.Fatalf("%#v %v", got, err)
	}
	if s, _ := Text(got); s != "67" {
		t.Error(s)
	}
	a, b := 0.1, 0.2
	if s, _ := Text(a + b); s != "0.30000000000000004" {
		t.Error(s)
	}
}

func TestItemErrors(t *testing.T) {
	ok := `{"success": 0, "msg": "m", "result": [{"name": "vm01", "p": 1}]}`
	tests := []struct {
		name string
		req  vpoller.Request
		rep  string
		is   error
		msg  string
	}{
		{"missing property", vpoller.Request{Method: "vm.get", Properties: []string{"q"}}, ok,
			ErrMissingProperty, `vm.get: the result has no property "q"`},
		{"no property requested", vpoller.Request{Method: "vm.get"}, ok,
			ErrNoValue, "vm.get: the request names no property"},
		{"no perf samples", vpoller.Request{Method: "host.perf.metric.get", Properties: []string{"value"}},
			`{"success": 0, "msg": "m", "result": []}`, ErrNoValue, "host.perf.metric.get: no performance samples in the result"},
		{"empty result", vpoller.Request{Method: "about", Properties: []string{"version"}},
			`{"success": 0, "msg": "m", "result": []}`, ErrNoValue, "about: empty result"},
		{"vm.disk.get without key", vpoller.Request{Method: "vm.disk.get", Properties: []string{"capacity"}},
			`{"success": 0, "msg": "m", "result": [{"name": "vm01", "disk": [{"diskPath": "/"}]}]}`, ErrNoValue,
			"vm.disk.get: result holds a list of disks, not one (give the guest disk path as key)"},
		{"vm.disk.get without disk", vpoller.Request{Method: "vm.disk.get", Properties: []string{"capacity"}},
			`{"success": 0, "msg": "m", "result": [{"name": "vm01"}]}`, ErrNoValue, "vm.disk.get: result has no disk"},
		{"last element not an object", vpoller.Request{Method: "vm.get", Properties: []string{"p"}},
			`{"success": 0, "msg": "m", "result": [{"p": 1}, 2]}`, ErrNoValue, "vm.get: last result element is not an object"},
		{"result is a number", vpoller.Request{Method: "vm.get", Properties: []string{"p"}},
			`{"success": 0, "msg": "m", "result": 2}`, ErrNoValue, "vm.get: result is not a list"},
		{"processes not a list", vpoller.Request{Method: "vm.process.get"},
			`{"success": 0, "msg": "m", "result": "x"}`, ErrNoValue, "vm.process.get: result is not a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Item(&tt.req, decode(t, tt.rep))
			if !errors.Is(err, tt.is) || err.Error() != tt.msg {
				t.Errorf("err = %v, want %q (%v)", err, tt.msg, tt.is)
			}
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Method != tt.req.Method {
				t.Errorf("not a *ValueError naming the method: %#v", err)
			}
		})
	}

	_, err := Item(&vpoller.Request{Method: "vm.get", Properties: []string{"p"}}, vpoller.Fail("Cannot find object no-such-vm"))
	var re *ReplyError
	if !errors.As(err, &re) || err.Error() != "Cannot find object no-such-vm" {
		t.Errorf("failed reply: %v", err)
	}
	for _, m := range []string{"vm.discover", "net.get", "no.such"} {
		_, err := Item(&vpoller.Request{Method: m, Properties: []string{"p"}}, decode(t, ok))
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Method != m {
			t.Errorf("%s: %v", m, err)
		}
	}
	if _, err := Item(nil, vpoller.OK("m", nil)); err == nil {
		t.Error("nil request accepted")
	}
	if _, err := Item(&vpoller.Request{Method: "vm.get"}, nil); !errors.Is(err, ErrNoValue) {
		t.Errorf("nil reply: %v", err)
	}
}

func TestTextErrors(t *testing.T) {
	if _, err := Text(json.Number("1x")); err == nil {
		t.Error("invalid number accepted")
	}
	if _, err := Text(make(chan int)); err == nil {
		t.Error("channel accepted")
	}
}
