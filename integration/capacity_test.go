package integration

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// BenchmarkWorkerCapacity drives one vpoller-worker process, warm, with
// the shipped VM template's requests (every VM's, shuffled) from 64
// concurrent callers through the proxy for BENCH_SECONDS (default 20),
// and prints the requests per second it answered and the CPU it used
// (user + system, from /proc), so that docs/sizing.md can say what one
// worker carries per core. Everything (simulator, proxy, callers) shares
// the machine: the figures are a floor.
func BenchmarkWorkerCapacity(b *testing.B) {
	cfg := benchConfig{vms: envInt(b, "BENCH_VMS", 1000), scale: 1, every: time.Minute, wait: 20}
	seconds := envInt(b, "BENCH_SECONDS", 20)
	ctx := context.Background()
	sim := startBenchSim(b, cfg)
	frontend := startBenchProxy(b)
	w := startWorker(b, buildWorker(b), sim, frontend, cfg, true)
	cl := clienttest.New(b, frontend, client.Options{Timeout: 15 * time.Second, Retries: 1, PoolSize: 64, MaxIdle: 64})
	w.waitSynced(b, cl, cfg.vms)
	var reqs []*vpoller.Request
	for _, vm := range sim.vms {
		reqs = append(reqs, templateRequests(benchAgent, vm)...)
	}
	shuffle(reqs)
	run := func(d time.Duration) (n, failed int64) {
		var done, bad atomic.Int64
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for c := range 64 {
			wg.Go(func() {
				for i := c; time.Now().Before(stop); i += 64 {
					r, err := cl.Call(ctx, reqs[i%len(reqs)])
					done.Add(1)
					if err != nil || (r.Failed() && !strings.HasPrefix(r.Msg, "No snapshots found for: ")) {
						bad.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return done.Load(), bad.Load()
	}
	run(10 * time.Second) // warm: the sweep learns the series, tags and alarms load
	cpu0 := cpuSeconds(b, w.cmd.Process.Pid)
	t0 := time.Now()
	n, failed := run(time.Duration(seconds) * time.Second)
	elapsed := time.Since(t0).Seconds()
	cpu := cpuSeconds(b, w.cmd.Process.Pid) - cpu0
	rss, _ := w.rss(b)
	rate := float64(n) / elapsed
	fmt.Printf("BENCH == one vpoller-worker, warm, %d VMs, the VM template's requests from 64 callers for %d s\n", cfg.vms, seconds)
	fmt.Printf("BENCH %-60s %10.0f   %d failed\n", "requests per second answered", rate, failed)
	fmt.Printf("BENCH %-60s %10.2f   (%.0f requests per CPU second)\n", "worker CPU seconds per second", cpu/elapsed, float64(n)/cpu)
	fmt.Printf("BENCH %-60s %10.1f MB\n", "worker RSS", float64(rss)/(1<<20))
	if failed > 0 {
		b.Errorf("%d requests failed", failed)
	}
	b.ReportMetric(rate, "requests/s")
	b.ReportMetric(float64(n)/cpu, "requests/CPU-s")
	for b.Loop() {
	}
}

// cpuSeconds is a process's user + system CPU time.
func cpuSeconds(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw)[strings.LastIndexByte(string(raw), ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ = 100 on Linux)
}
