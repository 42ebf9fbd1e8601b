package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/goleak"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/lld/helpers"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/worker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(
			// The simulator's HTTP server keeps idle keep-alive connections
			// briefly after Close; they are the simulator's, not ours.
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// buildClient returns the path of the vpoller-client binary, built once
// for the tests that run it and shared with the other test packages (a
// link costs about a second of CPU).
var buildClient = func() func(t *testing.T) string {
	build := sync.OnceValues(func() (string, error) { return testutil.GoBuildShared("../cmd/vpoller-client") })
	return func(t *testing.T) string {
		t.Helper()
		dir, err := build()
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, "vpoller-client")
	}
}()

// agentName is the vSphere agent name clients use for the simulator.
const agentName = "vcsim.local"

// chain is a running proxy + worker in front of a simulated vCenter.
type chain struct {
	frontend    string
	sim         *simulator.Server
	service     *vsphere.Service
	agentConfig vsphere.AgentConfig
	proxy       *proxy.Proxy
	worker      *worker.Worker
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startChain starts the simulator (VPX model), the proxy on free loopback
// ports and one worker whose agent reaches the simulator through the normal
// verified-TLS path with the simulator's certificate pinned.
func startChain(t testing.TB) *chain {
	t.Helper()
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	model.Service.TLS = new(tls.Config)    // TLS with the simulator's self-signed certificate
	model.Service.RegisterEndpoints = true // vCenter's vAPI (REST: tagging), reached over the same pinned TLS
	sim := model.Service.NewServer()
	t.Cleanup(func() { sim.Close(); model.Remove() })

	pass, _ := sim.URL.User.Password()
	agent := vsphere.AgentConfig{
		Name:       agentName,
		Host:       sim.URL.Hostname(),
		Port:       mustPort(t, sim.URL),
		Username:   sim.URL.User.Username(),
		Password:   pass,
		Thumbprint: soap.ThumbprintSHA256(sim.Certificate()),
	}
	svc, err := vsphere.NewService([]vsphere.AgentConfig{agent}, vsphere.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}

	p, err := proxy.New(proxy.Options{
		Frontend:        "tcp://127.0.0.1:0",
		Backend:         "tcp://127.0.0.1:0",
		Mgmt:            "tcp://127.0.0.1:0",
		MaxRequestBytes: 1 << 20,
		Logger:          quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, p)
	w, err := worker.New(svc, worker.Options{Proxy: p.Addrs().Backend, Concurrency: 16, Logger: quiet(),
		Helpers: []string{"vpoller.helpers.zabbix", "vpoller.helpers.czabbix"}, Formatters: helpers.Formatters()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		// Bounded, and reported: a close cut short would leave the
		// agents' goroutines to goleak at the end of the package.
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		if err := svc.Close(cctx); err != nil {
			t.Errorf("closing the worker's vSphere service: %v", err)
		}
	})
	return &chain{frontend: p.Addrs().Frontend, sim: sim, service: svc, agentConfig: agent, proxy: p, worker: w}
}

func mustPort(t testing.TB, u *url.URL) int {
	t.Helper()
	n, err := strconv.Atoi(u.Port())
	if err != nil || n == 0 {
		t.Fatalf("no port in %s", u)
	}
	return n
}

// client is a Go client of the chain, closed when the test ends.
func (c *chain) client(t testing.TB) *client.Client {
	return clienttest.New(t, c.frontend, client.Options{Timeout: 10 * time.Second, Retries: 2, PoolSize: 64})
}

// TestChainAnswers asserts values through client -> proxy -> worker ->
// simulator, compared with what govmomi itself reads from the simulator.
func TestChainAnswers(t *testing.T) {
	c := startChain(t)
	cl := c.client(t)
	ctx := context.Background()

	gc, err := govmomi.NewClient(ctx, c.sim.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Logout(ctx)
	refs := simVMs(t, gc)
	var want []string
	for name := range refs {
		want = append(want, name)
	}
	want = sorted(want)

	resp, err := cl.Call(ctx, &vpoller.Request{Method: "vm.discover", Hostname: agentName})
	if err != nil || resp.Failed() {
		t.Fatalf("vm.discover: %v %+v", err, resp)
	}
	var got []string
	for _, e := range resp.Result.([]any) {
		name, _ := e.(vpoller.Object).Get("name")
		got = append(got, name.(string))
	}
	if strings.Join(sorted(got), ",") != strings.Join(sorted(want), ",") {
		t.Fatalf("vm.discover names %v, govmomi sees %v", got, want)
	}

	raw, err := cl.Do(ctx, (&vpoller.Request{Method: "vm.get", Hostname: agentName, Name: want[0],
		Properties: []string{"runtime.powerState"}, Helper: "vpoller.helpers.czabbix"}).Encode())
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != "\"poweredOn\"\x00" {
		t.Fatalf("czabbix vm.get: %q", raw)
	}

	raw, err = cl.Do(ctx, []byte(`["not", "an", "object"]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"success": 1, "msg": "Expected a JSON message, received <class 'list'>"}` {
		t.Fatalf("bad input reply: %s", raw)
	}
}

// TestPythonClientThroughOurProxyToOurWorker: an ordinary libzmq REQ client
// (python3-zmq, playing the original vpoller-client) sends the Python CLI's
// exact request bytes through our proxy to our worker.
func TestPythonClientThroughOurProxyToOurWorker(t *testing.T) {
	py := testutil.Python(t, false)
	c := startChain(t)
	script := `
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.REQ)
s.setsockopt(zmq.LINGER, 0)
s.connect(sys.argv[1])
for req in sys.argv[2:]:
    s.send(req.encode())
    if not s.poll(15000):
        sys.exit("no reply")
    sys.stdout.buffer.write(s.recv() + b"\n")
`
	reqs := []string{
		`{"method": "vm.get", "hostname": "vcsim.local", "name": "DC0_H0_VM0", "username": null, "password": null, "key": null, "properties": ["runtime.powerState"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`,
		`{"method": "vm.get", "hostname": "vcsim.local", "name": "no-such-vm", "username": null, "password": null, "key": null, "properties": ["runtime.powerState"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": "vpoller.helpers.zabbix"}`,
		`{"method": "no.such", "hostname": "vcsim.local"}`,
	}
	out, err := exec.Command(py, append([]string{"-c", script, c.frontend}, reqs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	want := `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_H0_VM0", "runtime.powerState": "poweredOn"}]}
Cannot find object no-such-vm
{"success": 1, "msg": "Unknown or missing task/method name"}
`
	if string(out) != want {
		t.Fatalf("python client got:\n%s\nwant:\n%s", out, want)
	}
}

// TestCallsPerThousandItems counts the vCenter calls that 1,000 Zabbix
// items cost through the chain once their properties are in the mirror:
// none, one after another or all at once (the original: about 10 per
// item). Properties outside the default set cost a direct read on their
// first request, then join the mirror.
func TestCallsPerThousandItems(t *testing.T) {
	c := startChain(t)
	cl := c.client(t)
	ctx := context.Background()
	names := []string{"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"}
	// Two of these are not in the default watched set.
	props := []string{"runtime.powerState", "summary.quickStats.overallCpuUsage", "config.hardware.numCPU",
		"summary.quickStats.guestMemoryUsage", "config.hardware.memoryMB"}
	for _, n := range names {
		if r, err := cl.Call(ctx, &vpoller.Request{Method: "vm.get", Hostname: agentName, Name: n, Properties: props}); err != nil || r.Failed() {
			t.Fatalf("warm-up: %v %+v", err, r)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	settled := func() bool { // joined, and the generation before torn down
		m := c.service.Stats().Agents[agentName].Objects.Mirror
		return m.WatchedPaths["VirtualMachine"] == len(objects.DefaultWatch()["VirtualMachine"])+2 && m.Retired == m.Syncs-1
	}
	for !settled() {
		if time.Now().After(deadline) {
			t.Fatalf("requested paths did not join: %v", c.service.Stats().Agents[agentName].Objects.Mirror.WatchedPaths)
		}
		time.Sleep(50 * time.Millisecond)
	}
	snapshot := func() map[string]uint64 { return c.service.Stats().Calls }
	reads := func() uint64 { // every call but the mirror's long polls
		st := c.service.Stats()
		return st.SOAPCalls - st.Calls["WaitForUpdatesEx"]
	}
	first := snapshot()
	before := reads()
	for i := 0; i < 1000; i++ {
		req := &vpoller.Request{Method: "vm.get", Hostname: agentName, Name: names[i%len(names)], Properties: props[i%len(props) : i%len(props)+1]}
		if r, err := cl.Call(ctx, req); err != nil || r.Failed() {
			t.Fatalf("item %d: %v %+v", i, err, r)
		}
	}
	sequential := reads() - before

	before = reads()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req := &vpoller.Request{Method: "vm.get", Hostname: agentName, Name: names[i%len(names)], Properties: props[i%len(props) : i%len(props)+1]}
			r, err := cl.Call(ctx, req)
			if err == nil && r.Failed() {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	concurrent := reads() - before
	if sequential != 0 || concurrent != 0 {
		made := map[string]uint64{}
		for m, n := range snapshot() {
			if d := n - first[m]; d > 0 && m != "WaitForUpdatesEx" {
				made[m] = d
			}
		}
		t.Errorf("1000 items cost %d vCenter calls one after another and %d at once, want 0; calls made: %v", sequential, concurrent, made)
	}
	t.Logf("vCenter calls per 1000 items: sequential %d, concurrent %d (original: ~10000)", sequential, concurrent)
}

// TestWarmTemplateCostsNothing runs the shipped VM template's requests of
// two intervals for every VM through the chain: once the mirror holds the
// properties and the sweep the perf series, an interval costs vCenter no
// call but the mirror's long poll.
func TestWarmTemplateCostsNothing(t *testing.T) {
	c := startChain(t)
	cl := c.client(t)
	ctx := context.Background()
	var reqs []*vpoller.Request
	for _, vm := range []string{"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"} {
		reqs = append(reqs, templateRequests(agentName, vm)...)
	}
	interval := func() {
		for _, r := range reqs {
			resp, err := cl.Call(ctx, r)
			if err != nil || resp.Failed() && !strings.HasPrefix(resp.Msg, "No snapshots found for: ") {
				t.Fatalf("%s %s: %v %+v", r.Method, r.Name, err, resp)
			}
		}
	}
	start := time.Now()
	interval()
	before := c.service.Stats()
	interval()
	after := c.service.Stats()
	// Alarm states and tag attachments are not mirrored but read as
	// snapshots for every object, reused for a bound (alarms 20 s, tags
	// 60 s): within it they cost nothing; when the run outlasts a bound
	// (a loaded machine), the one reload it allows, and no more.
	allowed := map[string]uint64{}
	if time.Since(start) >= objects.DefaultAlarmMaxAge {
		allowed["RetrievePropertiesEx"] = 1
	}
	for m, n := range after.Calls {
		if d := n - before.Calls[m]; d > allowed[m] && m != "WaitForUpdatesEx" {
			t.Errorf("the second interval cost %d %s", d, m)
		}
	}
	// Tags: within the 60 s bound of the attachments snapshot and the
	// catalogue, the second interval makes no vAPI call.
	if d := after.RESTCalls - before.RESTCalls; d > 0 && time.Since(start) < time.Minute {
		t.Errorf("the second interval cost %d REST calls", d)
	}
	// The sweep holds every series the template asks: its counters for
	// each of the 4 VMs.
	if st := after.Agents[agentName].Objects; st.Sweep.Series != 4*len(templateCounters) || st.Mirror.Served == 0 {
		t.Errorf("objects figures %+v", st)
	}
}

// TestMirrorValuesEqualDirectReads sends the templates' property requests
// for every object through the chain (answered from the mirror) and to a
// second service with the mirror off on the same simulator (answered from
// vCenter): the replies must be byte for byte the same.
func TestMirrorValuesEqualDirectReads(t *testing.T) {
	c := startChain(t)
	cl := c.client(t)
	ctx := context.Background()
	direct, err := vsphere.NewService([]vsphere.AgentConfig{c.agentConfig}, vsphere.Options{Logger: quiet(),
		Mirror: vsphere.MirrorOptions{Off: true}, Sweep: vsphere.SweepOptions{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	// Reads no longer wait for the mirror's first sync (a cold worker
	// answers from vCenter meanwhile): wait for it here, so that what the
	// test counts is the mirror's, not the cold start's.
	a, _ := c.service.Agent(agentName)
	if err := a.Store().WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	both := func(r *vpoller.Request) string {
		t.Helper()
		viaChain, err := cl.Call(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		got, want := viaChain.Encode(vpoller.Python), direct.Execute(ctx, r).Encode(vpoller.Python)
		if string(got) != string(want) {
			t.Errorf("%s %s %v:\n mirror %s\n direct %s", r.Method, r.Name, r.Properties, got, want)
		}
		return string(got)
	}
	listed := func(method, key string, props ...string) []string {
		raw := both(&vpoller.Request{Method: method, Hostname: agentName, Properties: props})
		resp, err := vpoller.DecodeResponse([]byte(raw))
		if err != nil || resp.Failed() {
			t.Fatalf("%s: %s", method, raw)
		}
		var out []string
		for _, x := range resp.Result.([]any) {
			v, _ := x.(vpoller.Object).Get(key)
			out = append(out, v.(string))
		}
		return out
	}
	for _, vm := range listed("vm.discover", "name", templateMaster...) {
		for _, r := range templateRequests(agentName, vm)[:3] { // perf samples are random on the simulator
			both(r)
		}
	}
	hostProps := []string{"name", "runtime.powerState", "runtime.connectionState", "runtime.inMaintenanceMode", "overallStatus",
		"summary.rebootRequired", "summary.quickStats.overallCpuUsage", "summary.quickStats.overallMemoryUsage",
		"summary.quickStats.uptime", "summary.hardware.cpuMhz", "summary.hardware.numCpuCores", "summary.hardware.numCpuThreads",
		"summary.hardware.memorySize", "summary.hardware.cpuModel", "summary.hardware.vendor", "summary.hardware.model",
		"summary.config.product.fullName"}
	hosts := listed("host.discover", "name", hostProps...)
	for _, h := range hosts {
		both(&vpoller.Request{Method: "host.get", Hostname: agentName, Name: h, Properties: hostProps})
		both(&vpoller.Request{Method: "host.vm.get", Hostname: agentName, Name: h}) // "vm" is watched from the start (the hypervisor template's number of VMs)
	}
	dsProps := []string{"name", "info.url", "summary.capacity", "summary.freeSpace", "summary.uncommitted", "summary.accessible",
		"summary.maintenanceMode", "summary.type", "overallStatus"}
	for _, u := range listed("datastore.discover", "info.url", "info.url") {
		both(&vpoller.Request{Method: "datastore.get", Hostname: agentName, Name: u, Properties: dsProps})
	}
	clProps := []string{"name", "overallStatus", "summary.numHosts", "summary.numEffectiveHosts", "summary.totalCpu",
		"summary.effectiveCpu", "summary.totalMemory", "summary.effectiveMemory"}
	for _, cn := range listed("cluster.discover", "name", clProps...) {
		both(&vpoller.Request{Method: "cluster.get", Hostname: agentName, Name: cn, Properties: clProps})
	}
	for _, dc := range listed("datacenter.discover", "name") {
		both(&vpoller.Request{Method: "datacenter.get", Hostname: agentName, Name: dc, Properties: []string{"name", "overallStatus"}})
	}
	if st := c.service.Stats().Agents[agentName].Objects.Mirror; st.Served == 0 || st.Direct != 0 {
		t.Errorf("the chain read from vCenter (every property here is watched from the start): %+v", st)
	}
}

// simVMs reads every VM's name and reference straight from the simulator
// with govmomi, the reference the chain's answers are compared with.
func simVMs(t testing.TB, gc *govmomi.Client) map[string]types.ManagedObjectReference {
	t.Helper()
	ctx := context.Background()
	v, err := view.NewManager(gc.Client).CreateContainerView(ctx, gc.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Destroy(ctx)
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]types.ManagedObjectReference, len(vms))
	for _, vm := range vms {
		out[vm.Name] = vm.Reference()
	}
	if len(out) == 0 {
		t.Fatal("simulator lists no VMs")
	}
	return out
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// BenchmarkChainVsGovmomi measures, side by side in one run, a vm.get of
// one property through client -> proxy -> worker -> simulator and the same
// property read directly with govmomi's property collector on the same
// simulator, and reports both latencies, their ratio and the vCenter calls
// per 1,000 requests of the chain.
func BenchmarkChainVsGovmomi(b *testing.B) {
	c := startChain(b)
	cl := c.client(b)
	ctx := context.Background()
	req := &vpoller.Request{Method: "vm.get", Hostname: agentName, Name: "DC0_H0_VM0", Properties: []string{"runtime.powerState"}}
	if r, err := cl.Call(ctx, req); err != nil || r.Failed() {
		b.Fatalf("warm-up: %v %+v", err, r)
	}
	gc, err := govmomi.NewClient(ctx, c.sim.URL, true)
	if err != nil {
		b.Fatal(err)
	}
	defer gc.Logout(ctx)
	vm, ok := simVMs(b, gc)["DC0_H0_VM0"]
	if !ok {
		b.Fatal("simulator has no DC0_H0_VM0")
	}
	var chainTime, directTime time.Duration
	calls := c.service.Stats().SOAPCalls
	for b.Loop() {
		t0 := time.Now()
		if r, err := cl.Call(ctx, req); err != nil || r.Failed() {
			b.Fatalf("chain: %v %+v", err, r)
		}
		t1 := time.Now()
		var props []types.ObjectContent
		if err := gc.PropertyCollector().Retrieve(ctx, []types.ManagedObjectReference{vm}, []string{"name", "runtime.powerState"}, &props); err != nil {
			b.Fatal(err)
		}
		directTime += time.Since(t1)
		chainTime += t1.Sub(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(chainTime.Microseconds())/n, "chain-µs/op")
	b.ReportMetric(float64(directTime.Microseconds())/n, "govmomi-µs/op")
	b.ReportMetric(float64(chainTime)/float64(directTime), "chain/govmomi")
	b.ReportMetric(float64(c.service.Stats().SOAPCalls-calls)*1000/n, "vcenter-calls/1000req")
}
