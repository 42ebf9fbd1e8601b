//go:build faults

package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// 5d. No worker is connected; 300 requests of 900 KB arrive (what held
// 270 MB before). The proxy holds requests up to max_held_bytes (32 MiB
// by default) and refuses the rest at once with "Request not queued".
func Test05dHeldRequests(t *testing.T) {
	s := newScenario(t, "5d", "no worker: 300 requests of 900 KB held or refused")
	// The default handshake pools: the 300 clients connecting at once
	// from one address wait for their slots (row 19-11).
	px := s.startProxy("proxy", proxySpec{})
	const (
		n       = 300
		size    = 900 << 10
		maxHeld = 32 << 20 // the default max_held_bytes
		conc    = 300      // all at once
	)
	big := strings.Repeat("a", size)
	sent := 0
	// The held requests are never answered (no worker): the load cancels
	// them when it stops (counted lost).
	l, err := startLoad(loadSpec{endpoint: px.front, conc: conc, timeout: 20 * time.Second, retries: 1, total: n, cancel: true,
		next: func(int) (string, *vpoller.Request) {
			return "big", &vpoller.Request{Method: "vm.get", Hostname: "vc", Name: big}
		}})
	s.must(err, "load")
	ok, _ := until(30*time.Second, 10*time.Millisecond, func() bool {
		sent = len(l.snapshot())
		st, err := px.proxyStatus()
		return err == nil && st.Held+st.RefusedHeldFull >= n
	})
	st := px.mustProxyStatus()
	outs := l.stop()
	hwm := px.hwm()
	c := tally(outs)
	refusedMsgs := 0
	for _, o := range outs {
		if o.kind == errored && strings.Contains(o.msg, "Request not queued") {
			refusedMsgs++
		}
	}
	bound := maxHeld/size + 1
	var ck checks
	ck.add(ok, fmt.Sprintf("%d requests reached the proxy", n), "held %d + refused %d (callers done %d)", st.Held, st.RefusedHeldFull, sent)
	ck.add(st.HeldBytes <= maxHeld && st.Held <= bound, fmt.Sprintf("held requests capped: held_bytes <= %d (max_held_bytes), held <= %d", maxHeld, bound),
		"held %d, %s", st.Held, mb(int64(st.HeldBytes)))
	ck.add(st.RefusedHeldFull >= n-bound, fmt.Sprintf("refusals counted: refused_held_full >= %d", n-bound), "%d", st.RefusedHeldFull)
	ck.add(refusedMsgs > 0 && refusedMsgs == c.Errored, "refused clients told at once (\"Request not queued\")", "%d of %d errored", refusedMsgs, c.Errored)
	// 300 callers at once: besides the held 32 MiB, the requests being
	// read at that moment (up to 1 MiB each) are in memory.
	ck.add(hwm < 200<<20, "proxy peak RSS < 200 MB (held 32 MiB + requests in transit; uncapped it held 270 MB)", "%s", mb(hwm))
	s.record(&row{Requests: &c, Recovery: -1, RSS: "proxy " + mb(hwm), Checks: ck})
}
