//go:build faults

package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 5a. Every listening socket (the proxy's frontend, backend and
// management socket, the worker's management socket, all over tcp) gets
// every hostile input of attacks(), while a client keeps polling through
// the chain: nothing panics or exits, the service never stops.
func Test05aMalformedInput(t *testing.T) {
	s := newScenario(t, "5a", "malformed/oversized input on every socket (4 sockets x 11 inputs)")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	w := s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	s.warm(px.front, 2, pollVM(vc.name))
	secret := s.mgmtSecret()
	targets := []target{
		{name: "proxy frontend", addr: hostPort(px.front), socketType: "DEALER"},
		{name: "proxy backend", addr: hostPort(px.back), socketType: "DEALER"},
		{name: "proxy mgmt", addr: hostPort(px.mgmt), socketType: "DEALER", user: "vpoller", pass: secret},
		{name: "worker mgmt", addr: hostPort(w.mgmt), socketType: "DEALER", user: "vpoller", pass: secret},
	}

	l, err := startLoad(loadSpec{endpoint: px.front, conc: 2, timeout: 5 * time.Second, retries: 1, pause: 20 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	results := attackAll(targets)
	time.Sleep(500 * time.Millisecond)
	outs := l.stop()

	c := tally(outs)
	var harness []string
	tooLarge := false
	for _, r := range results {
		if r.err != nil {
			harness = append(harness, fmt.Sprintf("%s / %s: %v", r.target, r.attack, r.err))
		}
		if r.target == "proxy frontend" && strings.Contains(r.saw, "Request too large") {
			tooLarge = true
		}
		t.Logf("%-15s %-45s %s %v", r.target, r.attack, r.saw, r.err)
	}
	pst, perr := px.proxyStatus()
	_, werr := w.workerStatus()
	var ck checks
	ck.add(len(results) == len(targets)*len(attacks()) && len(harness) == 0, "every input delivered to every socket", "%d of %d%s",
		len(results)-len(harness), len(targets)*len(attacks()), strings.Join(append([]string{""}, harness...), "; "))
	ck.add(tooLarge, "the frontend answers a 2 MiB request with \"Request too large\"", "%v", tooLarge)
	ck.add(perr == nil && werr == nil, "both management sockets still answer status", "proxy: %v, worker: %v", perr, werr)
	ck.add(c.Sent >= 20 && c.Answered == c.Sent, "client load through the chain during the attacks: every request answered", "%d of %d%s", c.Answered, c.Sent, messages(outs, 2))
	ck.add(pst.Frontend.HandshakeFailed > 0 && pst.Backend.HandshakeFailed > 0, "proxy counts the failed handshakes",
		"frontend %d, backend %d, too_large %d", pst.Frontend.HandshakeFailed, pst.Backend.HandshakeFailed, pst.TooLarge)
	s.record(&row{Requests: &c, Recovery: -1, RSS: fmt.Sprintf("proxy %s, worker %s", mb(px.hwm()), mb(w.hwm())), Checks: ck})
}
