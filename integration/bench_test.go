package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// The shipped VM template's requests per VM per interval (templates/vm.go,
// vpoller_vm.yaml): two vpoller.get master items, the snapshot master, the
// alarms, tags and custom attributes masters, the hypervisor name
// (vm.host.get), and eleven real-time perf items (CPU usage, network, CPU
// ready, co-stop; CPU latency, readiness, swap wait, memory usage,
// consumed, swapped, guest OS uptime).
// TestBenchRequestsAreTheTemplates checks them against the shipped
// template. Its discovery rules run hourly and are not part of an
// interval.
var (
	templateMaster = []string{"name", "runtime.powerState", "runtime.connectionState", "overallStatus",
		"runtime.consolidationNeeded", "guest.toolsRunningStatus", "guest.guestState", "summary.config.numCpu",
		"summary.config.memorySizeMB", "summary.config.guestFullName", "summary.quickStats.overallCpuUsage",
		"summary.quickStats.guestMemoryUsage", "summary.quickStats.hostMemoryUsage", "summary.quickStats.uptimeSeconds",
		"summary.quickStats.balloonedMemory", "summary.quickStats.swappedMemory", "summary.quickStats.compressedMemory",
		"summary.storage.committed", "summary.storage.uncommitted", "guest.ipAddress", "guest.hostName",
		"guest.toolsVersion", "guest.toolsVersionStatus2", "summary.quickStats.privateMemory",
		"summary.quickStats.sharedMemory", "summary.storage.unshared", "runtime.bootTime", "cluster", "hostMaintenance"}
	templateGuest    = []string{"name", "guest.disk", "guest.net"}
	templateCounters = []string{"cpu.usage.percent.average", "net.usage.kiloBytesPerSecond.average",
		"cpu.ready.millisecond.summation", "cpu.costop.millisecond.summation",
		// Zabbix Guest parity (templates/vm.go, vmParityPerf).
		"cpu.latency.percent.average", "cpu.readiness.percent.average", "cpu.swapwait.millisecond.summation",
		"mem.usage.percent.average", "mem.consumed.kiloBytes.average", "mem.swapped.kiloBytes.average",
		"sys.osUptime.second.latest"}
)

// The VM template's per-instance perf items: per virtual disk and per
// virtual NIC (discovered with vm.vdisk.discover and vm.vnic.discover),
// polled every {$VPOLLER.PERF.INSTANCE.INTERVAL} (instanceEvery template
// intervals).
var (
	vdiskCounters = []string{"virtualDisk.totalReadLatency.millisecond.average", "virtualDisk.totalWriteLatency.millisecond.average",
		"virtualDisk.numberReadAveraged.number.average", "virtualDisk.numberWriteAveraged.number.average",
		"virtualDisk.read.kiloBytesPerSecond.average", "virtualDisk.write.kiloBytesPerSecond.average",
		"virtualDisk.readOIO.number.latest", "virtualDisk.writeOIO.number.latest"}
	vnicCounters = []string{"net.bytesRx.kiloBytesPerSecond.average", "net.bytesTx.kiloBytesPerSecond.average",
		"net.packetsRx.number.summation", "net.packetsTx.number.summation",
		"net.droppedRx.number.summation", "net.droppedTx.number.summation", "net.usage.kiloBytesPerSecond.average"}
	instanceDiscoveries = map[string][]string{"vm.vdisk.discover": vdiskCounters, "vm.vnic.discover": vnicCounters}
)

// instanceEvery is {$VPOLLER.PERF.INSTANCE.INTERVAL} (5m) in template
// intervals (1m).
const instanceEvery = 5

// instanceRequests discovers every VM's virtual disks and NICs through the
// chain, as the template's discoveries do, and returns the per-instance
// perf requests of one {$VPOLLER.PERF.INSTANCE.INTERVAL}.
func instanceRequests(ctx context.Context, b *testing.B, cl *client.Client, vms []string) []*vpoller.Request {
	b.Helper()
	var out []*vpoller.Request
	for _, vm := range vms {
		for method, counters := range instanceDiscoveries {
			r, err := cl.Call(ctx, &vpoller.Request{Method: method, Hostname: benchAgent, Name: vm})
			if err != nil || r.Failed() {
				b.Fatalf("%s %s: %v %+v", method, vm, err, r)
			}
			list, _ := r.Result.([]any)
			for _, el := range list {
				obj, _ := el.(vpoller.Object)
				inst, _ := obj.Get("instance")
				for _, c := range counters {
					out = append(out, &vpoller.Request{Method: "vm.perf.metric.get", Hostname: benchAgent, Name: vm,
						Properties: []string{"value"}, CounterName: c, Instance: fmt.Sprint(inst), MaxSample: 1})
				}
			}
		}
	}
	return out
}

