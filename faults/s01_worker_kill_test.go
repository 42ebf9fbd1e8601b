//go:build faults

package faults

import (
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// warm sends n requests through the proxy so that every worker has
// logged in to its vCenter before the measured phase; it stops the
// scenario if they do not succeed.
func (s *scenario) warm(front string, n int, reqs ...*vpoller.Request) {
	s.t.Helper()
	l, err := startLoad(loadSpec{endpoint: front, conc: n, timeout: 10 * time.Second, retries: 1,
		next: func(i int) (string, *vpoller.Request) { return "warm", reqs[i%len(reqs)] }})
	s.must(err, "warm-up")
	time.Sleep(300 * time.Millisecond)
	outs := l.stop()
	if c := tally(outs); c.Answered != c.Sent || c.Sent == 0 {
		s.fatalf("warm-up: %d of %d answered%s", c.Answered, c.Sent, messages(outs, 3))
	}
}

// 1. Two workers share a steady load; one is SIGKILLed. The proxy
// re-dispatches what the dead one owed, so nothing is lost.
func Test01WorkerKill(t *testing.T) {
	s := newScenario(t, "1", "worker SIGKILL under load (2 workers)")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	wa := s.startWorker("worker-a", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	s.startWorker("worker-b", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(2, 10*time.Second, "2 workers")
	s.warm(px.front, 8, pollVM(vc.name))

	l, err := startLoad(loadSpec{endpoint: px.front, conc: 8, timeout: 5 * time.Second, retries: 1, pause: 2 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	time.Sleep(1500 * time.Millisecond)
	killAt := time.Now()
	wa.kill()
	time.Sleep(2500 * time.Millisecond)
	outs := l.stop()
	st := px.mustProxyStatus()

	c := tally(outs)
	// Recovery: how long the requests in flight at the kill still took.
	var recovery time.Duration
	for _, o := range outs {
		if o.start.Before(killAt) && o.end.After(killAt) {
			recovery = max(recovery, o.end.Sub(killAt))
		}
	}
	after := tally(where(outs, startedIn(killAt, time.Now())))
	var ck checks
	ck.add(c.Sent >= 300, "steady load: at least 300 requests", "%d", c.Sent)
	ck.add(c.Lost == 0, "lost == 0", "%d", c.Lost)
	ck.add(c.Errored == 0, "errored == 0", "%d%s", c.Errored, messages(outs, 2))
	ck.add(after.Answered > 0 && after.Answered == after.Sent, "every request sent after the kill answered (by the other worker)", "%d of %d", after.Answered, after.Sent)
	ck.add(recovery < 2*time.Second, "requests in flight at the kill answered within 2 s of it", "%s, redispatched %d", dur(recovery), st.Redispatched)
	s.record(&row{Requests: &c, Recovery: recovery, RSS: "proxy " + mb(px.hwm()), Checks: ck})
}
