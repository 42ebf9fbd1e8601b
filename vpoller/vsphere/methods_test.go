package vsphere

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	govsession "github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

func TestMethods(t *testing.T) {
	t.Parallel()
	s := shared(t)
	inv := SimulatorInventory("vpx")
	// The datastore URL contains a temporary directory: learn it first.
	ds := exec(t, s, vpoller.Request{Method: "datastore.discover", Properties: []string{"info.url"}})
	dsURL, _ := ds.Result.([]any)[0].(vpoller.Object).Get("info.url")
	url, _ := dsURL.(string)
	if !strings.HasSuffix(url, "/DC0-LocalDS_0") {
		t.Fatalf("datastore url %q", url)
	}
	host := exec(t, s, vpoller.Request{Method: "vm.host.get", Name: inv.VM})
	hostName, _ := host.Result.([]any)[0].(vpoller.Object).Get("host")

	tests := []struct {
		req  vpoller.Request
		msg  string
		want string // exact Python-encoded result, or "" to check names/count only
		n    int    // expected number of result elements (-1: skip)
		has  []string
	}{
		{vpoller.Request{Method: "about"}, "Successfully retrieved properties",
			`[{"fullName": "VMware vCenter Server 6.5.0 build-5973321"}]`, 1, nil},
		{vpoller.Request{Method: "about", Properties: []string{"fullName", "apiVersion", "version", "nosuch"}}, "Successfully retrieved properties",
			`[{"fullName": "VMware vCenter Server 6.5.0 build-5973321", "apiVersion": "6.5", "version": "6.5.0", "nosuch": "(null)"}]`, 1, nil},
		// vcsim does not maintain eventManager.latestEvent: unset -> null.
		{vpoller.Request{Method: "event.latest"}, "Successfully retrieved event", `[{"event": null}]`, 1, nil},
		{vpoller.Request{Method: "datacenter.discover"}, "Successfully discovered objects", `[{"name": "DC0"}]`, inv.Datacenters, nil},
		{vpoller.Request{Method: "cluster.discover"}, "Successfully discovered objects", `[{"name": "DC0_C0"}]`, inv.Clusters, nil},
		{vpoller.Request{Method: "host.discover", Properties: []string{"runtime.connectionState"}}, "Successfully discovered objects",
			`[{"name": "DC0_H0", "runtime.connectionState": "connected"}, {"name": "DC0_C0_H0", "runtime.connectionState": "connected"}, {"name": "DC0_C0_H1", "runtime.connectionState": "connected"}, {"name": "DC0_C0_H2", "runtime.connectionState": "connected"}]`, inv.Hosts, nil},
		{vpoller.Request{Method: "vm.discover", Properties: []string{"runtime.powerState"}}, "Successfully discovered objects",
			`[{"name": "DC0_H0_VM0", "runtime.powerState": "poweredOn"}, {"name": "DC0_H0_VM1", "runtime.powerState": "poweredOn"}, {"name": "DC0_C0_RP0_VM0", "runtime.powerState": "poweredOn"}, {"name": "DC0_C0_RP0_VM1", "runtime.powerState": "poweredOn"}]`, inv.VMs, nil},
		{vpoller.Request{Method: "datastore.discover"}, "Successfully discovered objects", `[{"name": "LocalDS_0"}]`, inv.Datastores, nil},
		{vpoller.Request{Method: "resource.pool.discover"}, "Successfully discovered objects", `[{"name": "Resources"}, {"name": "Resources"}]`, inv.Pools, nil},
		{vpoller.Request{Method: "net.discover"}, "Successfully discovered objects", "", inv.Networks, []string{"VM Network", "DC0_DVPG0"}},
		{vpoller.Request{Method: "datacenter.get", Name: "DC0", Properties: []string{"overallStatus"}}, "Successfully retrieved object properties",
			`[{"name": "DC0", "overallStatus": "green"}]`, 1, nil},
		{vpoller.Request{Method: "cluster.get", Name: "DC0_C0", Properties: []string{"summary.numHosts"}}, "Successfully retrieved object properties",
			`[{"name": "DC0_C0", "summary.numHosts": 3}]`, 1, nil},
		{vpoller.Request{Method: "host.get", Name: "DC0_C0_H0", Properties: []string{"runtime.powerState", "summary.hardware.numCpuCores"}}, "Successfully retrieved object properties",
			`[{"name": "DC0_C0_H0", "runtime.powerState": "poweredOn", "summary.hardware.numCpuCores": 2}]`, 1, nil},
		{vpoller.Request{Method: "vm.get", Name: inv.VM, Properties: []string{"runtime.powerState", "config.hardware.numCPU", "runtime.host"}}, "Successfully retrieved object properties",
			"", 1, []string{inv.VM}},
		{vpoller.Request{Method: "datastore.get", Name: url, Properties: []string{"summary.accessible"}}, "Successfully retrieved object properties",
			`[{"name": "LocalDS_0", "info.url": "` + url + `", "summary.accessible": true}]`, 1, nil},
		{vpoller.Request{Method: "net.get", Name: "VM Network", Properties: []string{"summary.accessible"}}, "Successfully retrieved object properties",
			`[{"name": "VM Network", "summary.accessible": true}]`, 1, nil},
		{vpoller.Request{Method: "host.vm.get", Name: hostName.(string)}, "Successfully discovered objects", "", -1, []string{inv.VM}},
		{vpoller.Request{Method: "host.datastore.get", Name: "DC0_C0_H0"}, "Successfully discovered objects",
			`[{"name": "LocalDS_0", "info.url": "` + url + `"}]`, 1, nil},
		{vpoller.Request{Method: "vm.datastore.get", Name: inv.VM}, "Successfully discovered objects",
			`[{"name": "LocalDS_0", "info.url": "` + url + `"}]`, 1, nil},
		{vpoller.Request{Method: "datastore.host.get", Name: url}, "Successfully discovered objects", "", inv.Hosts, []string{"DC0_H0", "DC0_C0_H2"}},
		{vpoller.Request{Method: "datastore.vm.get", Name: url}, "Successfully discovered objects", "", inv.VMs, []string{"DC0_H0_VM0", inv.VM}},
		{vpoller.Request{Method: "vm.host.get", Name: inv.VM}, "Successfully retrieved object properties",
			`[{"name": "DC0_C0_RP0_VM0", "host": "` + hostName.(string) + `"}]`, 1, nil},
		{vpoller.Request{Method: "host.cluster.get", Name: "DC0_C0_H1"}, "Successfully retrieved properties",
			`[{"name": "DC0_C0_H1", "cluster": "DC0_C0"}]`, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.req.Method+"/"+tc.req.Name, func(t *testing.T) {
			resp := exec(t, s, tc.req)
			if resp.Success != 0 || resp.Msg != tc.msg {
				t.Fatalf("reply %s; want success 0, msg %q", resp.Encode(vpoller.Python), tc.msg)
			}
			got, err := vpoller.Marshal(resp.Result, vpoller.Python)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && string(got) != tc.want {
				t.Errorf("result\n got %s\nwant %s", got, tc.want)
			}
			if tc.n >= 0 && len(resp.Result.([]any)) != tc.n {
				t.Errorf("%d elements, want %d: %s", len(resp.Result.([]any)), tc.n, got)
			}
			have := strings.Join(names(t, resp), "|")
			for _, h := range tc.has {
				if !strings.Contains("|"+have+"|", "|"+h+"|") {
					t.Errorf("names %s lack %s", have, h)
				}
			}
		})
	}
}

