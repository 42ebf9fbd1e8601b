//go:build faults

package faults

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// affineCluster is one proxy and n workers (ids w0..) serving vcs.
type affineCluster struct {
	px      *daemon
	workers map[string]*daemon
	vcs     []*vcenter
}

func (s *scenario) startAffine(n int, vcs []*vcenter, proxyExtra ...string) *affineCluster {
	s.t.Helper()
	c := &affineCluster{px: s.startProxy("proxy", proxySpec{extra: proxyExtra}), workers: map[string]*daemon{}, vcs: vcs}
	for i := range n {
		id := fmt.Sprintf("w%d", i)
		c.workers[id] = s.startWorker("worker-"+id, workerSpec{proxy: c.px.back, vcenters: vcs, extra: []string{"id = " + id}})
	}
	c.px.mustSeeWorkers(n, 15*time.Second, fmt.Sprintf("%d workers", n))
	return c
}

// owner is the worker the proxy names owner of vc.
func (c *affineCluster) owner(vc string) (string, *daemon) {
	id := c.px.mustProxyStatus().VCenters[vc].Owner
	return id, c.workers[id]
}

// load runs conc callers asking every vCenter of the cluster in turn.
func (c *affineCluster) load(s *scenario, conc int, timeout time.Duration) *load {
	l, err := startLoad(loadSpec{endpoint: c.px.front, conc: conc, timeout: timeout, retries: 1, pause: 2 * time.Millisecond,
		next: func(i int) (string, *vpoller.Request) { v := c.vcs[i%len(c.vcs)]; return v.name, pollVM(v.name) }})
	s.must(err, "load")
	return l
}

// warmAt waits until worker id's mirror of vc is current; it returns how
// long that took and the worker's first sync of it.
func (c *affineCluster) warmAt(id, vc string, within time.Duration) (bool, time.Duration, time.Duration) {
	var first time.Duration
	ok, took := until(within, 20*time.Millisecond, func() bool {
		st, err := c.workers[id].workerStatus()
		if err != nil {
			return false
		}
		a := st.VSphere.Agents[vc]
		first = time.Duration(a.FirstSyncMS) * time.Millisecond
		return a.Mirror == "current"
	})
	return ok, took, first
}

