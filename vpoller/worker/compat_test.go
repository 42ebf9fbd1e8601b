package worker

import (
	"bytes"
	"context"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
)

// compatVM is the simulator VM given guest disks for the vm.disk.* cases.
const compatVM = "DC0_H0_VM0"

// guestSimService is simService with guest disks on compatVM (what VMware
// Tools would report; the simulator fills none).
func guestSimService(t *testing.T) *vsphere.Service {
	t.Helper()
	setup := func(_ string, m *simulator.Model) {
		for _, e := range m.Map().All("VirtualMachine") {
			if vm := e.(*simulator.VirtualMachine); vm.Name == compatVM {
				vm.Guest.Disk = []types.GuestDiskInfo{
					{DiskPath: "/", Capacity: 10737418240, FreeSpace: 5368709120},
					{DiskPath: `C:\`, Capacity: 1, FreeSpace: 0},
				}
			}
		}
	}
	svc, err := vsphere.NewService([]vsphere.AgentConfig{{Name: "vcsim.local", Simulator: true}}, vsphere.Options{SimulatorSetup: setup})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	return svc
}

// originalReply is what the original's worker sends for a reply dict
// written in the order keys (its task's literal: Python's json.dumps keeps
// a dict's insertion order, with ", " and ": " separators), success 0,
// message msg, holding result (its bytes as json.dumps writes them).
func originalReply(keys []string, msg string, result []byte) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		switch k {
		case "success":
			b.WriteString(`"success": 0`)
		case "msg":
			m, _ := vpoller.Marshal(msg, vpoller.Python)
			b.WriteString(`"msg": `)
			b.Write(m)
		case "result":
			b.WriteString(`"result": `)
			b.Write(result)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// The replies the original's captured replies (testdata) lack, against
// the reply dicts of its tasks (py-vpoller src/vpoller/vsphere/tasks.py):
// the worker's reply is, byte for byte, the original's literal (key order
// and message) around our result.
//
//   - perf.metric.info: r = {'success': 0, 'msg': 'Successfully retrieved
//     performance metrics info', 'result': data}
//   - <kind>.perf.metric.info (_entity_perf_metric_info): {'msg':
//     'Successfully retrieved performance metrics', 'success': 0,
//     'result': data}; perf.interval.info: {'msg': ..., 'success': 0, ...}
//   - vm.disk.get without key returns vm_disk_discover's reply:
//     {'success': 0, 'msg': 'Successfully discovered objects', 'result': [result]};
//     with key {'success': 0, 'msg': 'Successfully retrieved properties', ...}
//   - vm.net.get (and net.host.get, net.vm.get, host.net.get):
//     {'success': 0, 'msg': 'Successfully discovered objects', 'result': result}
func TestRepliesMatchOriginalLiterals(t *testing.T) {
	w, err := New(guestSimService(t), Options{Proxy: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	successFirst := []string{"success", "msg", "result"}
	msgFirst := []string{"msg", "success", "result"}
	const agent = "vcsim.local"
	for _, tc := range []struct {
		name string
		req  []byte
		keys []string
		msg  string
		// result is the expected result bytes; "" takes the reply's own
		// (a long counter list, the simulator's networks), so that the
		// frame around it and the message are checked.
		result string
	}{
		{"perf.metric.info", request("perf.metric.info", agent, nil), successFirst,
			"Successfully retrieved performance metrics info", ""},
		{"vm.perf.metric.info", request("vm.perf.metric.info", agent, map[string]any{"name": compatVM}), msgFirst,
			"Successfully retrieved performance metrics", ""},
		{"host.perf.metric.info", request("host.perf.metric.info", agent, map[string]any{"name": "DC0_H0"}), msgFirst,
			"Successfully retrieved performance metrics", ""},
		{"perf.interval.info", request("perf.interval.info", agent, nil), msgFirst,
			"Successfully retrieved performance historical intervals", ""},
		{"vm.disk.get without key", request("vm.disk.get", agent, map[string]any{"name": compatVM}), successFirst,
			"Successfully discovered objects", `[{"name": "DC0_H0_VM0", "disk": [{"diskPath": "/"}, {"diskPath": "C:\\"}]}]`},
		{"vm.disk.get with key", request("vm.disk.get", agent, map[string]any{"name": compatVM, "key": "/", "properties": []any{"freeSpace"}}), successFirst,
			"Successfully retrieved properties", `[{"name": "DC0_H0_VM0", "disk": {"diskPath": "/", "freeSpace": 5368709120}}]`},
		{"vm.net.get", request("vm.net.get", agent, map[string]any{"name": compatVM}), successFirst,
			"Successfully discovered objects", `{"name": "DC0_H0_VM0", "network": [{"name": "DC0_DVPG0"}]}`},
		{"host.net.get", request("host.net.get", agent, map[string]any{"name": "DC0_H0"}), successFirst,
			"Successfully discovered objects", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := w.Reply(context.Background(), tc.req)
			result := []byte(tc.result)
			if tc.result == "" {
				r, err := vpoller.DecodeResponse(got)
				if err != nil {
					t.Fatalf("reply %.300s: %v", got, err)
				}
				list, _ := r.Result.([]any)
				obj, _ := r.Result.(vpoller.Object)
				if len(list) == 0 && len(obj) == 0 {
					t.Fatalf("reply with an empty result: %.300s", got)
				}
				if result, err = vpoller.Marshal(r.Result, vpoller.Python); err != nil {
					t.Fatal(err)
				}
			}
			if want := originalReply(tc.keys, tc.msg, result); !bytes.Equal(got, want) {
				t.Errorf("reply\n got %.400s\nwant %.400s", got, want)
			}
		})
	}
}
