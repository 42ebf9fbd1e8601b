//go:build faults

package faults

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 19-5. vpoller.events through the real Zabbix agent 2: the agent is
// stopped, nine events happen, the agent starts again on the same state
// file; its first poll delivers the nine, none twice.
func Test19_5EventsAcrossAgentRestart(t *testing.T) {
	s := newScenario(t, "19-5", "events made while the Zabbix agent 2 restarts are delivered (real agent)")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	ctx := context.Background()
	gc, err := govmomi.NewClient(ctx, &url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", vc.port), Path: "/sdk",
		User: url.UserPassword(vcUser, vcPass)}, true)
	s.must(err, "govmomi client")
	defer func() { _ = gc.Logout(ctx) }()
	post := func(format string, n int) {
		for i := range n {
			_, err := methods.PostEvent(ctx, gc.Client, &types.PostEvent{This: *gc.ServiceContent.EventManager,
				EventToPost: &types.GeneralUserEvent{GeneralEvent: types.GeneralEvent{Event: types.Event{FullFormattedMessage: fmt.Sprintf(format, i)}}}})
			s.must(err, "post an event")
		}
	}
	key := "vpoller.events[" + vc.name + "]"
	poll := func(a *agent) []string {
		v, err := passive(a.addr, key, 15*time.Second)
		s.must(err, key)
		if v == "" {
			return nil
		}
		return strings.Split(v, "\n")
	}
	a := s.startAgent(px.front)
	_ = poll(a) // the first poll starts at "now"
	post("before %d", 2)
	before := poll(a)
	a.terminate(10 * time.Second)
	post("while the agent is down %d", 7)
	vm, err := find.NewFinder(gc.Client).VirtualMachine(ctx, "DC0_H0_VM1")
	s.must(err, "find a VM")
	task, err := vm.PowerOff(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	s.must(err, "power off")
	b := s.startAgent(px.front)
	after := poll(b)
	again := poll(b)
	down := 0
	for _, l := range after {
		if strings.Contains(l, "while the agent is down") {
			down++
		}
	}
	twice := 0
	for _, l := range after {
		for _, m := range before {
			if l == m {
				twice++
			}
		}
	}
	c := counts{Sent: 9, Answered: len(after), Lost: max(0, 9-len(after))}
	var ck checks
	ck.add(len(before) == 2, "before the restart: the 2 events of the period", "%d lines", len(before))
	ck.add(len(after) == 9 && down == 7, "0 events lost: the 9 events made while the agent was down (7 posted, 2 of the power-off) in the first poll after", "%d lines, %d posted ones: %q", len(after), down, after)
	ck.add(twice == 0 && len(again) == 0, "none twice: nothing delivered before comes again, the next poll is empty", "%d repeated, next poll %d lines", twice, len(again))
	s.record(&row{Requests: &c, Recovery: -1, RSS: "-", Checks: ck})
}

// 19-6. A wrong vCenter password under steady requests: vCenter SSO
// locks an account after a few failures, so the worker tries at most 2
// logins per 5 minutes (the default login_backoff: 2m30s, doubling); every
// reply says why and when the next attempt is.
func Test19_6WrongPassword(t *testing.T) {
	s := newScenario(t, "19-6", "wrong vCenter password under steady requests: logins paused")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	s.writeFile("worker-vsphere.d/"+vc.name+".conf",
		strings.Replace(vc.agentFile(0), "password = "+vcPass, "password = not-the-password", 1), 0o600)
	w := s.startWorker("worker", workerSpec{proxy: px.back})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	l, err := startLoad(loadSpec{endpoint: px.front, conc: 4, timeout: 10 * time.Second, retries: 1, pause: 100 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	const window = 40 * time.Second
	time.Sleep(window)
	outs := l.stop()
	var st struct {
		VSphere struct {
			Agents map[string]struct {
				Calls map[string]int `json:"soap_calls_by_method"`
			} `json:"agents"`
		} `json:"vsphere"`
	}
	s.must(w.status(&st), "worker status")
	logins := st.VSphere.Agents[vc.name].Calls["Login"]
	ct := tally(outs)
	msg := ""
	if len(outs) > 0 {
		msg = outs[len(outs)-1].msg
	}
	var ck checks
	ck.add(ct.Sent >= 100, "steady requests", "%d in %s", ct.Sent, window)
	ck.add(logins == 1, "1 login attempt in the window (at most 2 per 5 minutes; before: one per request and every 30 s)",
		"%d Login calls in %s", logins, window)
	ck.add(strings.Contains(msg, "refused by vCenter") && strings.Contains(msg, "next attempt after") && !strings.Contains(msg, "not-the-password"),
		"replies name the account and the next attempt, never the password", "%q", msg)
	ct.Errored, ct.Answered = 0, ct.Sent-ct.Lost // every reply is the expected refusal
	s.record(&row{Requests: &ct, Recovery: -1, RSS: "-", Checks: ck})
}

// 19-10. A vCenter (or an impostor on its address) answers the login with
// content govmomi cannot digest, which panics in its login path: its
// requests get an error, the worker lives and serves its other vCenter.
func Test19_10LoginPanic(t *testing.T) {
	s := newScenario(t, "19-10", "a vCenter answer that panics the login path: the worker lives")
	vc := s.startVcenter("127.0.0.1")
	// A RetrieveServiceContent answer without the managers (no vCenter
	// sends it; the session package's test fixture).
	body, err := os.ReadFile("../vpoller/vsphere/session/testdata/servicecontent-without-managers.xml")
	s.must(err, "fixture")
	odd := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(body)
	}))
	defer odd.Close()
	_, oddPort, _ := net.SplitHostPort(odd.Listener.Addr().String())
	s.writeFile("worker-vsphere.d/localhost.conf", fmt.Sprintf("hostname = localhost\nport = %s\nusername = u\npassword = p\nthumbprint = %s\n",
		oddPort, soap.ThumbprintSHA256(odd.Certificate())), 0o600)
	px := s.startProxy("proxy", proxySpec{})
	w := s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	l, err := startLoad(loadSpec{endpoint: px.front, conc: 4, timeout: 10 * time.Second, retries: 1, pause: 10 * time.Millisecond,
		next: func(i int) (string, *vpoller.Request) {
			if i%2 == 0 {
				return "odd", pollVM("localhost")
			}
			return "good", pollVM(vc.name)
		}})
	s.must(err, "load")
	time.Sleep(5 * time.Second)
	outs := l.stop()
	odds, goods := tally(where(outs, tagged("odd"))), tally(where(outs, tagged("good")))
	msg := ""
	for _, o := range where(outs, tagged("odd")) {
		msg = o.msg
	}
	var ck checks
	ck.add(w.alive(), "the worker lives", "alive %v, panics in its output %d", w.alive(), w.panics())
	ck.add(odds.Sent > 0 && odds.Errored == odds.Sent, "every request for the odd vCenter gets an error reply", "%d of %d: %q", odds.Errored, odds.Sent, msg)
	ck.add(goods.Sent > 0 && goods.Answered == goods.Sent, "the other vCenter is served throughout", "%d of %d", goods.Answered, goods.Sent)
	all := tally(outs)
	all.Errored, all.Answered = 0, goods.Answered+odds.Errored
	s.record(&row{Requests: &all, Recovery: -1, RSS: "worker " + mb(w.hwm()), Checks: ck})
}
