package helpers

import (
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestCSV(t *testing.T) {
	tests := []struct {
		name  string
		plain string
		want  string
	}{
		{"discovery, header sorted",
			`{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "vm01", "runtime.powerState": "poweredOn", "config.hardware.numCPU": 2}, {"name": "vm02 \u00fcn\u00efcode", "runtime.powerState": "poweredOff", "config.hardware.numCPU": 4}]}`,
			"config.hardware.numCPU,name,runtime.powerState\r\n2,vm01,poweredOn\r\n4,vm02 ünïcode,poweredOff\r\n"},
		{"missing keys empty, extra keys ignored, values as text",
			`{"success": 0, "msg": "m", "result": [{"b": true, "a": null}, {"a": 12.5, "c": 1}, {"a": ["x", "y"], "b": {"k": "v"}}]}`,
			"a,b\r\n,true\r\n12.5,\r\n\"[\"\"x\"\",\"\"y\"\"]\",\"{\"\"k\"\":\"\"v\"\"}\"\r\n"},
		{"object result is one row",
			`{"success": 0, "msg": "m", "result": {"name": "VM Network", "host": [{"name": "esx1"}]}}`,
			"host,name\r\n\"[{\"\"name\"\":\"\"esx1\"\"}]\",VM Network\r\n"},
		{"Python csv quoting",
			`{"success": 0, "msg": "m", "result": [{"a": "a,b", "b": "q\"x", "c": " lead", "d": "", "e": "l\nm"}]}`,
			"a,b,c,d,e\r\n\"a,b\",\"q\"\"x\", lead,,\"l\nm\"\r\n"},
		{"single empty field",
			`{"success": 0, "msg": "m", "result": [{"a": ""}]}`,
			"a\r\n\"\"\r\n"},
		{"empty result",
			`{"success": 0, "msg": "m", "result": []}`, ""},
		// Expected bytes of the failure cases produced by Python 3's
		// json.dumps(reply, indent=4).
		{"failure as indented JSON",
			`{"success": 1, "msg": "Task vm.get failed \u00fc", "traceback": "Traceback\n  x"}`,
			"{\n    \"success\": 1,\n    \"msg\": \"Task vm.get failed \\u00fc\",\n    \"traceback\": \"Traceback\\n  x\"\n}"},
		{"list element that is not an object",
			`{"success": 0, "msg": "m", "result": [1]}`,
			"{\n    \"success\": 1,\n    \"msg\": \"csvhelper: result element 0 is not an object\"\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := vpoller.DecodeResponse([]byte(tt.plain))
			if err != nil {
				t.Fatal(err)
			}
			for form, r := range map[string]*vpoller.Response{"wire": resp, "worker": workerForm(resp)} {
				got, ok := Apply(CSV, &vpoller.Request{Method: "vm.discover"}, r)
				if !ok || string(got) != tt.want {
					t.Errorf("%s: ok=%v\n got %q\nwant %q", form, ok, got, tt.want)
				}
			}
		})
	}
}

// FuzzApply runs every helper over arbitrary replies and methods: no
// panic, always some output, czabbix/cclient always NUL-terminated.
func FuzzApply(f *testing.F) {
	f.Add("vm.discover", "p", "", []byte(`{"success": 0, "msg": "m", "result": [{"name": "vm01"}]}`))
	f.Add("vm.get", "p", "k", []byte(`{"success": 0, "msg": "m", "result": [{"name": "vm01", "p": {"a": [1, 2.5e3]}}]}`))
	f.Add("vm.disk.discover", "", "", []byte(`{"success": 0, "msg": "m", "result": [{"disk": [{"diskPath": "/"}, 3]}]}`))
	f.Add("vm.guest.net.get", "", "", []byte(`{"success": 0, "msg": "m", "result": {"net": 1}}`))
	f.Add("vm.process.get", "", "x", []byte(`{"success": 0, "msg": "m", "result": [{"cmdLine": 1}]}`))
	f.Add("host.perf.metric.get", "value", "", []byte(`{"success": 1, "msg": "boom"}`))
	f.Fuzz(func(t *testing.T, method, prop, key string, reply []byte) {
		resp, err := vpoller.DecodeResponse(reply)
		if err != nil {
			return
		}
		req := &vpoller.Request{Method: method, Properties: []string{prop}, Key: key}
		for _, name := range Names() {
			out, ok := Apply(name, req, resp)
			if !ok {
				t.Fatalf("%s not applied", name)
			}
			if (name == CZabbix || name == CClient) && (len(out) == 0 || out[len(out)-1] != 0) {
				t.Fatalf("%s output not NUL-terminated: %q", name, out)
			}
		}
	})
}
