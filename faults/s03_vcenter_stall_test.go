//go:build faults

package faults

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Bulkhead settings of the vCenter scenarios: a 2 s call timeout, the
// breaker opens after 3 consecutive failures and probes after 3 s.
const (
	vcTimeout       = 2
	breakerFailures = 3
	breakerCooldown = 3
)

// breakerLines are the [worker] lines of the vCenter scenarios (3a, 3b,
// 4). They test the vCenter call path (bulkhead, breaker, re-login), so
// the watched property mirror of vpoller/vsphere (mirror = true by
// default once it lands) is off: it answers reads from memory and would
// hide a stalled vCenter or a lost session for up to mirror_max_age.
// Without the mirror the key is ignored.
var breakerLines = []string{fmt.Sprintf("breaker_failures = %d", breakerFailures), fmt.Sprintf("breaker_cooldown = %d", breakerCooldown),
	"mirror = false"}

// firstSuccess waits up to d for an answered request of tag sent at or
// after from; it returns when that reply came.
func firstSuccess(l *load, tag string, from time.Time, d time.Duration) (time.Time, bool) {
	var at time.Time
	ok, _ := until(d, 20*time.Millisecond, func() bool {
		for _, o := range l.snapshot() {
			if o.tag == tag && o.kind == answered && !o.start.Before(from) && (at.IsZero() || o.end.Before(at)) {
				at = o.end
			}
		}
		return !at.IsZero()
	})
	return at, ok
}

// 3a. One worker serves two vCenters; one is SIGSTOPped for 5 s. The
// other's requests keep their latency (bulkhead); the stalled one's fail
// fast once its breaker is open; after SIGCONT it serves again.
func Test03VcenterStall(t *testing.T) {
	s := newScenario(t, "3a", "vCenter SIGSTOP 5 s, 2 vCenters on 1 worker")
	vcA := s.startVcenter("127.0.0.1")
	vcB := s.startVcenter("localhost")
	px := s.startProxy("proxy", proxySpec{})
	w := s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vcA, vcB}, timeout: vcTimeout, extra: breakerLines})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	s.warm(px.front, 4, pollVM(vcA.name), pollVM(vcB.name))

	l, err := startLoad(loadSpec{endpoint: px.front, conc: 8, timeout: 8 * time.Second, retries: 1, pause: 10 * time.Millisecond,
		next: func(i int) (string, *vpoller.Request) {
			if i < 4 {
				return "A", pollVM(vcA.name)
			}
			return "B", pollVM(vcB.name)
		}})
	s.must(err, "load")
	time.Sleep(time.Second)
	stopAt := time.Now()
	vcB.p.signal(syscall.SIGSTOP)
	time.Sleep(5 * time.Second)
	contAt := time.Now()
	vcB.p.signal(syscall.SIGCONT)
	recoveredAt, recovered := firstSuccess(l, "B", contAt, 15*time.Second)
	time.Sleep(500 * time.Millisecond)
	outs := l.stop()
	st := w.mustWorkerStatus()

	c := tally(outs)
	aStall := where(outs, and(tagged("A"), startedIn(stopAt, contAt)))
	ca := tally(aStall)
	// The breaker is open from the first "unreachable since" reply on.
	var openAt time.Time
	for _, o := range where(outs, tagged("B")) {
		if strings.Contains(o.msg, "unreachable since") && (openAt.IsZero() || o.end.Before(openAt)) {
			openAt = o.end
		}
	}
	var bOpen []outcome
	if !openAt.IsZero() {
		bOpen = where(outs, and(tagged("B"), startedIn(openAt, contAt)))
	}
	fast := 0
	for _, o := range bOpen {
		if o.kind == errored && strings.Contains(o.msg, "unreachable since") {
			fast++
		}
	}
	recovery := time.Duration(-1)
	if recovered {
		recovery = recoveredAt.Sub(contAt)
	}
	warned := strings.Contains(w.output(), "vCenter unreachable")

	var ck checks
	ck.add(ca.Sent >= 50 && ca.Answered == ca.Sent, "other vCenter during the stall: every request answered", "%d of %d%s", ca.Answered, ca.Sent, messages(aStall, 2))
	ck.add(ca.Sent > 0 && percentile(aStall, 0.99) < time.Second, "other vCenter during the stall: p99 < 1 s", "p99 %s, max %s", dur(percentile(aStall, 0.99)), dur(percentile(aStall, 1)))
	ck.add(!openAt.IsZero() && openAt.Sub(stopAt) < time.Duration(breakerFailures*vcTimeout+2)*time.Second,
		fmt.Sprintf("stalled vCenter: breaker open within %d x %d s + 2 s", breakerFailures, vcTimeout), "%s", durSince(openAt, stopAt))
	ck.add(len(bOpen) >= 10 && percentile(bOpen, 0.99) < time.Second && fast*10 >= len(bOpen)*9,
		"stalled vCenter after the breaker opened: >= 90% fail at once with \"unreachable since\", p99 < 1 s",
		"%d of %d, p99 %s", fast, len(bOpen), dur(percentile(bOpen, 0.99)))
	ck.add(recovered && recovery < time.Duration(breakerCooldown+vcTimeout+3)*time.Second,
		fmt.Sprintf("after SIGCONT the stalled vCenter answers again within cooldown %d s + timeout %d s + 3 s", breakerCooldown, vcTimeout), "%s", dur(recovery))
	ck.add(warned, "the worker logged a WARN for the unreachable vCenter", "%v", warned)
	ck.add(c.Lost == 0, "lost == 0 (every request got a reply)", "%d", c.Lost)
	s.record(&row{Requests: &c, Recovery: recovery, RSS: "worker " + mb(w.hwm()), Checks: ck})
	t.Logf("lanes: %+v", st.Lanes)
}

// durSince formats at - from, or "never" when at is zero.
func durSince(at, from time.Time) string {
	if at.IsZero() {
		return "never"
	}
	return dur(at.Sub(from))
}
