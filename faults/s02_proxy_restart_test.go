//go:build faults

package faults

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 2. The proxy is stopped (SIGTERM) or killed (SIGKILL) under load and
// started again on the same ports: both workers reconnect by themselves
// and requests sent after that are all answered.
func Test02ProxyRestartTERM(t *testing.T) { proxyRestart(t, "2a", syscall.SIGTERM) }
func Test02ProxyRestartKILL(t *testing.T) { proxyRestart(t, "2b", syscall.SIGKILL) }

func proxyRestart(t *testing.T, id string, sig syscall.Signal) {
	name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL"}[sig]
	s := newScenario(t, id, fmt.Sprintf("proxy restart (%s), same ports, 2 workers", name))
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	s.startWorker("worker-a", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	s.startWorker("worker-b", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(2, 10*time.Second, "2 workers")
	s.warm(px.front, 4, pollVM(vc.name))

	// The callers retry (lazy pirate, 3 attempts of 1 s) as Zabbix's
	// plugin does, so that requests caught by the restart are retried.
	l, err := startLoad(loadSpec{endpoint: px.front, conc: 4, timeout: time.Second, retries: 3, pause: 5 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	time.Sleep(time.Second)
	firstHWM := px.hwm()
	if sig == syscall.SIGTERM {
		px.terminate(10 * time.Second)
	} else {
		px.kill()
	}
	restartAt := time.Now()
	px.restart()
	back, recovery := px.waitWorkers(2, 15*time.Second)
	recoveredAt := restartAt.Add(recovery)
	time.Sleep(2 * time.Second)
	outs := l.stop()

	c := tally(outs)
	after := where(outs, startedIn(recoveredAt, time.Now()))
	ca := tally(after)
	var ck checks
	ck.add(back && recovery < 3*time.Second, "both workers connected to the new proxy within 3 s of its start", "%s", dur(recovery))
	ck.add(ca.Sent > 0 && ca.Answered == ca.Sent, "every request sent after the workers were back answered", "%d of %d%s", ca.Answered, ca.Sent, messages(after, 2))
	ck.add(c.Answered > 0 && c.Lost <= 4, "at most one request per caller lost across the restart (4 callers)", "%d lost", c.Lost)
	s.record(&row{Requests: &c, Recovery: recovery, RSS: fmt.Sprintf("proxy %s, new %s", mb(firstHWM), mb(px.hwm())), Checks: ck})
}
