//go:build faults

package faults

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// 10. A real Zabbix agent 2 (6.0) with our plugin is asked, as the Zabbix
// server would (passive checks), for vpoller.poll items whose endpoint
// parameter names a hostile server: each item gets an error, and the
// agent and the same plugin process stay alive and keep serving real
// items (the panic used to take the whole agent down).
func Test10ZabbixAgentHostileEndpoint(t *testing.T) {
	s := newScenario(t, "10", "Zabbix agent 2 (6.0): item keys naming a hostile endpoint")
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	a := s.startAgent(px.front)
	good := fmt.Sprintf("vpoller.poll[vm.get,%s,DC0_H0_VM0,runtime.powerState]", vc.name)
	v, err := passive(a.addr, good, 10*time.Second)
	if err != nil || v != "poweredOn" {
		s.fatalf("real item %s = %q, %v", good, v, err)
	}
	pid := a.pluginPID()

	payloads := hostilePeerPayloads()
	names := make([]string, 0, len(payloads))
	for n := range payloads {
		names = append(names, n)
	}
	sort.Strings(names)
	// A peer that accepts and never answers, too: the item must end
	// within the agent's timeout.
	const silent = "silence (accepts, never sends)"
	names = append(names, silent)
	sent, itemErrors, answeredGood := 0, 0, 0
	var bad []string
	var slowest time.Duration
	for _, n := range names {
		h, err := startHostile([][]byte{payloads[n]})
		s.must(err, "hostile server")
		key := fmt.Sprintf("vpoller.poll[vm.get,%s,DC0_H0_VM0,runtime.powerState,,,,,,,%s]", vc.name, h.endpoint())
		start := time.Now()
		v, err := passive(a.addr, key, 15*time.Second)
		took := time.Since(start)
		h.close()
		sent++
		slowest = max(slowest, took)
		var ns *errNotSupported
		if errors.As(err, &ns) {
			itemErrors++
		} else {
			bad = append(bad, fmt.Sprintf("%s: %q %v", n, v, err))
		}
		t.Logf("%s: %q, %v (%s)", n, v, err, dur(took))
		// The agent and the plugin still serve a real item.
		sent++
		if v, err := passive(a.addr, good, 10*time.Second); err == nil && v == "poweredOn" {
			answeredGood++
		} else {
			bad = append(bad, fmt.Sprintf("real item after %s: %q %v", n, v, err))
		}
	}
	ping, perr := passive(a.addr, "agent.ping", 5*time.Second)
	pidAfter := a.pluginPID()
	logText := a.agentLog()
	died := strings.Contains(logText, "died") || strings.Contains(logText, "stopped")

	c := counts{Sent: sent, Answered: answeredGood, Errored: itemErrors, Lost: sent - answeredGood - itemErrors}
	var ck checks
	ck.add(itemErrors == len(names), "every item naming a hostile endpoint gets an item error (ZBX_NOTSUPPORTED)", "%d of %d%s", itemErrors, len(names), strings.Join(append([]string{""}, bad...), "; "))
	ck.add(answeredGood == len(names), "a real item answers after each", "%d of %d", answeredGood, len(names))
	ck.add(slowest < 6*time.Second, "each hostile item ends within the agent's Timeout (5 s) + 1 s", "slowest %s", dur(slowest))
	ck.add(perr == nil && ping == "1" && a.alive(), "the agent is alive: agent.ping = 1", "%q, err %v", ping, perr)
	ck.add(pid != 0 && pidAfter == pid, "the same plugin process before and after", "pid %d -> %d", pid, pidAfter)
	ck.add(!died, "the agent log has no \"plugin ... died\" or \"stopped\" line", "%v", died)
	s.record(&row{Requests: &c, Recovery: -1, RSS: "plugin " + mb(procStatusKB(pidAfter, "VmHWM")<<10), Checks: ck})
}