func TestVMGetValues(t *testing.T) {
	t.Parallel()
	s := shared(t)
	resp := exec(t, s, vpoller.Request{Method: "vm.get", Name: "DC0_C0_RP0_VM0",
		Properties: []string{"runtime.host", "runtime.powerState", "config.hardware.numCPU", "summary.quickStats", "runtime.bootTime"}})
	obj := resp.Result.([]any)[0].(vpoller.Object)
	if got := strings.Join(obj.Keys(), ","); !strings.HasPrefix(got, "name,runtime.host,runtime.powerState,config.hardware.numCPU,summary.quickStats") {
		t.Fatalf("keys %s: want name first, then request order", got)
	}
	if h, _ := obj.Get("runtime.host"); !strings.HasPrefix(h.(string), "host-") {
		t.Errorf("runtime.host = %v, want a host id", h)
	}
	if n, _ := obj.Get("config.hardware.numCPU"); n != int64(1) {
		t.Errorf("numCPU = %#v", n)
	}
	qs, _ := obj.Get("summary.quickStats")
	if hb, _ := qs.(vpoller.Object).Get("guestHeartbeatStatus"); hb != "gray" {
		t.Errorf("quickStats.guestHeartbeatStatus = %v", hb)
	}
	// The host id from runtime.host is accepted as a lookup key.
	h, _ := obj.Get("runtime.host")
	byID := exec(t, s, vpoller.Request{Method: "host.get", Name: h.(string), Properties: []string{"runtime.powerState"}})
	if byID.Success != 0 || !strings.HasPrefix(names(t, byID)[0], "DC0_") {
		t.Errorf("host.get by id: %s", byID.Encode(vpoller.Python))
	}
}

