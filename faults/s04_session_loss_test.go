//go:build faults

package faults

import (
	"context"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 4. The worker's vSphere session is terminated through the vSphere API
// (SessionManager.TerminateSession, as an administrator or a session
// timeout would) under load: requests keep succeeding after one
// re-login.
func Test04SessionLoss(t *testing.T) {
	s := newScenario(t, "4", "vSphere session terminated under load")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	w := s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}, timeout: vcTimeout, extra: breakerLines})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	s.warm(px.front, 4, pollVM(vc.name))
	before := w.mustWorkerStatus().VSphere.Logins

	l, err := startLoad(loadSpec{endpoint: px.front, conc: 4, timeout: 8 * time.Second, retries: 1, pause: 10 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	lossAt := time.Now()
	terminated, err := vc.terminateOtherSessions(ctx)
	cancel()
	s.must(err, "terminate the worker's session")
	time.Sleep(2 * time.Second)
	outs := l.stop()
	after := w.mustWorkerStatus().VSphere.Logins

	c := tally(outs)
	afterLoss := where(outs, startedIn(lossAt, time.Now()))
	ca := tally(afterLoss)
	// Recovery: the slowest request sent after the loss (it carries the
	// re-login).
	recovery := percentile(afterLoss, 1)
	var ck checks
	ck.add(terminated >= 1, "the worker's session was terminated", "%d sessions", terminated)
	ck.add(c.Errored == 0 && c.Lost == 0, "errored == 0 and lost == 0", "%d errored, %d lost%s", c.Errored, c.Lost, messages(outs, 2))
	ck.add(ca.Sent >= 50 && ca.Answered == ca.Sent, "requests after the loss answered", "%d of %d", ca.Answered, ca.Sent)
	ck.add(after-before == 1, "exactly one re-login", "%d", after-before)
	ck.add(recovery < 2*time.Second, "slowest request after the loss < 2 s", "%s", dur(recovery))
	s.record(&row{Requests: &c, Recovery: recovery, RSS: "worker " + mb(w.hwm()), Checks: ck})
}
