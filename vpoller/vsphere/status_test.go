package vsphere

import (
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// TestAgentStatusFigures: the worker's status shows, per agent, what the
// mirror holds and how current it is, what the sweep does and every SOAP
// call by method.
func TestAgentStatusFigures(t *testing.T) {
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
		"sweep_last_round_calls,sweep_last_round_series,sweep_hits,sweep_misses,logins,soap_calls,soap_calls_by_method,"+
		"rest_logins,rest_calls,rest_calls_by_name" {
		t.Fatalf("keys %s", got)
	}
	// 18 objects: the vpx model's 17 of the earlier types plus its
	// distributed switch DVS0 (issue 10 added switches to the index).
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
	if n, _ := wp.(vpoller.Object).Get("VirtualMachine"); n != int64(27) { // 3 index paths + 24 default paths
		t.Errorf("watched VM paths %v", n)
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
