//go:build faults

package faults

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// 5b. The dialing side: a hostile "proxy" (a raw TCP server) answers
// vpoller-client and vpoller-worker with absurd sizes and garbage. The
// client fails that call, the worker keeps
// reconnecting; neither panics.
//
// (vpoller-client, like the original, prints a failure reply object and
// exits 0 when no reply came; it exits 1 when no request could be made.)
func Test05bHostileProxy(t *testing.T) {
	s := newScenario(t, "5b", "hostile proxy vs vpoller-client (6 inputs) and vpoller-worker (5)")
	payloads := hostilePeerPayloads()
	names := make([]string, 0, len(payloads))
	for n := range payloads {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([][]byte, len(names))
	for i, n := range names {
		list[i] = payloads[n]
	}

	// The worker first: it reconnects with backoff while the clients run.
	whost, err := startHostile(list)
	s.must(err, "hostile server for the worker")
	defer whost.close()
	w := s.startWorker("worker", workerSpec{proxy: whost.endpoint()})

	var clientBad []string
	clientRuns, clientPanics := 0, 0
	var slowest time.Duration
	// The client also meets a peer that accepts and stays silent.
	const silent = "silence (accepts, never sends)"
	for _, n := range append(names, silent) {
		h, err := startHostile([][]byte{payloads[n]})
		s.must(err, "hostile server for the client")
		start := time.Now()
		out, code, err := runCmd(15*time.Second, bins.client, "-e", h.endpoint(), "-t", "1000", "-r", "2", "-m", "about", "-V", "vc")
		took := time.Since(start)
		h.close()
		clientRuns++
		slowest = max(slowest, took)
		if n := len(panicRE.FindAllString(out, -1)); n > 0 {
			clientPanics += n
		}
		// Exit 0 with the original's "no reply" object on stdout, or 1
		// when the request could not be made; 2 would be a panic.
		if err != nil || (code != 0 && code != 1) || code == 0 && !strings.Contains(out, `"success": 1`) {
			clientBad = append(clientBad, fmt.Sprintf("%s: exit %d %v: %s", n, code, err, tail(out, 200)))
		}
		t.Logf("vpoller-client vs %q: exit %d in %s: %s", n, code, dur(took), strings.TrimSpace(tail(out, 200)))
	}

	served, _ := until(15*time.Second, 100*time.Millisecond, func() bool { return whost.served.Load() >= int64(len(list)) })
	wst, werr := w.workerStatus()
	var ck checks
	ck.add(len(clientBad) == 0, "vpoller-client fails the call against every hostile input (exit 0 with {\"success\": 1, ...} or exit 1)", "%d runs%s", clientRuns, strings.Join(append([]string{""}, clientBad...), "; "))
	ck.add(clientPanics == 0, "vpoller-client output has no panic or goroutine trace", "%d", clientPanics)
	ck.add(slowest < 5*time.Second, "each vpoller-client run ends within 2 attempts x 1 s + 3 s", "slowest %s", dur(slowest))
	ck.add(served, "the worker met every hostile input (reconnecting each time)", "%d connections", whost.served.Load())
	ck.add(werr == nil && !wst.Connected, "the worker still answers status and is not connected to the hostile peer", "err %v, connected %v", werr, wst.Connected)
	s.record(&row{Recovery: -1, RSS: "worker " + mb(w.hwm()), Checks: ck})
}
