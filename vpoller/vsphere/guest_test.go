package vsphere

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

func TestGuestSnapshotAlarmErrors(t *testing.T) {
	t.Parallel()
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

// TestAlarmsFollowEvents: alarms raised, escalated and cleared by
// events show within the alarm bound (AlarmMaxAge, short here), with
// their names, and propagate to the datacenter.
func TestAlarmsFollowEvents(t *testing.T) {
	t.Parallel()
	const bound = 200 * time.Millisecond
	s := newSim(t, Options{AlarmMaxAge: bound})
	a := agent(t, s)
	get := func(method, name string) []any {
		t.Helper()
		r := exec(t, s, vpoller.Request{Method: method, Name: name})
		if r.Success != 0 || r.Msg != "Successfully retrieved alarms" {
			t.Fatalf("%s: %s", method, r.Encode(vpoller.Python))
		}
		return r.Result.([]any)
	}
	// within waits for cond, which must hold within the bound plus the
	// time of a read on a loaded machine (the tests of this package run
	// in parallel on 2 cores): well short of DefaultAlarmMaxAge (20 s),
	// which an agent ignoring AlarmMaxAge would take.
	within := func(what string, cond func() bool) {
		t.Helper()
		if d := eventually(t, 10*time.Second, what, cond); d > bound+5*time.Second {
			t.Errorf("%s took %s, beyond the %s bound", what, d, bound)
		}
	}
	if l := get("vm.alarm.get", "DC0_C0_RP0_VM1"); len(l) != 0 {
		t.Fatalf("alarms before any event: %v", l)
	}
	raiseAlarm(t, a, "DC0_C0_RP0_VM1", "vcsim.vm.failure")
	var l []any
	within("the failure alarm", func() bool {
		l = get("vm.alarm.get", "DC0_C0_RP0_VM1")
		return len(l) == 1
	})
	if field(l[0], "overallStatus") != "yellow" || field(l[0], "info") != "vcsim VM Alarm" {
		t.Fatalf("after failure event: %v", l)
	}
	key := field(l[0], "key").(string)
	raiseAlarm(t, a, "DC0_C0_RP0_VM1", "vcsim.vm.fatal")
	within("the fatal alarm on the datacenter", func() bool {
		l = get("datacenter.alarm.get", "DC0")
		return len(l) == 1 && field(l[0], "overallStatus") == "red"
	})
	if field(l[0], "key") != key || field(l[0], "entity") != "DC0_C0_RP0_VM1" || field(l[0], "info") != "vcsim VM Alarm" {
		t.Fatalf("datacenter after fatal event: %v", l)
	}
	raiseAlarm(t, a, "DC0_C0_RP0_VM1", "vcsim.vm.success")
	within("the alarm cleared", func() bool { return len(get("vm.alarm.get", "DC0_C0_RP0_VM1")) == 0 })
}

// TestAlarmStatesFixedCost: alarm requests for every alarm-bearing object
// within the bound cost one RetrievePropertiesEx for all their states
// (per object, it was one call each: 50 here) plus one for the alarm
// names the first time; warm, nothing; past the bound, the next request
// reads the states again (the names stay cached) and shows what changed.
func TestAlarmStatesFixedCost(t *testing.T) {
	const bound = 3 * time.Second
	s := newSim(t, Options{AlarmMaxAge: bound})
	a := agent(t, s)
	type obj struct{ method, name string }
	var list []obj
	for _, n := range []string{"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"} {
		list = append(list, obj{"vm.alarm.get", n})
	}
	for _, n := range []string{"DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"} {
		list = append(list, obj{"host.alarm.get", n})
	}
	list = append(list, obj{"cluster.alarm.get", "DC0_C0"}, obj{"datacenter.alarm.get", "DC0"})
	lookup(t, a, objects.VM, "DC0_H0_VM1") // the mirror is synced: lookups cost nothing below
	raiseAlarm(t, a, "DC0_H0_VM1", "vcsim.vm.failure")

	// run sends n requests at once over list; it returns each object's
	// alarm statuses ("yellow,red").
	run := func(what string, n int) map[obj]string {
		t.Helper()
		var wg sync.WaitGroup
		var mu sync.Mutex
		out := map[obj]string{}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := list[i%len(list)]
				r := exec(t, s, vpoller.Request{Method: o.method, Name: o.name})
				if r.Success != 0 || r.Msg != msgAlarms {
					t.Errorf("%s %s %s: %s", what, o.method, o.name, r.Encode(vpoller.Python))
					return
				}
				var st []string
				for _, x := range r.Result.([]any) {
					if field(x, "info") != "vcsim VM Alarm" || field(x, "entity") != "DC0_H0_VM1" {
						t.Errorf("%s %s %s: alarm %v", what, o.method, o.name, x)
					}
					st = append(st, field(x, "overallStatus").(string))
				}
				mu.Lock()
				if prev, ok := out[o]; ok && prev != strings.Join(st, ",") {
					t.Errorf("%s %s: %q then %q within one bound", what, o.name, prev, strings.Join(st, ","))
				}
				out[o] = strings.Join(st, ",")
				mu.Unlock()
			}()
		}
		wg.Wait()
		return out
	}
	wantStatus := func(what string, got map[obj]string, status string) {
		t.Helper()
		for _, o := range list {
			want := ""
			if o.name == "DC0_H0_VM1" || o.name == "DC0" { // raised on the VM, propagated to its datacenter
				want = status
			}
			if got[o] != want {
				t.Errorf("%s: %s alarms %q, want %q", what, o.name, got[o], want)
			}
		}
	}

	start := time.Now()
	before := a.sess.Stats()
	wantStatus("cold", run("cold", 50), "yellow")
	mid := a.sess.Stats()
	wantStatus("warm", run("warm", 50), "yellow")
	after := a.sess.Stats()
	if d := time.Since(start); d >= bound {
		t.Fatalf("100 requests took %s, beyond the %s bound: the costs below cannot be judged", d, bound)
	}
	if got := soapCalls(before, mid); len(got) != 1 || got["RetrievePropertiesEx"] != 2 {
		t.Errorf("50 cold alarm requests: SOAP calls %v, want 2 RetrievePropertiesEx (states, names)", got)
	}
	if got := soapCalls(mid, after); len(got) != 0 {
		t.Errorf("50 warm alarm requests: SOAP calls %v, want none", got)
	}

	// Escalated, then the bound passes: the next request reads the states
	// again (one call; the name is cached) and every object sees red.
	snap, err := a.store.Alarms(t.Context()) // the cached one: taken after start, so within the bound
	if err != nil {
		t.Fatal(err)
	}
	raiseAlarm(t, a, "DC0_H0_VM1", "vcsim.vm.fatal")
	time.Sleep(time.Until(snap.Taken.Add(bound + 10*time.Millisecond)))
	before = a.sess.Stats()
	wantStatus("past the bound", run("past the bound", 50), "red")
	if got := soapCalls(before, a.sess.Stats()); len(got) != 1 || got["RetrievePropertiesEx"] != 1 {
		t.Errorf("50 alarm requests past the bound: SOAP calls %v, want 1 RetrievePropertiesEx", got)
	}
}

