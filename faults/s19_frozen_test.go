//go:build faults

package faults

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 19-4. Frozen worker. One vCenter, two of our workers, the proxy's
// default liveness (a PING every worker_heartbeat 1 s, a worker silent
// for worker_timeout 5 s is dropped). The vCenter's owner is frozen with
// SIGSTOP for 30 s; right after the freeze 10 requests are sent, which
// the proxy hands to the frozen owner (it does not know yet). It drops the
// owner on its missing PONGs and re-dispatches them to the other worker:
// all 10 answered, none lost, and a steady load meanwhile loses nothing.
// Before the liveness check the 10 waited for the SIGCONT (30 s), past
// every client's time limit.
func Test19_4FrozenWorker(t *testing.T) {
	s := newScenario(t, "19-4", "worker frozen (SIGSTOP 30 s) with 10 requests in flight (2 workers, 1 vCenter, default worker_timeout)")
	const (
		freeze    = 30 * time.Second
		heartbeat = time.Second     // worker_heartbeat default
		timeout   = 5 * time.Second // worker_timeout default
		inflight  = 10
		callers   = 4 // the steady load's
	)
	vc := s.startVcenter("127.0.0.1")
	c := s.startAffine(2, []*vcenter{vc})
	s.warm(c.px.front, 8, pollVM(vc.name))
	victimID, victim := c.owner(vc.name)
	if victim == nil {
		// A proxy without affinity (the previous release) names no
		// owner and spreads the requests: freeze w0, which gets its share.
		victimID, victim = "w0", c.workers["w0"]
	}
	steady, err := startLoad(loadSpec{endpoint: c.px.front, conc: callers, timeout: 15 * time.Second, retries: 1, pause: 50 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "steady", pollVM(vc.name) }})
	s.must(err, "load")
	time.Sleep(time.Second)
	before := c.px.mustProxyStatus()

	stopAt := time.Now()
	victim.signal(syscall.SIGSTOP)
	burst, err := startLoad(loadSpec{endpoint: c.px.front, conc: inflight, timeout: 15 * time.Second, retries: 1, total: inflight,
		next: func(int) (string, *vpoller.Request) { return "in flight", pollVM(vc.name) }})
	s.must(err, "load")
	// The 10 are at the frozen owner: its connection owes them (and
	// usually each steady caller's next request too; a caller pausing
	// between requests at that moment may not have one there yet).
	var owed int
	atVictim, _ := until(5*time.Second, 10*time.Millisecond, func() bool {
		st, err := c.px.proxyStatus()
		if err != nil {
			return false
		}
		for _, w := range st.WorkerConns {
			if w.ID == victimID {
				owed = max(owed, w.InFlight)
			}
		}
		return owed >= inflight+callers
	})
	atVictim = atVictim || owed >= inflight
	done, _ := until(20*time.Second, 20*time.Millisecond, func() bool { return len(burst.snapshot()) >= inflight })
	burstOuts := burst.stop()
	dropped := c.px.mustProxyStatus()
	// The rest of the freeze under the steady load, then SIGCONT.
	if left := time.Until(stopAt.Add(freeze)); left > 0 {
		time.Sleep(left)
	}
	victim.signal(syscall.SIGCONT)
	contAt := time.Now()
	back, tookBack := c.px.waitWorkers(2, 15*time.Second)
	steadyOuts := steady.stop()
	end := c.px.mustProxyStatus()

	var slowest time.Duration
	for _, o := range burstOuts {
		slowest = max(slowest, o.latency())
	}
	cb, cs := tally(burstOuts), tally(steadyOuts)
	frozen := tally(where(steadyOuts, startedIn(stopAt, contAt)))
	all := counts{Sent: cb.Sent + cs.Sent, Answered: cb.Answered + cs.Answered, Lost: cb.Lost + cs.Lost, Errored: cb.Errored + cs.Errored}
	bound := timeout + heartbeat + 2*time.Second
	var ck checks
	ck.add(atVictim, fmt.Sprintf("the %d requests sent after the SIGSTOP are in flight at the frozen owner (with the steady callers': up to %d)",
		inflight, inflight+callers), "owner %s owed %d", victimID, owed)
	ck.add(done && cb.Sent == inflight && cb.Answered == inflight, fmt.Sprintf("all %d answered (0 lost, 0 failed)", inflight),
		"%d of %d answered, %d lost, %d failed%s", cb.Answered, cb.Sent, cb.Lost, cb.Errored, messages(burstOuts, 2))
	ck.add(slowest <= bound, fmt.Sprintf("the slowest of them within worker_timeout + worker_heartbeat + 2 s (%s)", bound),
		"%s; silent workers dropped %d -> %d, redispatched %d -> %d", dur(slowest), before.SilentDropped, dropped.SilentDropped,
		before.Redispatched, dropped.Redispatched)
	ck.add(cs.Sent >= 100 && cs.Lost == 0 && cs.Errored == 0, fmt.Sprintf("steady load (%d callers) through the freeze: 0 lost, 0 failed", callers),
		"%d sent (%d during the freeze, %d answered), %d lost, %d failed%s", cs.Sent, frozen.Sent, frozen.Answered, cs.Lost, cs.Errored, messages(steadyOuts, 2))
	ck.add(back, "the frozen worker rejoins after SIGCONT", "in %s; owner of %s now %s (was %s); workers %d",
		dur(tookBack), vc.name, end.VCenters[vc.name].Owner, victimID, end.Workers)
	s.record(&row{Requests: &all, Recovery: slowest, RSS: "proxy " + mb(c.px.hwm()), Checks: ck})
}