func TestLookupByIDAndUUID(t *testing.T) {
	t.Parallel()
	s := shared(t)
	r := exec(t, s, vpoller.Request{Method: "vm.get", Name: "DC0_H0_VM1", Properties: []string{"config.instanceUuid", "config.uuid"}})
	obj := r.Result.([]any)[0].(vpoller.Object)
	for _, p := range []string{"config.instanceUuid", "config.uuid"} {
		u, _ := obj.Get(p)
		got := exec(t, s, vpoller.Request{Method: "vm.get", Name: strings.ToUpper(u.(string)), Properties: []string{"runtime.powerState"}})
		if got.Success != 0 || names(t, got)[0] != "DC0_H0_VM1" {
			t.Errorf("lookup by %s: %s", p, got.Encode(vpoller.Python))
		}
	}
}

func TestSessionGet(t *testing.T) {
	t.Parallel()
	s := shared(t)
	r := exec(t, s, vpoller.Request{Method: "session.get"})
	if r.Success != 0 || r.Msg != "Successfully retrieved sessions" {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	list := r.Result.([]any)
	if len(list) != 1 {
		t.Fatalf("%d sessions, want 1 (ours)", len(list))
	}
	obj := list[0].(vpoller.Object)
	if got := strings.Join(obj.Keys(), ","); got != "key,userName,fullName,loginTime,lastActiveTime,ipAddress,userAgent,callCount" {
		t.Errorf("keys %s", got)
	}
	for _, f := range obj {
		if _, ok := f.Value.(string); !ok {
			t.Errorf("%s is %T, want a string", f.Key, f.Value)
		}
	}
	if u, _ := obj.Get("userName"); u != "user" {
		t.Errorf("userName %v", u)
	}
	lt, _ := obj.Get("loginTime")
	if _, err := time.Parse("2006-01-02 15:04:05.999999-07:00", lt.(string)); err != nil {
		t.Errorf("loginTime %q is not Python str(datetime): %v", lt, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := shared(t)
	tests := []struct {
		req vpoller.Request
		msg string
	}{
		{vpoller.Request{Hostname: "sim"}, "Unknown or missing task/method name"},
		{vpoller.Request{Method: "no.such", Hostname: "sim"}, "Unknown or missing task/method name"},
		{vpoller.Request{Method: "vm.get", Hostname: "other", Name: "x", Properties: []string{"name"}}, "Unknown or missing agent name"},
		{vpoller.Request{Method: "vm.get", Name: "x", Properties: []string{"name"}}, "Unknown or missing agent name"},
		{vpoller.Request{Method: "vm.get", Hostname: "SIM", Name: "x", Properties: []string{"name"}}, "Unknown or missing agent name"},
		{vpoller.Request{Method: "vm.get", Hostname: "sim", Name: "DC0_H0_VM0"}, "Invalid task request"},
		{vpoller.Request{Method: "vm.host.get", Hostname: "sim"}, "Invalid task request"},
		{vpoller.Request{Method: "vm.get", Hostname: "sim", Name: "no-such-vm", Properties: []string{"runtime.powerState"}}, "Cannot find object no-such-vm"},
		{vpoller.Request{Method: "host.get", Hostname: "sim", Name: "DC0_H0_VM0", Properties: []string{"name"}}, "Cannot find object DC0_H0_VM0"},
		{vpoller.Request{Method: "datastore.get", Hostname: "sim", Name: "ds:///nope/", Properties: []string{"name"}}, "Cannot find object ds:///nope/"},
		{vpoller.Request{Method: "resource.pool.get", Hostname: "sim", Name: "Resources", Properties: []string{"name"}},
			"Cannot find object Resources: 2 objects have this name (resgroup-"},
	}
	for _, tc := range tests {
		r := s.Execute(context.Background(), &tc.req)
		if r.Success != 1 || !strings.HasPrefix(r.Msg, tc.msg) || r.Result != nil {
			t.Errorf("%+v: got %s, want failure %q", tc.req, r.Encode(vpoller.Python), tc.msg)
		}
	}
	if r := s.Execute(context.Background(), nil); r.Msg != MsgUnknownMethod {
		t.Errorf("nil request: %s", r.Encode(vpoller.Python))
	}
	// The duplicate's ids work as keys.
	r := exec(t, s, vpoller.Request{Method: "resource.pool.get", Name: "Resources", Properties: []string{"name"}})
	id := strings.TrimSuffix(strings.Split(strings.Split(r.Msg, "(")[1], ", ")[0], ")")
	if got := exec(t, s, vpoller.Request{Method: "resource.pool.get", Name: id, Properties: []string{"overallStatus"}}); got.Success != 0 {
		t.Errorf("pool by id %s: %s", id, got.Encode(vpoller.Python))
	}
}

func TestPanicRecovered(t *testing.T) {
	s := newSim(t, Options{})
	orig := handlers["vm.alarm.get"]
	handlers["vm.alarm.get"] = func(context.Context, *Agent, *vpoller.Request) *vpoller.Response { panic("boom") }
	defer func() {
		if orig == nil {
			delete(handlers, "vm.alarm.get")
		} else {
			handlers["vm.alarm.get"] = orig
		}
	}()
	r := exec(t, s, vpoller.Request{Method: "vm.alarm.get", Name: "x"})
	if r.Success != 1 || r.Msg != "Task vm.alarm.get failed" || !strings.Contains(r.Traceback, "panic: boom") || !strings.Contains(r.Traceback, "goroutine") {
		t.Fatalf("got %s", r.Encode(vpoller.Python))
	}
	// The service keeps working.
	if r := exec(t, s, vpoller.Request{Method: "about"}); r.Success != 0 {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
}

// calls counts SOAP calls by method between two Stats, leaving out the
// mirror's long polls (which run on their own schedule).
func calls(before, after Stats) (requests uint64, byMethod map[string]uint64) {
	byMethod = map[string]uint64{}
	for m, n := range after.Calls {
		if d := n - before.Calls[m]; d > 0 && m != "WaitForUpdatesEx" {
			byMethod[m] = d
			requests += d
		}
	}
	return requests, byMethod
}

// TestWarmVMGetFromMirror: warm gets of watched properties and discovery
// cost vCenter nothing; with the mirror off, each get costs one call.
func TestWarmVMGetFromMirror(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		want uint64 // RetrievePropertiesEx per get
	}{
		{"mirror", Options{}, 0},
		{"mirror off", direct, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, tc.opts)
			req := vpoller.Request{Method: "vm.get", Name: "DC0_C0_RP0_VM1", Properties: []string{"runtime.powerState", "summary.config.numCpu"}}
			agent(t, s) // connect, login, first sync
			exec(t, s, req)
			before := s.Stats()
			const n = 10
			for i := 0; i < n; i++ {
				r := exec(t, s, req)
				if got := string(r.Encode(vpoller.Python)); got != `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_C0_RP0_VM1", "runtime.powerState": "poweredOn", "summary.config.numCpu": 1}]}` {
					t.Fatal(got)
				}
			}
			total, by := calls(before, s.Stats())
			if total != tc.want*n || by["RetrievePropertiesEx"] != tc.want*n {
				t.Fatalf("%d warm vm.get cost %d SOAP calls %v, want %d RetrievePropertiesEx", n, total, by, tc.want*n)
			}
			// Discovery of names is answered by the index.
			before = s.Stats()
			exec(t, s, vpoller.Request{Method: "vm.discover"})
			if d, by := calls(before, s.Stats()); d != 0 {
				t.Errorf("vm.discover cost %d calls %v, want 0", d, by)
			}
		})
	}
}

func TestCoalescing(t *testing.T) {
	t.Parallel()
	s := newSim(t, direct, func(m *simulator.Model) {
		m.DelayConfig.MethodDelay = map[string]int{"RetrievePropertiesEx": 300}
	})
	req := vpoller.Request{Method: "vm.get", Name: "DC0_C0_RP0_VM1", Properties: []string{"runtime.powerState"}}
	a := agent(t, s) // connect and sync first
	lookup(t, a, objects.VM, req.Name)
	before := s.Stats()
	const n = 20
	var wg sync.WaitGroup
	replies := make([]*vpoller.Response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = exec(t, s, req)
		}()
	}
	wg.Wait()
	after := s.Stats()
	for _, r := range replies {
		if r.Success != 0 || !reflect.DeepEqual(names(t, r), []string{"DC0_C0_RP0_VM1"}) {
			t.Fatal(string(r.Encode(vpoller.Python)))
		}
	}
	got := after.Calls["RetrievePropertiesEx"] - before.Calls["RetrievePropertiesEx"]
	if got != 1 || after.Coalesced-before.Coalesced != n-1 {
		t.Fatalf("%d identical concurrent requests: %d RetrievePropertiesEx, %d coalesced; want 1 and %d", n, got, after.Coalesced-before.Coalesced, n-1)
	}
}