func TestSnapshotTreeDepth(t *testing.T) {
	t.Parallel()
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

// TestAlarmStatesMirrorOff: with the mirror off (no watched properties)
// the inventory index's container view still serves the snapshot: the
// same cost, one read for every object (plus one for the alarm names).
func TestAlarmStatesMirrorOff(t *testing.T) {
	t.Parallel()
	s := newSim(t, direct)
	a := agent(t, s)
	lookup(t, a, objects.VM, "DC0_H0_VM0")
	raiseAlarm(t, a, "DC0_H0_VM0", "vcsim.vm.failure")
	before := a.sess.Stats()
	for _, r := range []vpoller.Request{{Method: "vm.alarm.get", Name: "DC0_H0_VM0"}, {Method: "vm.alarm.get", Name: "DC0_H0_VM1"},
		{Method: "host.alarm.get", Name: "DC0_H0"}, {Method: "datacenter.alarm.get", Name: "DC0"}} {
		resp := exec(t, s, r)
		want := 0
		if r.Name == "DC0_H0_VM0" || r.Name == "DC0" {
			want = 1
		}
		if resp.Success != 0 || len(resp.Result.([]any)) != want {
			t.Errorf("%s %s: %s, want %d alarms", r.Method, r.Name, resp.Encode(vpoller.Python), want)
		}
	}
	got := soapCalls(before, a.sess.Stats())
	want := map[string]uint64{"RetrievePropertiesEx": 2} // states, names
	if len(got) != len(want) {
		t.Errorf("4 alarm requests, mirror off: SOAP calls %v, want %v", got, want)
	}
	for m, n := range want {
		if got[m] != n {
			t.Errorf("4 alarm requests, mirror off: SOAP calls %v, want %v", got, want)
			break
		}
	}
}
