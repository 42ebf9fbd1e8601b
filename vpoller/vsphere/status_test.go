package vsphere

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// TestAgentStatusFigures: the worker's status shows, per agent, what the
// mirror holds and how current it is, what the sweep does and every SOAP
// call by method.
func TestAgentStatusFigures(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	agent(t, s)
	exec(t, s, vpoller.Request{Method: "vm.get", Name: "DC0_H0_VM0", Properties: []string{"runtime.powerState"}})
	samples(t, exec(t, s, vpoller.Request{Method: "vm.perf.metric.get", Name: "DC0_H0_VM0", CounterName: "cpu.usage.percent.average"}),
		"cpu.usage.percent.average", 1)
	all := s.Stats().AgentsObject()
	if got := strings.Join(all.Keys(), ","); got != "sim" {
		t.Fatalf("agents %s", got)
	}
	v, _ := all.Get("sim")
	o := v.(vpoller.Object)
	if got := strings.Join(o.Keys(), ","); got != "mirror,role,objects,watched_paths,mirror_lag_ms,updates_per_s,updates,syncs,first_sync_ms,"+
		"first_sync_calls,index_reads,reads_from_mirror,reads_from_vcenter,sweep_series,sweep_rounds,sweep_calls,sweep_last_round_ms,"+
		"sweep_last_round_calls,sweep_last_round_series,sweep_hits,sweep_misses,logins,failed_logins,next_login_at,soap_calls,soap_calls_by_method,"+
		"rest_logins,rest_calls,rest_calls_by_name" {
		t.Fatalf("keys %s", got)
	}
	// 18 objects: the vpx model's 17 of the earlier types plus its
	// distributed switch DVS0, which the index holds too.
	// The first sync: one page and the catch-up wait.
	want := map[string]any{"mirror": "current", "role": "auto", "objects": int64(18), "syncs": int64(1), "first_sync_calls": int64(2),
		"sweep_series": int64(1), "sweep_misses": uint64(1), "logins": uint64(1), "reads_from_vcenter": uint64(0),
		"rest_logins": uint64(0), "rest_calls": uint64(0)} // no tag method yet: no vAPI session
	for k, w := range want {
		if got, _ := o.Get(k); got != w {
			t.Errorf("%s = %#v, want %#v", k, got, w)
		}
	}
	wp, _ := o.Get("watched_paths")
	n, _ := wp.(vpoller.Object).Get("VirtualMachine")
	if want := int64(len(objects.DefaultWatch()["VirtualMachine"])); n != want { // index + default paths
		t.Errorf("watched VM paths %v, want %d", n, want)
	}
	calls, _ := o.Get("soap_calls_by_method")
	for m, min := range map[string]uint64{"Login": 1, "WaitForUpdatesEx": 1, "QueryPerf": 1, "CreateFilter": 1} {
		if n, _ := calls.(vpoller.Object).Get(m); n == nil || n.(uint64) < min {
			t.Errorf("calls of %s: %v", m, n)
		}
	}
	if lag, _ := o.Get("mirror_lag_ms"); lag.(int64) < 0 || lag.(int64) > 60000 {
		t.Errorf("lag %v", lag)
	}
}

// TestServiceSetRole: the worker's lever per agent. An unknown agent or
// role is an error that names it; a role shows in the agent's status,
// and a passive agent answers without a mirror.
func TestServiceSetRole(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	for _, tc := range []struct {
		agent string
		role  objects.Role
		err   string
	}{
		{"nope", objects.RoleOwner, `vsphere: set role owner: unknown agent "nope"`},
		{"sim", objects.Role(7), "vsphere: agent sim: invalid role Role(7)"},
		{"sim", objects.RolePassive, ""},
		{"sim", objects.RolePassive, ""}, // idempotent
	} {
		err := s.SetRole(tc.agent, tc.role)
		if got := fmt.Sprint(err); tc.err != "" && got != tc.err || tc.err == "" && err != nil {
			t.Errorf("SetRole(%s, %v) = %v, want %q", tc.agent, tc.role, err, tc.err)
		}
	}
	r := exec(t, s, vpoller.Request{Method: "vm.get", Name: "DC0_H0_VM0", Properties: []string{"runtime.powerState"}})
	if got := string(r.Encode(vpoller.Python)); got != `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_H0_VM0", "runtime.powerState": "poweredOn"}]}` {
		t.Fatalf("passive vm.get: %s", got)
	}
	o, _ := s.Stats().AgentsObject().Get("sim")
	for k, want := range map[string]any{"mirror": "passive", "role": "passive", "index_reads": uint64(1), "syncs": int64(0)} {
		if got, _ := o.(vpoller.Object).Get(k); got != want {
			t.Errorf("status %s = %#v, want %#v", k, got, want)
		}
	}
	calls := s.Stats().Calls
	if calls["WaitForUpdatesEx"] != 0 || calls["CreatePropertyCollector"] != 0 {
		t.Errorf("a passive agent made mirror calls: %v", calls)
	}
}