// templateRequests are one VM's requests of one interval, as the plugin
// sends them.
func templateRequests(agent, vm string) []*vpoller.Request {
	out := []*vpoller.Request{
		{Method: "vm.get", Hostname: agent, Name: vm, Properties: templateMaster},
		{Method: "vm.get", Hostname: agent, Name: vm, Properties: templateGuest},
		{Method: "vm.snapshot.get", Hostname: agent, Name: vm},
		{Method: "vm.alarm.get", Hostname: agent, Name: vm},
		{Method: "vm.tag.get", Hostname: agent, Name: vm},
		{Method: "vm.attribute.get", Hostname: agent, Name: vm},
		// CBT, snapshot size, backup age.
		{Method: "vm.backup.get", Hostname: agent, Name: vm, Key: templateBackupAttribute},
		{Method: "vm.host.get", Hostname: agent, Name: vm},
	}
	for _, c := range templateCounters {
		out = append(out, &vpoller.Request{Method: "vm.perf.metric.get", Hostname: agent, Name: vm,
			Properties: []string{"value"}, CounterName: c, MaxSample: 1})
	}
	return out
}

// templateBackupAttribute is the VM template's default
// {$VSPHERE.VM.BACKUP.ATTRIBUTE}, the key of its vm.backup.get item.
const templateBackupAttribute = "Last Backup"

// templateKey is the Zabbix item key the template uses for a request.
func templateKey(r *vpoller.Request) string {
	obj := "{$VSPHERE.HOST},{$VSPHERE.VM.NAME}"
	switch {
	case r.Key == templateBackupAttribute:
		return "vpoller.get[" + r.Method + "," + obj + ",,{$VSPHERE.VM.BACKUP.ATTRIBUTE}]"
	case r.CounterName != "":
		return "vpoller.poll[" + r.Method + "," + obj + ",value,,,," + r.CounterName + "]"
	case len(r.Properties) > 0:
		return "vpoller.get[" + r.Method + "," + obj + `,"` + strings.Join(r.Properties, ",") + `"]`
	}
	return "vpoller.get[" + r.Method + "," + obj + "]"
}

// TestBenchRequestsAreTheTemplates: the bench's load is exactly the
// per-interval items of the shipped VM template.
func TestBenchRequestsAreTheTemplates(t *testing.T) {
	raw, err := os.ReadFile("../templates/vpoller_vm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys, instKeys := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		k, ok := strings.CutPrefix(line, "key: ")
		switch {
		case !ok || !(strings.HasPrefix(k, "vpoller.get[") || strings.HasPrefix(k, "vpoller.poll[")):
		case strings.Contains(k, "{#VSPHERE.VM.VDISK.INSTANCE}") || strings.Contains(k, "{#VSPHERE.VM.VNIC.INSTANCE}"):
			instKeys[k] = true // per-instance prototypes, every {$VPOLLER.PERF.INSTANCE.INTERVAL}
		default:
			keys[k] = true
		}
	}
	nInst := 0
	for method, counters := range instanceDiscoveries {
		macro := map[string]string{"vm.vdisk.discover": "{#VSPHERE.VM.VDISK.INSTANCE}", "vm.vnic.discover": "{#VSPHERE.VM.VNIC.INSTANCE}"}[method]
		for _, c := range counters {
			nInst++
			k := "vpoller.poll[vm.perf.metric.get,{$VSPHERE.HOST},{$VSPHERE.VM.NAME},value,,,," + c + "," + macro + "]"
			if !instKeys[k] {
				t.Errorf("the template has no item prototype %s", k)
			}
		}
	}
	if len(instKeys) != nInst {
		t.Errorf("the template has %d per-instance perf prototypes, the bench %d: %v", len(instKeys), nInst, instKeys)
	}
	if !strings.Contains(string(raw), "macro: '{$VPOLLER.PERF.INSTANCE.INTERVAL}'\n          value: "+fmt.Sprint(instanceEvery)+"m") {
		t.Errorf("the template's {$VPOLLER.PERF.INSTANCE.INTERVAL} is not %dm as the bench's instanceEvery", instanceEvery)
	}
	if !strings.Contains(string(raw), "macro: '{$VSPHERE.VM.BACKUP.ATTRIBUTE}'\n          value: "+templateBackupAttribute+"\n") {
		t.Errorf("the template's {$VSPHERE.VM.BACKUP.ATTRIBUTE} is not %q as the bench's", templateBackupAttribute)
	}
	var want []string
	for _, r := range templateRequests("a", "b") {
		want = append(want, templateKey(r))
		if !keys[templateKey(r)] {
			t.Errorf("the template has no item %s", templateKey(r))
		}
	}
	if len(keys) != len(want) {
		t.Errorf("the template polls %d keys per interval, the bench %d:\n%v\n%v", len(keys), len(want), keys, want)
	}
}

