//go:build faults

package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 3b. The vCenter is SIGKILLed under load and started again 1.5 s later
// on the same port with the same certificate: the worker logs in once
// more and serves again without being restarted.
func Test03bVcenterRestart(t *testing.T) {
	s := newScenario(t, "3b", "vCenter SIGKILL and restart, same port")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	w := s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}, timeout: vcTimeout, extra: breakerLines})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	s.warm(px.front, 4, pollVM(vc.name))
	before := w.mustWorkerStatus().VSphere.Logins

	l, err := startLoad(loadSpec{endpoint: px.front, conc: 4, timeout: 8 * time.Second, retries: 1, pause: 20 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	time.Sleep(time.Second)
	vc.p.kill()
	time.Sleep(1500 * time.Millisecond)
	restartAt := time.Now()
	vc.restart()
	recoveredAt, recovered := firstSuccess(l, "poll", restartAt, 20*time.Second)
	time.Sleep(time.Second)
	outs := l.stop()
	after := w.mustWorkerStatus().VSphere.Logins

	c := tally(outs)
	recovery := time.Duration(-1)
	var settled []outcome
	if recovered {
		recovery = recoveredAt.Sub(restartAt)
		settled = where(outs, startedIn(recoveredAt.Add(100*time.Millisecond), time.Now()))
	}
	cs := tally(settled)
	var ck checks
	ck.add(recovered && recovery < time.Duration(breakerCooldown+vcTimeout+3)*time.Second,
		fmt.Sprintf("answers again within cooldown %d s + timeout %d s + 3 s of the restart", breakerCooldown, vcTimeout), "%s", dur(recovery))
	ck.add(after-before == 1, "exactly one re-login", "%d", after-before)
	ck.add(cs.Sent > 0 && cs.Answered == cs.Sent, "every request sent after the recovery answered", "%d of %d%s", cs.Answered, cs.Sent, messages(settled, 2))
	ck.add(c.Lost == 0, "lost == 0 (failures while it is down are replies)", "%d%s", c.Lost, messages(where(outs, func(o outcome) bool { return o.kind == lost }), 2))
	s.record(&row{Requests: &c, Recovery: recovery, RSS: "worker " + mb(w.hwm()), Checks: ck})
}
