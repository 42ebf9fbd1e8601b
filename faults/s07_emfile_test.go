//go:build faults

package faults

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 7. The proxy's open-file limit is lowered (prlimit, util-linux) until
// its frontend's accept fails with EMFILE; once descriptors are free
// again, it accepts and serves (the accept loop used to return for good
// on the first error while status said "running").
func Test07AcceptEMFILE(t *testing.T) {
	s := newScenario(t, "7", "accept under EMFILE (prlimit), then descriptors freed")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	s.warm(px.front, 2, pollVM(vc.name))

	pid := fmt.Sprint(px.pid())
	out, code, err := runCmd(5*time.Second, "prlimit", "--pid", pid, "--nofile", "--noheadings", "--raw", "--output", "SOFT")
	if err != nil || code != 0 {
		s.fatalf("prlimit (util-linux) is needed: exit %d %v %s", code, err, out)
	}
	soft := strings.TrimSpace(out)
	low := px.openFDs() + 8
	if out, code, err := runCmd(5*time.Second, "prlimit", "--pid", pid, fmt.Sprintf("--nofile=%d:", low)); err != nil || code != 0 {
		s.fatalf("prlimit --nofile=%d: exit %d %v %s", low, code, err, out)
	}
	restore := func() { _, _, _ = runCmd(5*time.Second, "prlimit", "--pid", pid, "--nofile="+soft+":") }
	defer restore()

	// Connect until the proxy logs a failed accept (the kernel queues
	// connections the proxy cannot take).
	var conns []net.Conn
	exhausted, _ := until(10*time.Second, 10*time.Millisecond, func() bool {
		if strings.Contains(px.output(), "accept failed") {
			return true
		}
		if len(conns) < 200 {
			if c, err := net.DialTimeout("tcp", hostPort(px.front), time.Second); err == nil {
				conns = append(conns, c)
			}
		}
		return false
	})
	freedAt := time.Now()
	for _, c := range conns {
		c.Close()
	}

	// With the low limit still in place: free descriptors are enough.
	l, err := startLoad(loadSpec{endpoint: px.front, conc: 2, timeout: time.Second, retries: 5, pause: 20 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	servedAt, served := firstSuccess(l, "poll", freedAt, 10*time.Second)
	time.Sleep(time.Second)
	outs := l.stop()
	st, serr := px.proxyStatus()
	restore()

	c := tally(outs)
	recovery := time.Duration(-1)
	var settled []outcome
	if served {
		recovery = servedAt.Sub(freedAt)
		settled = where(outs, startedIn(servedAt, time.Now()))
	}
	cs := tally(settled)
	var ck checks
	ck.add(exhausted, "accept failed for want of descriptors (proxy log)", "after %d connections with the limit at %d (was %s)", len(conns), low, soft)
	ck.add(serr == nil && st.Frontend.AcceptErrors > 0, "status counts accept_errors > 0 and answers", "%d, err %v", st.Frontend.AcceptErrors, serr)
	ck.add(served && recovery < 3*time.Second, "a client is served within 3 s of freeing the descriptors", "%s", dur(recovery))
	ck.add(cs.Sent > 0 && cs.Answered == cs.Sent, "every request after that answered", "%d of %d%s", cs.Answered, cs.Sent, messages(settled, 2))
	s.record(&row{Requests: &c, Recovery: recovery, RSS: "proxy " + mb(px.hwm()), Checks: ck})
}