// 16a/16b. The owner of a vCenter is SIGKILLed under load: its requests
// are re-dispatched to the next worker in the ranking, which takes the
// vCenter over cold (answering from vCenter while its mirror syncs): no
// request lost or failed, warm again within its first sync + 2 s.
func testOwnerKill(t *testing.T, id string, workers int, names ...string) {
	what := "1 vCenter"
	if len(names) > 1 {
		what = fmt.Sprintf("%d vCenters", len(names))
	}
	s := newScenario(t, id, fmt.Sprintf("owner worker SIGKILL under load (%d workers, %s, affine)", workers, what))
	var vcs []*vcenter
	for _, n := range names {
		vcs = append(vcs, s.startVcenter(n))
	}
	c := s.startAffine(workers, vcs)
	s.warm(c.px.front, 8, pollVM(vcs[0].name))
	for _, v := range vcs[1:] {
		s.warm(c.px.front, 4, pollVM(v.name))
	}
	victimID, victim := c.owner(vcs[0].name)
	l := c.load(s, 8, 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	victim.kill()
	ok, tookOwner := until(10*time.Second, 10*time.Millisecond, func() bool {
		o, _ := c.owner(vcs[0].name)
		return o != victimID
	})
	newID, _ := c.owner(vcs[0].name)
	warm, tookWarm, firstSync := c.warmAt(newID, vcs[0].name, 30*time.Second)
	time.Sleep(2 * time.Second)
	outs := l.stop()
	st := c.px.mustProxyStatus()
	ct := tally(outs)
	var ck checks
	ck.add(ct.Sent >= 300, "steady load: at least 300 requests", "%d", ct.Sent)
	ck.add(ct.Lost == 0, "lost == 0", "%d", ct.Lost)
	ck.add(ct.Errored == 0, "failed == 0", "%d%s", ct.Errored, messages(outs, 2))
	ck.add(ok && newID != "" && newID != victimID, "the next worker in the ranking owns the vCenter", "%s -> %s", victimID, newID)
	ck.add(warm && tookWarm <= firstSync+2*time.Second, "the new owner is warm within its first sync + 2 s", "warm %s after the takeover (%s after the kill), first sync %s; redispatched %d",
		dur(tookWarm), dur(tookOwner+tookWarm), dur(firstSync), st.Redispatched)
	s.record(&row{Requests: &ct, Recovery: tookWarm, RSS: "proxy " + mb(c.px.hwm()), Checks: ck})
}

func Test16aOwnerKill2(t *testing.T) { testOwnerKill(t, "16a", 2, "127.0.0.1") }
func Test16bOwnerKill4(t *testing.T) { testOwnerKill(t, "16b", 4, "127.0.0.1", "localhost") }

// 16c. The owner is frozen (SIGSTOP) under load: the proxy notices the
// missing heartbeats within worker_timeout, drops it and re-dispatches what
// it owed to the next worker; nothing is lost; after SIGCONT the worker
// reconnects.
func Test16cOwnerFrozen(t *testing.T) {
	s := newScenario(t, "16c", "owner worker frozen (SIGSTOP) under load (2 workers, affine)")
	vc := s.startVcenter("127.0.0.1")
	c := s.startAffine(2, []*vcenter{vc}, "worker_heartbeat = 1s", "worker_timeout = 3s")
	s.warm(c.px.front, 8, pollVM(vc.name))
	victimID, victim := c.owner(vc.name)
	l := c.load(s, 8, 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	stopAt := time.Now()
	victim.signal(syscall.SIGSTOP)
	time.Sleep(6 * time.Second)
	outs := l.stop()
	victim.signal(syscall.SIGCONT)
	back, tookBack := c.px.waitWorkers(2, 15*time.Second)
	st := c.px.mustProxyStatus()
	var recovery time.Duration
	for _, o := range outs {
		if o.start.Before(stopAt) && o.end.After(stopAt) {
			recovery = max(recovery, o.end.Sub(stopAt))
		}
	}
	ct := tally(outs)
	newID, _ := c.owner(vc.name)
	var ck checks
	ck.add(ct.Lost == 0, "lost == 0", "%d", ct.Lost)
	ck.add(ct.Errored == 0, "failed == 0", "%d%s", ct.Errored, messages(outs, 2))
	ck.add(st.SilentDropped >= 1, "the proxy dropped the silent worker", "%d", st.SilentDropped)
	ck.add(recovery <= 3*time.Second+2*time.Second, "requests in flight at the freeze answered within worker_timeout (3 s) + 2 s", "%s, redispatched %d", dur(recovery), st.Redispatched)
	ck.add(back, "the worker rejoins after SIGCONT", "in %s; owner now %s (was %s)", dur(tookBack), newID, victimID)
	s.record(&row{Requests: &ct, Recovery: recovery, RSS: "proxy " + mb(c.px.hwm()), Checks: ck})
}

// 16d. Two proxies, two workers connected to both, and the real Zabbix
// agent 2 whose plugin knows both frontends. One proxy is SIGKILLed while
// items are polled: no item becomes unsupported (the plugin fails over
// within the item's time budget); when the proxy returns, both workers
// rejoin it.
func Test16dProxyKill(t *testing.T) {
	s := newScenario(t, "16d", "one of two proxies SIGKILL under Zabbix polling (real agent 2 + plugin)")
	vc := s.startVcenter("127.0.0.1")
	p1 := s.startProxy("proxy-1", proxySpec{})
	p2 := s.startProxy("proxy-2", proxySpec{})
	backs := p1.back + "," + p2.back
	for i := range 2 {
		s.startWorker(fmt.Sprintf("worker-%d", i), workerSpec{proxy: backs, vcenters: []*vcenter{vc}, extra: []string{fmt.Sprintf("id = w%d", i)}})
	}
	p1.mustSeeWorkers(2, 15*time.Second, "2 workers at proxy 1")
	p2.mustSeeWorkers(2, 15*time.Second, "2 workers at proxy 2")
	a := s.startAgent(p1.front + "," + p2.front)
	key := fmt.Sprintf("vpoller.poll[vm.get,%s,DC0_H0_VM0,runtime.powerState]", vc.name)
	if v, err := passive(a.addr, key, 10*time.Second); err != nil || v != "poweredOn" {
		s.fatalf("item %s = %q, %v", key, v, err)
	}
	type result struct {
		start, end time.Time
		err        error
	}
	stop := make(chan struct{})
	results := make(chan result, 1<<16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					v, err := passive(a.addr, key, 10*time.Second)
					if err == nil && v != "poweredOn" {
						err = fmt.Errorf("value %q", v)
					}
					results <- result{start, time.Now(), err}
				}
			})
		}
		wg.Wait()
	}()
	time.Sleep(1500 * time.Millisecond)
	served1 := p1.mustProxyStatus().Served
	killAt := time.Now()
	p1.kill()
	time.Sleep(3 * time.Second)
	p1.restart()
	p1.waitUp()
	back, tookBack := p1.waitWorkers(2, 20*time.Second)
	time.Sleep(time.Second)
	close(stop)
	<-done
	close(results)
	var sent, ok, unsupported, other int
	var slowest time.Duration
	var msgs []string
	for r := range results {
		sent++
		var ns *errNotSupported
		switch {
		case r.err == nil:
			ok++
		case errors.As(r.err, &ns):
			unsupported++
			msgs = append(msgs, r.err.Error())
		default:
			other++
			msgs = append(msgs, r.err.Error())
		}
		if r.start.Before(killAt) && r.end.After(killAt) || r.start.After(killAt) && r.start.Before(killAt.Add(time.Second)) {
			slowest = max(slowest, r.end.Sub(r.start))
		}
	}
	if len(msgs) > 3 {
		msgs = msgs[:3]
	}
	c := counts{Sent: sent, Answered: ok, Errored: unsupported, Lost: other}
	var ck checks
	ck.add(sent >= 100, "steady polling: at least 100 items", "%d", sent)
	ck.add(served1 > 0, "the killed proxy was serving the items", "served %d before the kill", served1)
	ck.add(unsupported == 0 && other == 0, "0 items unsupported or failed through the real agent", "%d unsupported, %d other %v", unsupported, other, msgs)
	ck.add(slowest < 5*time.Second, "items around the kill answered within the agent's Timeout (5 s)", "slowest %s", dur(slowest))
	ck.add(back, "both workers rejoin the restarted proxy", "in %s", dur(tookBack))
	ck.add(a.alive(), "the agent is alive", "%v", a.alive())
	s.record(&row{Requests: &c, Recovery: slowest, RSS: "proxy-2 " + mb(p2.hwm()), Checks: ck})
}