// TestSessionDroppedSurvived: another user terminates the worker's
// vCenter session; requests keep working after one re-login, and the
// mirror serves again once it has synced in the new session.
func TestSessionDroppedSurvived(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{Mirror: MirrorOptions{Wait: time.Second, MaxAge: 3 * time.Second}})
	a := agent(t, s)
	ctx := context.Background()
	vc, _ := a.Client(ctx)
	ours, err := govsession.NewManager(vc).UserSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin(t, a).SessionManager.TerminateSession(ctx, []string{ours.Key}); err != nil {
		t.Fatal(err)
	}
	req := vpoller.Request{Method: "vm.get", Name: "DC0_H0_VM0", Properties: []string{"runtime.powerState"}}
	for _, r := range []vpoller.Request{req, {Method: "session.get"}, {Method: "host.get", Name: "DC0_H0", Properties: []string{"name"}}} {
		if got := exec(t, s, r); got.Success != 0 {
			t.Fatalf("%s after the session was dropped: %s", r.Method, got.Encode(vpoller.Python))
		}
	}
	eventually(t, 5*time.Second, "mirror current again", func() bool {
		return s.Stats().Agents["sim"].Objects.Mirror.State == "current"
	})
	if st := s.Stats(); st.Logins != 2 {
		t.Fatalf("logins %d, want 2 (first + one re-login)", st.Logins)
	}
	before := s.Stats()
	exec(t, s, req)
	if d, by := calls(before, s.Stats()); d != 0 {
		t.Errorf("vm.get after the resync cost %d calls %v", d, by)
	}
}

