package integration

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
)

// scaleRun is one configuration of BenchmarkScaleOut and what it cost.
type scaleRun struct {
	workers int
	standby bool

	calls    []callCounts // per vCenter, over the measured intervals
	requests []float64    // per worker, over the measured intervals
	owners   map[string]string
	mirrors  map[string][]string // vCenter -> workers that built a mirror of it
}

// BenchmarkScaleOut puts the shipped VM template's load on two simulated
// vCenters (BENCH_VMS VMs in all, half each) through one proxy and 1, 2
// and 4 vpoller-worker processes serving both, and prints side by side
// the SOAP calls per interval per 1,000 VMs (in all, by method, per
// vCenter) and how the requests spread over the workers: with
// vCenter-affine dispatch, more workers must not cost vCenter more
// (docs/broker.md). The runs with standby = 1 may add WaitForUpdatesEx
// (the standby's mirror), nothing else. Time is compressed BENCH_SCALE
// times as in BenchmarkTemplateLoad.
func BenchmarkScaleOut(b *testing.B) {
	total := envInt(b, "BENCH_VMS", 1000)
	cfg := benchConfig{vms: total / 2, scale: envInt(b, "BENCH_SCALE", 10)}
	if 20%cfg.scale != 0 {
		b.Fatalf("BENCH_SCALE=%d: want a divisor of 20", cfg.scale)
	}
	cfg.every, cfg.wait = time.Minute/time.Duration(cfg.scale), 20/cfg.scale
	ctx := context.Background()
	sims := []*benchSim{startBenchSimOn(b, cfg, "127.0.0.1"), startBenchSimOn(b, cfg, "127.0.0.2")}
	bin := buildWorker(b)
	var reqs []*vpoller.Request
	for _, sim := range sims {
		for _, vm := range sim.vms {
			reqs = append(reqs, templateRequests(sim.agent, vm)...)
		}
	}
	shuffle(reqs)
	const measured = 2
	var runs []*scaleRun
	for _, rc := range []struct {
		workers int
		standby bool
	}{{1, false}, {2, false}, {4, false}, {2, true}, {4, true}} {
		r := &scaleRun{workers: rc.workers, standby: rc.standby, owners: map[string]string{}, mirrors: map[string][]string{}}
		p, err := proxy.New(proxy.Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "tcp://127.0.0.1:0",
			MaxRequestBytes: 1 << 20, Standby: rc.standby, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		pctx, stopProxy := context.WithCancel(ctx)
		pdone := make(chan error, 1)
		go func() { pdone <- p.Run(pctx) }()
		<-p.Ready()
		host, _ := os.Hostname()
		var ws []*benchWorker
		ids := map[string]int{}
		for i := range rc.workers {
			w := startWorkerFor(b, bin, sims, p.Addrs().Backend, cfg, true)
			ws = append(ws, w)
			ids[host+" "+w.mgmt] = i
		}
		waitUntilB(b, "every worker to join", func() bool { return len(p.Stats().WorkerConns) == rc.workers })
		cl := clienttest.New(b, p.Addrs().Frontend, client.Options{Timeout: 15 * time.Second, Retries: 1, PoolSize: 256, MaxIdle: 64})
		for _, sim := range sims {
			owner := p.Stats().VCenters[sim.agent].Owner
			i, ok := ids[owner]
			if !ok {
				b.Fatalf("%s: owner %q is none of the workers %v", sim.agent, owner, ids)
			}
			_, _ = cl.Call(ctx, &vpoller.Request{Method: "vm.discover", Hostname: sim.agent})
			waitUntilB(b, sim.agent+" synced", func() bool {
				a := ws[i].agentStatusOf(b, sim.agent)
				m, _ := a.Get("mirror")
				return m == "current" && num(a, "objects") >= float64(cfg.vms)
			})
		}
		runIntervals(ctx, b, cl, reqs, cfg.every, false, 2) // first asks, then the sweep learns the pace
		before := workerRequests(b, ws)
		snaps := make([]callCounts, len(sims))
		for i, sim := range sims {
			snaps[i] = sim.calls.snapshot()
		}
		runIntervals(ctx, b, cl, reqs, cfg.every, false, measured)
		for i, sim := range sims {
			r.calls = append(r.calls, sim.calls.snapshot().minus(snaps[i]))
		}
		after := workerRequests(b, ws)
		for i := range ws {
			r.requests = append(r.requests, (after[i]-before[i])/measured)
		}
		st := p.Stats()
		for _, sim := range sims {
			r.owners[sim.agent] = fmt.Sprintf("w%d", ids[st.VCenters[sim.agent].Owner])
			for i, w := range ws {
				if num(w.agentStatusOf(b, sim.agent), "syncs") > 0 {
					r.mirrors[sim.agent] = append(r.mirrors[sim.agent], fmt.Sprintf("w%d", i))
				}
			}
		}
		for _, w := range ws {
			w.stop(b)
		}
		stopProxy()
		if err := <-pdone; err != nil {
			b.Fatal(err)
		}
		runs = append(runs, r)
	}
	printScaleOut(os.Stdout, b, cfg, sims, runs, measured)
	for b.Loop() {
	}
}

func workerRequests(b *testing.B, ws []*benchWorker) []float64 {
	out := make([]float64, len(ws))
	for i, w := range ws {
		out[i] = num(w.status(b), "requests")
	}
	return out
}

func (c callCounts) minus(before callCounts) callCounts {
	out := callCounts{}
	for k, v := range c {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func waitUntilB(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(15 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// printScaleOut prints the runs side by side and fails the bench where
// more workers cost vCenter more than 1.1x the one-worker run.
func printScaleOut(out *os.File, b *testing.B, cfg benchConfig, sims []*benchSim, runs []*scaleRun, intervals int) {
	line := func(format string, args ...any) { fmt.Fprintf(out, "BENCH "+format+"\n", args...) }
	per1000 := func(n uint64) float64 { return float64(n) * 1000 / float64(cfg.vms) / float64(intervals) }
	line("== scale-out: shipped VM template on 2 simulated vCenters x %d VMs, one proxy, 1/2/4 vpoller-workers serving both", cfg.vms)
	line("   SOAP calls per interval per 1,000 VMs (each vCenter's calls over its own VMs; 'all' over both); time x%d", cfg.scale)
	line("%-22s %8s %8s %8s %8s %8s   %-40s %s", "workers", "all", "ratio", "QueryPerf", "ratio", "WFUEx", "per vCenter (all / QueryPerf)", "requests/interval per worker; owners; mirrors")
	var base, baseQP, baseOther float64
	for i, r := range runs {
		var all, qp, wfu uint64
		var perVC []string
		for j, c := range r.calls {
			all += c.total()
			qp += c["QueryPerf"]
			wfu += c["WaitForUpdatesEx"]
			perVC = append(perVC, fmt.Sprintf("%s %.1f / %.1f", sims[j].agent, per1000(c.total()), per1000(c["QueryPerf"])))
		}
		allF := per1000(all) / float64(len(sims))
		qpF := per1000(qp) / float64(len(sims))
		wfuF := per1000(wfu) / float64(len(sims))
		if i == 0 {
			base, baseQP, baseOther = allF, qpF, allF-wfuF
		}
		name := fmt.Sprintf("%d", r.workers)
		if r.standby {
			name += " (standby = 1)"
		}
		reqs := make([]string, len(r.requests))
		for k, n := range r.requests {
			reqs[k] = fmt.Sprintf("%.0f", n)
		}
		var owners []string
		for _, s := range sims {
			owners = append(owners, s.agent+"="+r.owners[s.agent]+" mirror in "+strings.Join(r.mirrors[s.agent], "+"))
		}
		sort.Strings(owners)
		line("%-22s %8.1f %7.2fx %8.1f %7.2fx %8.1f   %-40s %s; %s", name, allF, allF/base, qpF, qpF/baseQP, wfuF,
			strings.Join(perVC, ", "), strings.Join(reqs, "/"), strings.Join(owners, ", "))
		switch {
		case !r.standby && (allF > 1.1*base || qpF > 1.1*baseQP):
			b.Errorf("%d workers: %.1f calls (QueryPerf %.1f) against %.1f (%.1f) with one worker: above 1.1x", r.workers, allF, qpF, base, baseQP)
		case r.standby && allF-wfuF > 1.1*baseOther:
			b.Errorf("%d workers with standby: %.1f calls besides WaitForUpdatesEx against %.1f with one worker", r.workers, allF-wfuF, baseOther)
		}
	}
}