// 16e. With standby = 1 the second worker in the ranking keeps its mirror
// current; when the owner is SIGKILLed under load it takes over warm:
// its mirror was current before and is not synced again, and the
// requests in flight at the kill are answered within 2 s.
func Test16eStandbyTakeover(t *testing.T) {
	s := newScenario(t, "16e", "owner worker SIGKILL under load with standby = 1 (warm takeover)")
	vc := s.startVcenter("127.0.0.1")
	c := s.startAffine(2, []*vcenter{vc}, "standby = 1")
	s.warm(c.px.front, 8, pollVM(vc.name))
	victimID, victim := c.owner(vc.name)
	standbyID := c.px.mustProxyStatus().VCenters[vc.name].Standby
	sb := c.workers[standbyID]
	var syncsBefore int
	ready, tookReady := until(20*time.Second, 20*time.Millisecond, func() bool {
		st, err := sb.workerStatus()
		if err != nil {
			return false
		}
		a := st.VSphere.Agents[vc.name]
		syncsBefore = a.Syncs
		return st.Roles[vc.name] == "standby" && a.Mirror == "current"
	})
	l := c.load(s, 8, 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	killAt := time.Now()
	victim.kill()
	took, tookOwner := until(10*time.Second, 10*time.Millisecond, func() bool {
		o, _ := c.owner(vc.name)
		return o == standbyID
	})
	time.Sleep(2 * time.Second)
	outs := l.stop()
	st, err := sb.workerStatus()
	s.must(err, "standby status")
	a := st.VSphere.Agents[vc.name]
	var recovery time.Duration
	for _, o := range outs {
		if o.start.Before(killAt) && o.end.After(killAt) {
			recovery = max(recovery, o.end.Sub(killAt))
		}
	}
	ct := tally(outs)
	var ck checks
	ck.add(ready, "the standby keeps a current mirror before the kill", "role standby, mirror current after %s", dur(tookReady))
	ck.add(ct.Lost == 0 && ct.Errored == 0, "0 lost, 0 failed", "%d lost, %d failed%s", ct.Lost, ct.Errored, messages(outs, 2))
	ck.add(took, "the standby owns the vCenter", "%s -> %s after %s", victimID, standbyID, dur(tookOwner))
	ck.add(a.Syncs == syncsBefore && a.Mirror == "current" && st.Roles[vc.name] == "owner", "it takes over warm: no new sync, its mirror current",
		"syncs %d -> %d, mirror %s, role %s", syncsBefore, a.Syncs, a.Mirror, st.Roles[vc.name])
	ck.add(recovery < 2*time.Second, "requests in flight at the kill answered within 2 s", "%s", dur(recovery))
	s.record(&row{Requests: &ct, Recovery: recovery, RSS: "proxy " + mb(c.px.hwm()), Checks: ck})
}
