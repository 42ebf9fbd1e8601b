//go:build faults

package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// poisonMarker makes the Python workers of scenario 8 exit.
const poisonMarker = "POISON-e1f6"

// 8. Three Python workers (the original framing) behind our proxy; one
// request kills any worker that receives it. The proxy re-dispatches it
// once, then answers "Task vm.get failed: worker lost twice": at most two
// workers die and the third keeps serving.
func Test08PoisonRequest(t *testing.T) {
	s := newScenario(t, "8", "poison request, 3 Python workers")
	px := s.startProxy("proxy", proxySpec{})
	var workers []*proc
	for i := range 3 {
		name := fmt.Sprintf("pyworker-%d", i+1)
		p := s.spawn(name, testutil.Python(t, false), []string{"testdata/pyworker.py", px.back, name, poisonMarker}, spawnOpts{})
		workers = append(workers, p)
	}
	px.mustSeeWorkers(3, 15*time.Second, "3 Python workers")

	normal := func(int) (string, *vpoller.Request) {
		return "normal", &vpoller.Request{Method: "vm.get", Hostname: "vc", Name: "vm1", Properties: []string{"runtime.powerState"}}
	}
	l, err := startLoad(loadSpec{endpoint: px.front, conc: 2, timeout: 5 * time.Second, retries: 1, pause: 10 * time.Millisecond, next: normal})
	s.must(err, "load")
	time.Sleep(500 * time.Millisecond)

	cl, err := client.New(px.front, client.Options{Timeout: 10 * time.Second, Retries: 1})
	s.must(err, "client")
	poison := call(cl, "poison", &vpoller.Request{Method: "vm.get", Hostname: "vc", Name: poisonMarker, Properties: []string{"runtime.powerState"}})
	_ = cl.Close()
	time.Sleep(time.Second)
	outs := append(l.stop(), poison)
	st, serr := px.proxyStatus()

	dead, poisoned := 0, 0
	var alive *proc
	for _, p := range workers {
		if !p.alive() {
			dead++
			if p.exitCode() == 3 {
				poisoned++
				p.expected.Store(true) // the death the scenario provoked
			}
		} else {
			alive = p
		}
	}
	// The survivor keeps serving: ask it 10 more times.
	var after []outcome
	if alive != nil {
		l2, err := startLoad(loadSpec{endpoint: px.front, conc: 1, timeout: 5 * time.Second, retries: 1, total: 10, next: normal})
		s.must(err, "load")
		ok, _ := until(10*time.Second, 20*time.Millisecond, func() bool { return len(l2.snapshot()) >= 10 })
		after = l2.stop()
		if !ok {
			t.Logf("the survivor answered %d of 10", len(after))
		}
	}
	c := tally(outs)
	ca := tally(after)
	normalOuts := where(outs, tagged("normal"))
	cn := tally(normalOuts)
	want := "Task vm.get failed: worker lost twice"
	var ck checks
	ck.add(poison.kind == errored && strings.Contains(poison.msg, want), fmt.Sprintf("the poison request gets %q", want), "%s in %s", poison.msg, dur(poison.latency()))
	ck.add(dead <= 2 && poisoned == dead, "at most two workers die (by the poison)", "%d died", dead)
	ck.add(alive != nil && ca.Sent == 10 && ca.Answered == 10, "the third worker keeps serving: 10 more requests answered", "%d of %d", ca.Answered, ca.Sent)
	ck.add(cn.Answered == cn.Sent && cn.Sent > 0, "other requests meanwhile all answered", "%d of %d%s", cn.Answered, cn.Sent, messages(normalOuts, 2))
	ck.add(serr == nil && st.LostTwice == 1, "status counts lost_twice == 1", "%d, err %v", st.LostTwice, serr)
	s.record(&row{Requests: &c, Recovery: -1, RSS: "proxy " + mb(px.hwm()), Checks: ck})
}