// benchConfig is one run of BenchmarkTemplateLoad.
type benchConfig struct {
	vms   int
	scale int           // time compression: the simulator's real-time period is 20 s / scale
	every time.Duration // the template's interval (1 m) compressed
	wait  int           // mirror_wait, seconds
}

func (c benchConfig) period() time.Duration { return 20 * time.Second / time.Duration(c.scale) }

// BenchmarkTemplateLoad puts the shipped VM template's load on a
// simulated vCenter of BENCH_VMS VMs (default 1,000) through client ->
// our proxy -> a vpoller-worker process, and prints, each beside its
// reference: SOAP and REST (vAPI: tags) calls per interval per 1,000 VMs
// (requests one after another, and all at once), the p50 of vm.get through the chain against
// a direct govmomi RetrievePropertiesEx on the same simulator, QueryPerf
// calls per sample period against ceil(series/pack) (pack: the sweep's
// realtime pack size, objects.RealtimePack), the worker's RSS and
// its first full sync. Run it once: -benchtime 1x (scripts/bench.sh).
//
// Time is compressed BENCH_SCALE times (default 10): the simulated
// vCenter reports a real-time sample period of 20/BENCH_SCALE s, the
// template's 1 m interval lasts 60/BENCH_SCALE s and the worker's
// mirror_wait is 20/BENCH_SCALE s; every figure per interval or per
// sample period is the one of a real-time run (BENCH_SCALE=1).
func BenchmarkTemplateLoad(b *testing.B) {
	cfg := benchConfig{vms: envInt(b, "BENCH_VMS", 1000), scale: envInt(b, "BENCH_SCALE", 10)}
	if 20%cfg.scale != 0 {
		b.Fatalf("BENCH_SCALE=%d: want a divisor of 20", cfg.scale)
	}
	cfg.every, cfg.wait = time.Minute/time.Duration(cfg.scale), 20/cfg.scale
	ctx := context.Background()

	t0 := time.Now()
	sim := startBenchSim(b, cfg)
	b.Logf("simulator with %d VMs created in %v", cfg.vms, time.Since(t0).Round(time.Second))
	frontend := startBenchProxy(b)
	bin := buildWorker(b)
	cl := clienttest.New(b, frontend, client.Options{Timeout: 15 * time.Second, Retries: 1, PoolSize: 256, MaxIdle: 64})
	var reqs []*vpoller.Request
	for _, vm := range sim.vms {
		reqs = append(reqs, templateRequests(benchAgent, vm)...)
	}
	shuffle(reqs) // Zabbix spreads a host's items over the interval
	per1000 := func(calls float64) float64 { return calls * 1000 / float64(cfg.vms) }
	rep := &report{cfg: cfg}

	// The turn-2 behaviour for reference, in the same run: mirror and
	// sweep off (lookups from the index, batched direct reads), on the
	// first 100 VMs (its cost is per VM; the simulator could not answer
	// the direct reads of all of them one after another in time).
	{
		n := min(100, cfg.vms)
		var sub []*vpoller.Request
		for _, vm := range sim.vms[:n] {
			sub = append(sub, templateRequests(benchAgent, vm)...)
		}
		shuffle(sub)
		w := startWorker(b, bin, sim, frontend, cfg, false)
		w.waitSynced(b, cl, cfg.vms)
		runIntervals(ctx, b, cl, sub, cfg.every, false, 1) // warm-up: logins, catalogue
		calls := sim.calls.measure(func() { runIntervals(ctx, b, cl, sub, cfg.every, false, 1) })
		rep.offSequential = float64(calls.total()) * 1000 / float64(n)
		rep.offVMs = n
		w.stop(b)
	}

	w := startWorker(b, bin, sim, frontend, cfg, true)
	rep.firstSync = w.waitSynced(b, cl, cfg.vms)

	// One after another: every request at its own moment of the interval.
	runIntervals(ctx, b, cl, reqs, cfg.every, false, 2) // first asks, then the sweep learns the pace
	const measured = 2
	h0, r0 := w.sweepCounts(b), w.restCalls(b)
	seq := sim.calls.measure(func() { runIntervals(ctx, b, cl, reqs, cfg.every, false, measured) })
	rep.sequential, rep.seqByMethod, rep.seqSweep = per1000(float64(seq.total())/measured), seq, w.sweepCounts(b).minus(h0)
	rep.seqREST = per1000((w.restCalls(b) - r0) / measured)

	// All at once at the start of each interval.
	runIntervals(ctx, b, cl, reqs, cfg.every, true, 2)
	h0, r0 = w.sweepCounts(b), w.restCalls(b)
	once := sim.calls.measure(func() { runIntervals(ctx, b, cl, reqs, cfg.every, true, measured) })
	rep.atOnce, rep.onceByMethod, rep.onceSweep = per1000(float64(once.total())/measured), once, w.sweepCounts(b).minus(h0)
	rep.onceREST = per1000((w.restCalls(b) - r0) / measured)
	rep.rss, rep.hwm = w.rss(b)

	// Perf: every series of the template asked every sample period.
	var perf []*vpoller.Request
	for _, r := range reqs {
		if r.CounterName != "" {
			perf = append(perf, r)
		}
	}
	runIntervals(ctx, b, cl, perf, cfg.period(), true, 3)
	const periods = 3
	pc := sim.calls.measure(func() { runIntervals(ctx, b, cl, perf, cfg.period(), true, periods) })
	rep.series, rep.perfPerPeriod = len(perf), float64(pc["QueryPerf"])/periods

	// Per-instance perf: the instance discoveries (twice: the second pass
	// is what every later discovery costs), then every instance's
	// counters asked once per {$VPOLLER.PERF.INSTANCE.INTERVAL}.
	instanceRequests(ctx, b, cl, sim.vms)
	var inst []*vpoller.Request
	dc := sim.calls.measure(func() { inst = instanceRequests(ctx, b, cl, sim.vms) })
	rep.instDiscoveryCalls = per1000(float64(dc.total()))
	shuffle(inst)
	// Two rounds before the measured one: the first asks, then the sweep
	// learns the 5-interval pace from the second (until then it fetches a
	// series every sample period).
	runIntervals(ctx, b, cl, inst, instanceEvery*cfg.every, false, 2)
	ic := sim.calls.measure(func() { runIntervals(ctx, b, cl, inst, instanceEvery*cfg.every, false, 1) })
	rep.instSeries, rep.instQueryPerf = len(inst), per1000(float64(ic["QueryPerf"]))

	// vm.get through the chain against govmomi on the same simulator.
	rep.chainP50, rep.directP50 = latencies(ctx, b, cl, sim, 2000)
	rep.status = w.agentStatus(b)
	w.stop(b)
	rep.print(os.Stdout)
	b.ReportMetric(rep.sequential, "calls/interval/1000VMs")
	b.ReportMetric(rep.atOnce, "calls-at-once/interval/1000VMs")
	b.ReportMetric(rep.seqREST, "REST-calls/interval/1000VMs")
	b.ReportMetric(rep.chainP50/rep.directP50, "p50-chain/govmomi")
	b.ReportMetric(rep.perfPerPeriod/perfFloor(rep.series), "QueryPerf/ceil(series/pack)")
	b.ReportMetric(float64(rep.rss)/(1<<20), "worker-RSS-MB")
	b.ReportMetric(rep.instQueryPerf/instanceEvery, "instance-QueryPerf/interval/1000VMs")
	for b.Loop() {
	}
}

