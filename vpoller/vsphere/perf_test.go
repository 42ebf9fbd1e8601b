package vsphere

import (
	"reflect"
	"strings"
	"testing"
	"time"

	govobj "github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// samples checks a perf.metric.get reply and returns its samples.
func samples(t *testing.T, r *vpoller.Response, counter string, n int) []vpoller.Object {
	t.Helper()
	if r.Success != 0 || r.Msg != "Successfully retrieved performance metrics" {
		t.Fatalf("reply %s", r.Encode(vpoller.Python))
	}
	list := r.Result.([]any)
	if len(list) != n {
		t.Fatalf("%d samples, want %d: %s", len(list), n, r.Encode(vpoller.Python))
	}
	var out []vpoller.Object
	var prev time.Time
	for _, x := range list {
		o := x.(vpoller.Object)
		if got := strings.Join(o.Keys(), ","); got != "interval,timestamp,counterId,instance,value" {
			t.Fatalf("sample keys %s", got)
		}
		if c, _ := o.Get("counterId"); c != counter {
			t.Errorf("counterId %v", c)
		}
		if v, _ := o.Get("value"); v.(int64) < 0 {
			t.Errorf("value %v", v)
		}
		ts, _ := o.Get("timestamp")
		at, err := time.Parse("2006-01-02 15:04:05.999999-07:00", ts.(string))
		if err != nil {
			t.Fatalf("timestamp %q: %v", ts, err)
		}
		if at.Before(prev) {
			t.Errorf("samples not oldest first: %v", list)
		}
		prev = at
		out = append(out, o)
	}
	return out
}

func TestPerfRealtimeHost(t *testing.T) {
	t.Parallel()
	s := shared(t)
	r := exec(t, s, vpoller.Request{Method: "host.perf.metric.get", Name: "DC0_C0_H0", CounterName: "cpu.usage.percent.average"})
	got := samples(t, r, "cpu.usage.percent.average", 1)
	if iv, _ := got[0].Get("interval"); iv != int64(20) {
		t.Errorf("interval %v, want the real-time 20", iv)
	}
	if in, _ := got[0].Get("instance"); in != "" {
		t.Errorf("instance %v", in)
	}
	// max-sample 3 for a VM with a CPU instance.
	r = exec(t, s, vpoller.Request{Method: "vm.perf.metric.get", Name: "DC0_H0_VM0", CounterName: "cpu.usagemhz.megaHertz.average", Instance: "0", MaxSample: 3})
	got = samples(t, r, "cpu.usagemhz.megaHertz.average", 3)
	if in, _ := got[2].Get("instance"); in != "0" {
		t.Errorf("instance %v", in)
	}
}

func TestPerfHistoricalAndErrors(t *testing.T) {
	t.Parallel()
	s := shared(t)
	ds := exec(t, s, vpoller.Request{Method: "datastore.discover", Properties: []string{"info.url"}})
	if l, ok := ds.Result.([]any); !ok || len(l) == 0 {
		t.Fatalf("datastore.discover: %s", ds.Encode(vpoller.Python))
	}
	u, _ := ds.Result.([]any)[0].(vpoller.Object).Get("info.url")
	url := u.(string)

	// Datastore: historical only. vcsim names its intervals "Past Day",
	// "Past Week", ... (vCenter: "Past day"); every spelling works.
	var got []vpoller.Object
	for _, name := range []string{"Past Day", "Past day", "past day", " PAST DAY "} {
		r := exec(t, s, vpoller.Request{Method: "datastore.perf.metric.get", Name: url, CounterName: "disk.used.kiloBytes.latest", PerfInterval: name, MaxSample: 2})
		got = samples(t, r, "disk.used.kiloBytes.latest", 2)
		if iv, _ := got[0].Get("interval"); iv != int64(300) {
			t.Errorf("%q: interval %v, want Past Day's 300", name, iv)
		}
	}
	if v, _ := got[1].Get("value"); v.(int64) == 0 {
		t.Errorf("datastore disk.used sample is 0: %v", got)
	}
	// A host with a historical interval too.
	r := exec(t, s, vpoller.Request{Method: "host.perf.metric.get", Name: "DC0_H0", CounterName: "mem.usage.percent.average", PerfInterval: "Past Week"})
	if iv, _ := samples(t, r, "mem.usage.percent.average", 1)[0].Get("interval"); iv != int64(1800) {
		t.Errorf("interval %v, want Past Week's 1800", iv)
	}

	for _, tc := range []struct {
		req vpoller.Request
		msg string
	}{
		{vpoller.Request{Method: "host.perf.metric.get", Name: "DC0_C0_H0", CounterName: "cpu.nosuch.percent.average"}, "Unknown performance counter requested"},
		{vpoller.Request{Method: "host.perf.metric.get", Name: "DC0_C0_H0", CounterName: "garbage"}, "Unknown performance counter requested"},
		{vpoller.Request{Method: "host.perf.metric.get", Name: "DC0_C0_H0", CounterName: "cpu.usage.percent.average", PerfInterval: "Past decade"}, "Historical interval Past decade does not exists"},
		{vpoller.Request{Method: "datastore.perf.metric.get", Name: url, CounterName: "disk.used.kiloBytes.latest"}, "No historical performance interval provided for entity LocalDS_0"},
		{vpoller.Request{Method: "cluster.perf.metric.get", Name: "DC0_C0", CounterName: "cpu.usage.percent.average"}, "No historical performance interval provided for entity DC0_C0"},
		{vpoller.Request{Method: "datacenter.perf.metric.get", Name: "DC0", CounterName: "cpu.usage.percent.average", PerfInterval: "Nope"}, "Historical interval Nope does not exists"},
		{vpoller.Request{Method: "vm.perf.metric.get", Name: "no-such-vm", CounterName: "cpu.usage.percent.average"}, "Cannot find object: no-such-vm"},
		{vpoller.Request{Method: "vm.perf.metric.info", Name: "no-such-vm"}, "Cannot find object: no-such-vm"},
	} {
		r := exec(t, s, tc.req)
		if r.Success != 1 || r.Msg != tc.msg {
			t.Errorf("%s %s: got %s, want %q", tc.req.Method, tc.req.CounterName, r.Encode(vpoller.Python), tc.msg)
		}
	}
}

// TestPerfPoweredOff: the perf power-state checks come from the mirror,
// which follows the VM being powered off and the host disconnecting.
func TestPerfPoweredOff(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	a := agent(t, s)
	ref := lookup(t, a, objects.VM, "DC0_H0_VM1")
	vc, _ := a.Client(t.Context())
	ptask, err := govobj.NewVirtualMachine(vc, ref).PowerOff(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := ptask.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	var r *vpoller.Response
	eventually(t, 10*time.Second, "VM powered off", func() bool {
		r = exec(t, s, vpoller.Request{Method: "vm.perf.metric.get", Name: "DC0_H0_VM1", CounterName: "cpu.usage.percent.average"})
		return r.Success == 1
	})
	if r.Msg != "VM is not powered on, cannot get performance metrics" {
		t.Errorf("powered-off VM: %s", r.Encode(vpoller.Python))
	}
	hostRef := lookup(t, a, objects.Host, "DC0_C0_H1")
	task, err := govobj.NewHostSystem(vc, hostRef).Disconnect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	notify(t, a, hostRef, "runtime.connectionState", types.HostSystemConnectionStateDisconnected)
	eventually(t, 10*time.Second, "host disconnected", func() bool {
		r = exec(t, s, vpoller.Request{Method: "host.perf.metric.get", Name: "DC0_C0_H1", CounterName: "cpu.usage.percent.average"})
		return r.Success == 1
	})
	if r.Msg != "Host is not connected, cannot get performance metrics" {
		t.Errorf("disconnected host: %s", r.Encode(vpoller.Python))
	}
}

func TestPerfInfo(t *testing.T) {
	t.Parallel()
	s := shared(t)
	r := exec(t, s, vpoller.Request{Method: "perf.interval.info"})
	if r.Success != 0 || r.Msg != "Successfully retrieved performance historical intervals" {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	b, _ := vpoller.Marshal(r.Result.([]any)[0], vpoller.Python)
	if string(b) != `{"enabled": true, "key": 1, "length": 86400, "level": 1, "name": "Past Day", "samplingPeriod": 300}` {
		t.Errorf("first interval %s", b)
	}
	r = exec(t, s, vpoller.Request{Method: "perf.metric.info"})
	if r.Success != 0 || r.Msg != "Successfully retrieved performance metrics info" || len(r.Result.([]any)) < 100 {
		t.Fatalf("perf.metric.info: %d counters, %s", len(r.Result.([]any)), r.Msg)
	}
	first := r.Result.([]any)[0].(vpoller.Object)
	if k, _ := first.Get("key"); k != int64(1) {
		t.Errorf("first counter key %v", k)
	}
	if n, _ := first.Get("counterName"); n != "cpu.usage.percent.none" {
		t.Errorf("first counter name %v", n)
	}
	r = exec(t, s, vpoller.Request{Method: "host.perf.metric.info", Name: "DC0_C0_H0"})
	if r.Success != 0 || r.Msg != "Successfully retrieved performance metrics" {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	found := false
	for _, x := range r.Result.([]any) {
		o := x.(vpoller.Object)
		if got := strings.Join(o.Keys(), ","); got != "counterId,instance" {
			t.Fatalf("keys %s", got)
		}
		c, _ := o.Get("counterId")
		in, _ := o.Get("instance")
		if c == "cpu.usage.percent.average" && in == "" {
			found = true
		}
	}
	if !found {
		t.Errorf("host.perf.metric.info lacks cpu.usage.percent.average/\"\": %s", r.Encode(vpoller.Python))
	}
	// Historical-only entities list their historical counters.
	r = exec(t, s, vpoller.Request{Method: "cluster.perf.metric.info", Name: "DC0_C0"})
	if r.Success != 0 || len(r.Result.([]any)) == 0 {
		t.Errorf("cluster.perf.metric.info: %s", r.Encode(vpoller.Python))
	}
}

// TestPerfFromSweep: a series is fetched directly once, then answered
// from its latest fetch while that is fresh (the power-state check from
// the mirror): repeated asks cost nothing. Asking for more samples than
// the latest fetch holds fetches again, once.
func TestPerfFromSweep(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	req := vpoller.Request{Method: "host.perf.metric.get", Name: "DC0_C0_H2", CounterName: "cpu.usage.percent.average", MaxSample: 2}
	first := samples(t, exec(t, s, req), req.CounterName, 2) // login, sync, catalogue, provider summary, first fetch
	before := s.Stats()
	for range 5 {
		got := samples(t, exec(t, s, req), req.CounterName, 2)
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("from the sweep %v, first fetch %v", got, first)
		}
	}
	if d, by := calls(before, s.Stats()); d != 0 {
		t.Fatalf("5 repeated perf gets cost %d calls %v, want 0", d, by)
	}
	req.MaxSample = 1 // fewer: still the latest fetch, newest sample
	if got := samples(t, exec(t, s, req), req.CounterName, 1); !reflect.DeepEqual(got[0], first[1]) {
		t.Errorf("max-sample 1 gave %v, want the newest of %v", got, first)
	}
	req.MaxSample = 4
	samples(t, exec(t, s, req), req.CounterName, 4)
	if d, by := calls(before, s.Stats()); d != 1 || by["QueryPerf"] != 1 {
		t.Fatalf("a larger max-sample cost %d calls %v, want 1 QueryPerf", d, by)
	}
	st := s.Stats().Agents["sim"].Objects.Sweep
	if st.Series != 1 || st.Hits != 6 || st.Misses != 2 {
		t.Errorf("sweep stats %+v, want 1 series, 6 hits, 2 misses", st)
	}
}
