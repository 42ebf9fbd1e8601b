package vsphere

import (
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestGuestSnapshotAlarmErrors(t *testing.T) {
	s := newSim(t, Options{}, simGuest)
	for _, tc := range []struct {
		req vpoller.Request
		msg string
	}{
		{vpoller.Request{Method: "vm.snapshot.get", Name: "DC0_H0_VM1"}, "No snapshots found for: DC0_H0_VM1"},
		{vpoller.Request{Method: "vm.snapshot.get", Name: "nope"}, "Cannot find object: nope"},
		{vpoller.Request{Method: "vm.disk.get", Name: guestVM, Key: "/nope", Properties: []string{"capacity"}}, "Unable to find guest disk /nope"},
		{vpoller.Request{Method: "vm.disk.discover", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "vm.process.get", Name: "DC0_H0_VM1", Username: "u", Password: "p"}, "DC0_H0_VM1 is not running VMware Tools"},
		// The catalogue requires guest credentials (as the original's task did).
		{vpoller.Request{Method: "vm.process.get", Name: guestVM}, "Invalid task request"},
		{vpoller.Request{Method: "vm.alarm.get", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "net.host.get", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "vsan.health.get", Name: "nope"}, "Cannot find object nope"},
	} {
		r := exec(t, s, tc.req)
		if r.Success != 1 || r.Msg != tc.msg || r.Result != nil {
			t.Errorf("%s %s: got %s, want %q", tc.req.Method, tc.req.Name, r.Encode(vpoller.Python), tc.msg)
		}
	}
	// Guest disks without tools data: an empty list, not an error.
	r := exec(t, s, vpoller.Request{Method: "vm.disk.discover", Name: "DC0_H0_VM1"})
	if b, _ := vpoller.Marshal(r.Result, vpoller.Python); r.Success != 0 || string(b) != `[{"name": "DC0_H0_VM1", "disk": []}]` {
		t.Errorf("vm.disk.discover without guest data: %s", r.Encode(vpoller.Python))
	}
	// An idle VM: 0, not an error.
	r = exec(t, s, vpoller.Request{Method: "vm.cpu.usage.pct", Name: "DC0_H0_VM1"})
	if b, _ := vpoller.Marshal(r.Result, vpoller.Python); r.Success != 0 || string(b) != `[{"name": "DC0_H0_VM1", "vm.cpu.usage.pct": 0.0}]` {
		t.Errorf("vm.cpu.usage.pct idle: %s", r.Encode(vpoller.Python))
	}
	// vm.disk.get without key: every disk.
	r = exec(t, s, vpoller.Request{Method: "vm.disk.get", Name: guestVM})
	if b, _ := vpoller.Marshal(r.Result, vpoller.Python); r.Success != 0 || string(b) != `[{"name": "DC0_H0_VM0", "disk": [{"diskPath": "/"}, {"diskPath": "C:\\"}]}]` {
		t.Errorf("vm.disk.get without key: %s", r.Encode(vpoller.Python))
	}
}

func TestAlarmsFollowEvents(t *testing.T) {
	s := newSim(t, Options{})
	a := agent(t, s)
	get := func(method, name string) []any {
		t.Helper()
		r := exec(t, s, vpoller.Request{Method: method, Name: name})
		if r.Success != 0 || r.Msg != "Successfully retrieved alarms" {
			t.Fatalf("%s: %s", method, r.Encode(vpoller.Python))
		}
		return r.Result.([]any)
	}
	if l := get("vm.alarm.get", "DC0_C0_RP0_VM1"); len(l) != 0 {
		t.Fatalf("alarms before any event: %v", l)
	}
	raiseAlarm(t, a, "DC0_C0_RP0_VM1", "vcsim.vm.failure")
	l := get("vm.alarm.get", "DC0_C0_RP0_VM1")
	if len(l) != 1 || field(l[0], "overallStatus") != "yellow" || field(l[0], "info") != "vcsim VM Alarm" {
		t.Fatalf("after failure event: %v", l)
	}
	key := field(l[0], "key").(string)
	raiseAlarm(t, a, "DC0_C0_RP0_VM1", "vcsim.vm.fatal")
	l = get("datacenter.alarm.get", "DC0")
	if len(l) != 1 || field(l[0], "overallStatus") != "red" || field(l[0], "key") != key || field(l[0], "entity") != "DC0_C0_RP0_VM1" {
		t.Fatalf("datacenter after fatal event: %v", l)
	}
	raiseAlarm(t, a, "DC0_C0_RP0_VM1", "vcsim.vm.success")
	if l := get("vm.alarm.get", "DC0_C0_RP0_VM1"); len(l) != 0 {
		t.Fatalf("alarms after success event: %v", l)
	}
}

func TestSnapshotTreeDepth(t *testing.T) {
	s := newSim(t, Options{})
	a := agent(t, s)
	addSnapshots(t, a, "DC0_C0_RP0_VM0", 4)
	var r *vpoller.Response
	eventually(t, 10*time.Second, "4 snapshots", func() bool {
		r = exec(t, s, vpoller.Request{Method: "vm.snapshot.get", Name: "DC0_C0_RP0_VM0"})
		return r.Success == 0 && len(r.Result.([]any)) == 4
	})
	l := r.Result.([]any)
	for i, x := range l {
		if n := field(x, "name"); n != "snap-"+string(rune('0'+i)) {
			t.Errorf("[%d] name %v: want tree order", i, n)
		}
		if id, ok := field(x, "id").(int64); !ok || id <= 0 {
			t.Errorf("[%d] id %v", i, field(x, "id"))
		}
	}
}