func TestLazyAndClose(t *testing.T) {
	t.Parallel()
	s, err := NewService([]AgentConfig{{Name: "b", Simulator: true}, {Name: "a", Simulator: true, SimulatorModel: "esx"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Agents(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Agents %v", got)
	}
	if st := s.Stats(); st.SOAPCalls != 0 {
		t.Errorf("NewService made %d calls", st.SOAPCalls)
	}
	inv := SimulatorInventory("esx")
	r := s.Execute(context.Background(), &vpoller.Request{Method: "vm.discover", Hostname: "a"})
	if r.Success != 0 || len(names(t, r)) != inv.VMs || names(t, r)[0] != inv.VM {
		t.Errorf("esx vm.discover: %s", r.Encode(vpoller.Python))
	}
	r = s.Execute(context.Background(), &vpoller.Request{Method: "host.discover", Hostname: "a"})
	if r.Success != 0 || !reflect.DeepEqual(names(t, r), []string{inv.Host}) {
		t.Errorf("esx host.discover: %s", r.Encode(vpoller.Python))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = s.Execute(context.Background(), &vpoller.Request{Method: "about", Hostname: "a"})
	if r.Success != 1 || r.Traceback != session.ErrClosed.Error() || !errors.Is(r.Cause, session.ErrClosed) {
		t.Errorf("after Close: %s", r.Encode(vpoller.Python))
	}
}

func TestSimulatorInventoryMatches(t *testing.T) {
	t.Parallel()
	s := shared(t)
	inv := SimulatorInventory("vpx")
	for m, want := range map[string]int{"datacenter.discover": inv.Datacenters, "cluster.discover": inv.Clusters,
		"host.discover": inv.Hosts, "vm.discover": inv.VMs, "datastore.discover": inv.Datastores,
		"resource.pool.discover": inv.Pools, "net.discover": inv.Networks} {
		if got := len(names(t, exec(t, s, vpoller.Request{Method: m}))); got != want {
			t.Errorf("%s: %d objects, documented %d", m, got, want)
		}
	}
}