// benchAgent is the agent name of the simulator: the worker's host files
// name an agent by the address it connects to.
const benchAgent = "127.0.0.1"

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// shuffle orders requests deterministically but not VM by VM.
func shuffle(reqs []*vpoller.Request) {
	x := uint64(88172645463325252)
	for i := len(reqs) - 1; i > 0; i-- {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		j := int(x % uint64(i+1))
		reqs[i], reqs[j] = reqs[j], reqs[i]
	}
}

// callCounter counts the SOAP calls the simulator receives, by method,
// on the simulator's side.
type callCounter struct {
	mu sync.Mutex
	n  map[string]uint64
}

type callCounts map[string]uint64

func (c callCounts) total() (n uint64) {
	for _, v := range c {
		n += v
	}
	return n
}

func (c *callCounter) add(method string) {
	c.mu.Lock()
	c.n[method]++
	c.mu.Unlock()
}

func (c *callCounter) snapshot() callCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := callCounts{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// measure returns the calls made while f runs.
func (c *callCounter) measure(f func()) callCounts {
	before := c.snapshot()
	f()
	out := callCounts{}
	for k, v := range c.snapshot() {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

type benchSim struct {
	agent  string // the agent name clients use: the address it listens on
	server *simulator.Server
	model  *simulator.Model
	calls  *callCounter
	vms    []string
	vmRefs map[string]types.ManagedObjectReference
}

// scaledPerf is the simulator's performance manager with a real-time
// sample period of 20/scale s: a vCenter whose clock runs scale times
// faster, so that a bench of several intervals takes seconds. It replaces
// the manager in the simulator's registry (govmomi's documented way to
// extend the simulator).
type scaledPerf struct {
	*simulator.PerformanceManager
	rate int32
}

func (p *scaledPerf) QueryPerfProviderSummary(ctx *simulator.Context, req *types.QueryPerfProviderSummary) soap.HasFault {
	res := p.PerformanceManager.QueryPerfProviderSummary(ctx, req)
	if body, ok := res.(*methods.QueryPerfProviderSummaryBody); ok && body.Res != nil && body.Res.Returnval.RefreshRate > 0 {
		body.Res.Returnval.RefreshRate = p.rate
	}
	return res
}

func startBenchSim(b *testing.B, cfg benchConfig) *benchSim {
	b.Helper()
	return startBenchSimOn(b, cfg, benchAgent)
}

// startBenchSimOn starts a simulated vCenter of cfg.vms VMs listening on
// addr (a loopback address: 127.0.0.1, 127.0.0.2, ...), which is also its
// agent name.
func startBenchSimOn(b *testing.B, cfg benchConfig, addr string) *benchSim {
	b.Helper()
	m := simulator.VPX()
	m.Host, m.ClusterHost, m.Machine = 0, max(4, cfg.vms/50), cfg.vms
	if err := m.Create(); err != nil {
		b.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.RegisterEndpoints = true // vCenter's vAPI (REST: tagging), for the template's tag items
	m.Service.Listen = &url.URL{Host: addr + ":0"}
	s := &benchSim{agent: addr, model: m, calls: &callCounter{n: map[string]uint64{}}, vmRefs: map[string]types.ManagedObjectReference{}}
	if cfg.scale != 1 {
		pm := m.Map().Get(*m.ServiceContent.PerfManager).(*simulator.PerformanceManager)
		m.Map().Put(&scaledPerf{pm, int32(20 / cfg.scale)})
	}
	m.Map().Handler = func(_ *simulator.Context, method *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		s.calls.add(method.Name)
		return nil, nil
	}
	for _, o := range m.Map().All("VirtualMachine") {
		vm := o.(*simulator.VirtualMachine)
		s.vms = append(s.vms, vm.Name)
		s.vmRefs[vm.Name] = vm.Self
	}
	sort.Strings(s.vms)
	s.server = m.Service.NewServer()
	b.Cleanup(func() { s.server.Close(); m.Remove() })
	return s
}

func startBenchProxy(b *testing.B) string {
	b.Helper()
	p, err := proxy.New(proxy.Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "tcp://127.0.0.1:0",
		MaxRequestBytes: 1 << 20, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	testutil.Serve(b, p)
	benchBackend = p.Addrs().Backend
	return p.Addrs().Frontend
}

var benchBackend string

func buildWorker(b *testing.B) string {
	b.Helper()
	return testutil.Build(b, b.TempDir(), "../cmd/vpoller-worker")
}

// benchWorker is a vpoller-worker process serving the simulator.
type benchWorker struct {
	cmd  *exec.Cmd
	mgmt string
	log  string
	done chan error
}

func startWorker(b *testing.B, bin string, sim *benchSim, frontend string, cfg benchConfig, mirror bool) *benchWorker {
	b.Helper()
	return startWorkerFor(b, bin, []*benchSim{sim}, benchBackend, cfg, mirror)
}

// startWorkerFor starts a vpoller-worker process serving sims, connected
// to the proxy backends (comma-separated).
func startWorkerFor(b *testing.B, bin string, sims []*benchSim, backends string, cfg benchConfig, mirror bool) *benchWorker {
	b.Helper()
	dir := b.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "vsphere.d"), 0o700); err != nil {
		b.Fatal(err)
	}
	for _, sim := range sims {
		pass, _ := sim.server.URL.User.Password()
		host := fmt.Sprintf("hostname = %s\nport = %s\nusername = %s\npassword = %s\nthumbprint = %s\n",
			sim.server.URL.Hostname(), sim.server.URL.Port(), sim.server.URL.User.Username(), pass,
			soap.ThumbprintSHA256(sim.server.Certificate()))
		if err := os.WriteFile(filepath.Join(dir, "vsphere.d", sim.agent+".conf"), []byte(host), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	w := &benchWorker{mgmt: "ipc://" + filepath.Join(dir, "mgmt.sock"), log: filepath.Join(dir, "worker.log"), done: make(chan error, 1)}
	conf := fmt.Sprintf("[worker]\nproxy = %s\nmgmt = %s\nvsphere_hosts_dir = vsphere.d\nmirror = %v\nperf_sweep = %v\nmirror_wait = %d\nmirror_max_age = %d\n",
		backends, w.mgmt, mirror, mirror, cfg.wait, 3*cfg.wait)
	if err := os.WriteFile(filepath.Join(dir, "vpoller.conf"), []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	logf, err := os.Create(w.log)
	if err != nil {
		b.Fatal(err)
	}
	w.cmd = exec.Command(bin, "-f", filepath.Join(dir, "vpoller.conf"), "start")
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	if err := w.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait(); logf.Close() }()
	b.Cleanup(func() { w.stop(b) })
	return w
}

func (w *benchWorker) stop(b *testing.B) {
	if w.cmd.ProcessState != nil || w.cmd.Process == nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// status is the worker's management status result.
func (w *benchWorker) status(b *testing.B) vpoller.Object {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := mgmt.Call(ctx, w.mgmt, "status", 5*time.Second, nil)
	if err != nil {
		return nil
	}
	r, err := vpoller.DecodeResponse(raw)
	if err != nil {
		b.Fatal(err)
	}
	obj, _ := r.Result.(vpoller.Object)
	return obj
}

// agentStatus is the worker status's figures of the bench agent.
func (w *benchWorker) agentStatus(b *testing.B) vpoller.Object {
	b.Helper()
	return w.agentStatusOf(b, benchAgent)
}

// agentStatusOf is the worker status's figures of one agent.
func (w *benchWorker) agentStatusOf(b *testing.B, agent string) vpoller.Object {
	b.Helper()
	st := w.status(b)
	vs, _ := st.Get("vsphere")
	vo, _ := vs.(vpoller.Object)
	agents, _ := vo.Get("agents")
	ao, _ := agents.(vpoller.Object)
	a, _ := ao.Get(agent)
	obj, _ := a.(vpoller.Object)
	return obj
}

// sweepCounts are the sweep's hits and misses so far.
type sweepCounts struct{ hits, misses float64 }

func (a sweepCounts) minus(b sweepCounts) sweepCounts {
	return sweepCounts{a.hits - b.hits, a.misses - b.misses}
}

func (a sweepCounts) String() string {
	return fmt.Sprintf("perf asks from the sweep %.0f, fetched on demand %.0f", a.hits, a.misses)
}

func (w *benchWorker) sweepCounts(b *testing.B) sweepCounts {
	a := w.agentStatus(b)
	return sweepCounts{num(a, "sweep_hits"), num(a, "sweep_misses")}
}

// restCalls is the agent's vAPI (REST) calls so far (the tag methods').
func (w *benchWorker) restCalls(b *testing.B) float64 { return num(w.agentStatus(b), "rest_calls") }

func num(o vpoller.Object, key string) float64 {
	v, _ := o.Get(key)
	if n, ok := v.(json.Number); ok {
		f, _ := n.Float64()
		return f
	}
	return math.NaN()
}

// waitSynced starts the worker's agent with one discovery, waits until
// its mirror holds the inventory and returns the first full sync.
func (w *benchWorker) waitSynced(b *testing.B, cl *client.Client, vms int) firstSync {
	b.Helper()
	deadline := time.Now().Add(15 * time.Minute)
	_, _ = cl.Call(context.Background(), &vpoller.Request{Method: "vm.discover", Hostname: benchAgent})
	for time.Now().Before(deadline) {
		select {
		case err := <-w.done:
			log, _ := os.ReadFile(w.log)
			b.Fatalf("worker exited: %v\n%s", err, log)
		default:
		}
		if a := w.agentStatus(b); a != nil {
			if m, _ := a.Get("mirror"); (m == "current" || m == "off") && num(a, "objects") >= float64(vms) {
				return firstSync{ms: num(a, "first_sync_ms"), calls: num(a, "first_sync_calls"), objects: num(a, "objects")}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatal("worker mirror not synced")
	return firstSync{}
}

// rss reads the worker's resident set size and its peak.
func (w *benchWorker) rss(b *testing.B) (rss, hwm uint64) {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				rss = n << 10
			case "VmHWM:":
				hwm = n << 10
			}
		}
	}
	return rss, hwm
}

// runIntervals sends reqs n times, once per interval: spread evenly over
// it (one after another, as Zabbix schedules items), or all at once at
// its start; then waits for the interval's end.
func runIntervals(ctx context.Context, b *testing.B, cl *client.Client, reqs []*vpoller.Request, every time.Duration, atOnce bool, n int) {
	b.Helper()
	for range n {
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		failed := map[string]int{}
		send := func(r *vpoller.Request) {
			defer wg.Done()
			resp, err := cl.Call(ctx, r)
			msg := ""
			switch {
			case err != nil:
				msg = err.Error()
			case resp.Failed() && !strings.HasPrefix(resp.Msg, "No snapshots found for: "):
				msg = resp.Msg
			}
			if msg != "" {
				mu.Lock()
				failed[r.Method+": "+msg]++
				mu.Unlock()
			}
		}
		if atOnce {
			for _, r := range reqs {
				wg.Add(1)
				go send(r)
			}
		} else {
			step := every / time.Duration(len(reqs))
			for i, r := range reqs {
				if d := time.Until(start.Add(time.Duration(i) * step)); d > 0 {
					time.Sleep(d)
				}
				wg.Add(1)
				go send(r)
			}
		}
		wg.Wait()
		for m, k := range failed {
			b.Errorf("%d requests failed: %s", k, m)
		}
		if late := time.Since(start) - every; late > every/10 {
			b.Logf("interval took %v longer than its %v", late.Round(time.Millisecond), every)
		}
		if d := time.Until(start.Add(every)); d > 0 {
			time.Sleep(d)
		}
	}
}

// latencies measures n vm.get of the template's master properties
// through the chain and as many direct govmomi RetrievePropertiesEx of the
// same properties of the same VMs on the same simulator, alternating, and
// returns both medians in µs.
func latencies(ctx context.Context, b *testing.B, cl *client.Client, sim *benchSim, n int) (chain, direct float64) {
	b.Helper()
	gc, err := govmomi.NewClient(ctx, sim.server.URL, true)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = gc.Logout(ctx) }()
	pc := property.DefaultCollector(gc.Client)
	var ct, dt []float64
	for i := range n {
		vm := sim.vms[i%len(sim.vms)]
		t0 := time.Now()
		r, err := cl.Call(ctx, &vpoller.Request{Method: "vm.get", Hostname: benchAgent, Name: vm, Properties: templateMaster})
		if err != nil || r.Failed() {
			b.Fatalf("chain vm.get: %v %+v", err, r)
		}
		t1 := time.Now()
		var content []types.ObjectContent
		if err := pc.Retrieve(ctx, []types.ManagedObjectReference{sim.vmRefs[vm]}, templateMaster, &content); err != nil || len(content) != 1 {
			b.Fatalf("direct read: %v", err)
		}
		ct = append(ct, float64(t1.Sub(t0).Microseconds()))
		dt = append(dt, float64(time.Since(t1).Microseconds()))
	}
	return median(ct), median(dt)
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

type firstSync struct{ ms, calls, objects float64 }

// report is what the bench prints.
type report struct {
	cfg                       benchConfig
	offSequential             float64 // turn-2 behaviour measured in this run, per 1,000 VMs
	offVMs                    int     // on that many VMs
	sequential, atOnce        float64
	seqREST, onceREST         float64 // vAPI calls per interval per 1,000 VMs
	seqByMethod, onceByMethod callCounts
	seqSweep, onceSweep       sweepCounts
	series                    int
	perfPerPeriod             float64
	instDiscoveryCalls        float64 // SOAP calls of the two instance discoveries of every VM, per 1,000 VMs
	instSeries                int     // per-instance series of all VMs
	instQueryPerf             float64 // QueryPerf per {$VPOLLER.PERF.INSTANCE.INTERVAL} per 1,000 VMs
	chainP50, directP50       float64
	rss, hwm                  uint64
	firstSync                 firstSync
	status                    vpoller.Object
}

func (r *report) print(w *os.File) {
	c := r.cfg
	line := func(format string, args ...any) { fmt.Fprintf(w, "BENCH "+format+"\n", args...) }
	line("== shipped VM template on a simulated vCenter with %d VMs, through client -> proxy -> vpoller-worker", c.vms)
	if c.scale == 1 {
		line("   real time: sample period 20 s, template interval 1 m, mirror_wait %d s", c.wait)
	} else {
		line("   time compressed x%d: the simulated vCenter samples every %v, the template's 1 m interval lasts %v, mirror_wait %d s",
			c.scale, c.period(), c.every, c.wait)
	}
	line("%-66s %12s   %s", "SOAP calls per interval per 1,000 VMs", "ours", "reference")
	off := fmt.Sprintf("%.0f with mirror and sweep off in this run (%d VMs)", r.offSequential, r.offVMs)
	// The floor: the template's perf series (VMs: realtime) need
	// ceil(series/pack) QueryPerf; everything else must fit in 8 more
	// (the earlier target of 40 was this at 2 series per VM and a pack
	// of 64).
	perVM := len(templateCounters)
	target := fmt.Sprintf("target <= %.0f (ceil(%d,000/%d) QueryPerf + 8)", perfFloor(1000*perVM)+8, perVM, pack)
	line("%-66s %12.1f   %s; turn 2: 7,000; %s", "  requests one after another", r.sequential, target, off)
	line("%-66s %12.1f   %s; turn 2: 1,636 (batched, concurrency 16)", "  all requests at once", r.atOnce, target)
	// The tag items answer from one attachments snapshot per 60 s: 2
	// calls (list tags, list-attached-objects-on-tags) plus the catalogue
	// when due, whatever the number of VMs.
	line("%-66s %12.1f   target: fixed per agent (2 per 60 s + the catalogue), not per VM", "REST (vAPI) calls per interval per 1,000 VMs, one after another", r.seqREST)
	line("%-66s %12.1f", "  all requests at once", r.onceREST)
	line("%-66s %12s", "  by method, one after another", methodsPer1000(r.seqByMethod, 2, c.vms)+"; "+r.seqSweep.String())
	line("%-66s %12s", "  by method, at once", methodsPer1000(r.onceByMethod, 2, c.vms)+"; "+r.onceSweep.String())
	floor := perfFloor(r.series)
	line("%-66s %12.1f   ceil(%d/%d) = %.0f: %.2fx (target <= 1.2x)", fmt.Sprintf("QueryPerf per sample period, %d series asked every period", r.series),
		r.perfPerPeriod, r.series, pack, floor, r.perfPerPeriod/floor)
	line("%-66s %12.1f   ceil(%d/%d) = %.0f (each series asked once per interval)", "QueryPerf per interval, template load one after another",
		float64(r.seqByMethod["QueryPerf"])/2, r.series, pack, floor)
	instFloor := perfFloor(r.instSeries * 1000 / c.vms)
	line("%-66s %12.1f   ceil(%d/%d) = %.0f per %d intervals: %.2fx; %.1f per interval", fmt.Sprintf("QueryPerf per %dm per 1,000 VMs, per-instance items (%d series)", instanceEvery, r.instSeries),
		r.instQueryPerf, r.instSeries*1000/c.vms, pack, instFloor, instanceEvery, r.instQueryPerf/instFloor, r.instQueryPerf/instanceEvery)
	line("%-66s %12.1f   target 0 (from the property mirror)", "SOAP calls per 1,000 VMs, vm.vdisk.discover + vm.vnic.discover of every VM", r.instDiscoveryCalls)
	line("%-66s %12.1f   target <= %.0f + %.1f", "SOAP calls per interval per 1,000 VMs, all items incl. per-instance",
		r.sequential+r.instQueryPerf/instanceEvery, perfFloor(1000*len(templateCounters))+8, instFloor/instanceEvery)
	line("%-66s %9.0f µs   direct govmomi RetrievePropertiesEx: %.0f µs; ratio %.2f (target <= 1.0)",
		"vm.get p50 (18 properties) through client -> proxy -> worker", r.chainP50, r.directP50, r.chainP50/r.directP50)
	line("%-66s %9.1f MB   peak %.1f MB; target <= 150 MB at 5,000 VMs", fmt.Sprintf("worker RSS at %d VMs, default watched set", c.vms),
		float64(r.rss)/(1<<20), float64(r.hwm)/(1<<20))
	line("%-66s %9.0f ms   %.0f objects, %.0f WaitForUpdatesEx calls", fmt.Sprintf("first full sync at %d VMs", c.vms),
		r.firstSync.ms, r.firstSync.objects, r.firstSync.calls)
	if r.status != nil {
		raw, _ := vpoller.Marshal(r.status, vpoller.Python)
		line("worker status of the agent: %s", raw)
	}
}

// pack is the metric ids the sweep packs per QueryPerf for the bench's
// series: VMs' realtime series, on a simulated vCenter without
// config.vpxd.stats.maxQueryMetrics.
const pack = objects.RealtimePack

// perfFloor is the fewest QueryPerf that fetch n realtime series.
func perfFloor(n int) float64 { return math.Ceil(float64(n) / pack) }

// methodsPer1000 lists calls by method per interval per 1,000 VMs.
func methodsPer1000(c callCounts, intervals, vms int) string {
	var keys []string
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, float64(c[k])*1000/float64(vms)/float64(intervals)))
	}
	return strings.Join(parts, ", ")
}
