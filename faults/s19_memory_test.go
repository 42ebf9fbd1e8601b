//go:build faults

package faults

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// partialFlood is n connections to the frontend, each completing the
// handshake and then sending all but the last byte of a request of size
// bytes, then holding the connection open.
type partialFlood struct {
	mu    sync.Mutex
	conns []*rawConn
	// established: handshakes completed; handshakeFailed: connects or
	// handshakes that failed; complete: writers that sent all but the
	// last byte; cut: writers the proxy stopped by closing.
	established, handshakeFailed, complete, cut atomic.Int64
	lastByte                                    atomic.Int64 // UnixNano of the last write that ended
	writers                                     sync.WaitGroup
}

// floodPartial opens the connections with dialers goroutines, from
// sources loopback addresses; each connection's bytes go out in a
// goroutine of its own. It returns when every writer has finished (sent
// its bytes or been cut off).
func floodPartial(addr string, n, sources, dialers, size int) *partialFlood {
	f := &partialFlood{}
	// One buffer for every connection: the suite must not hold a
	// gigabyte itself. The request is the REQ envelope (an empty frame)
	// and one frame of size bytes, of which size-1 are sent.
	body := bytes.Repeat([]byte("x"), size-1)
	head := append(frame(nil, true), frameHeader(uint64(size), false)...)
	next := make(chan int)
	var dialing sync.WaitGroup
	for range dialers {
		dialing.Go(func() {
			for i := range next {
				c, err := dialRawFrom(context.Background(), loopbackSource(i%sources), addr, 10*time.Second)
				if err == nil {
					if err = c.handshake("DEALER", "", ""); err != nil {
						c.Close()
					}
				}
				if err != nil {
					f.handshakeFailed.Add(1)
					continue
				}
				f.established.Add(1)
				f.mu.Lock()
				f.conns = append(f.conns, c)
				f.mu.Unlock()
				f.writers.Go(func() {
					_ = c.SetDeadline(time.Now().Add(60 * time.Second))
					_, err := c.Write(head)
					if err == nil {
						_, err = c.Write(body)
					}
					if err != nil {
						f.cut.Add(1)
					} else {
						f.complete.Add(1)
					}
					f.lastByte.Store(time.Now().UnixNano())
					_ = c.SetDeadline(time.Time{})
				})
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	dialing.Wait()
	f.writers.Wait()
	return f
}

func (f *partialFlood) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *partialFlood) String() string {
	return fmt.Sprintf("%d connected (%d failed), %d sent all but the last byte, %d cut off by the proxy",
		f.established.Load(), f.handshakeFailed.Load(), f.complete.Load(), f.cut.Load())
}

// 19-2. Memory not counted. 1,000 clients (from 16 loopback addresses)
// each send all but the last byte of a request just under the 1 MiB
// max_request_bytes (1,048,000 bytes) to a proxy with max_memory 64 MiB,
// and hold their connections. The proxy charges what it reads to the
// budget, closes the connections whose next chunk does not fit, and the
// stall timeout (10 s) closes the stalled ones and frees their share: its
// peak RSS stays under max_memory + 50 MB, a small request is answered
// while the 1,000 are still open (once the stalled ones are closed), the
// budget's "used" returns to ~0, and requests are answered afterwards.
func Test19_2PartialRequests(t *testing.T) {
	s := newScenario(t, "19-2", "1,000 clients each send all but the last byte of a 1 MB request (max_memory 64 MiB)")
	const (
		maxMemory = 64 << 20
		n         = 1000
		size      = 1048000
		stall     = 10 * time.Second // zmtp.DefaultStallTimeout
	)
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{extra: []string{fmt.Sprintf("max_memory = %d", maxMemory)}})
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	s.warm(px.front, 2, pollVM(vc.name))
	base := px.rss()
	// The budget counts as full within 1 MiB of its limit: the next
	// chunk of a stalled request no longer fits.
	sm := startSampler(px, 50*time.Millisecond, maxMemory-1<<20)
	probe, err := startLoad(loadSpec{endpoint: px.front, conc: 1, timeout: 2 * time.Second, retries: 1, pause: 100 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "probe", pollVM(vc.name) }})
	s.must(err, "probe")

	began := time.Now()
	f := floodPartial(hostPort(px.front), n, 16, 32, size)
	defer f.close()
	t.Logf("flood: %s; writers done after %s", f, time.Since(began))
	full, _ := until(10*time.Second, 20*time.Millisecond, func() bool { p, _ := sm.now(); return !p.markAt.IsZero() })
	peakFull, _ := sm.now()
	fullAt := peakFull.markAt
	if !full {
		fullAt = began
	}
	// A small request answered while the budget is full or after the
	// stall timeout has closed the stalled requests and freed their
	// share, the flood's connections still open.
	answeredAt, answered := firstSuccess(probe, "probe", fullAt, stall+10*time.Second)
	freed, _ := until(stall+10*time.Second, 50*time.Millisecond, func() bool {
		_, st := sm.now()
		return st.Status != "" && st.Memory.Used < 64<<10
	})
	freedAt := time.Now()
	_, stFreed := sm.now()
	probes := probe.stop()
	stillOpen := f.established.Load()
	f.close()
	// Requests after the flood.
	l, err := startLoad(loadSpec{endpoint: px.front, conc: 2, timeout: 5 * time.Second, retries: 1, total: 20,
		next: func(int) (string, *vpoller.Request) { return "after", pollVM(vc.name) }})
	s.must(err, "load")
	ok, _ := until(15*time.Second, 20*time.Millisecond, func() bool { return len(l.snapshot()) >= 20 })
	afterOuts := l.stop()
	if !ok {
		t.Logf("only %d of 20 requests finished after the flood", len(afterOuts))
	}
	peak := sm.finish()
	hwm := px.hwm()
	st := px.mustProxyStatus()

	ca := tally(afterOuts)
	during := where(probes, startedIn(fullAt, answeredAt))
	whileFull := tally(where(probes, startedIn(fullAt, freedAt)))
	cp := tally(probes)
	c := counts{Sent: cp.Sent + ca.Sent, Answered: cp.Answered + ca.Answered, Lost: cp.Lost + ca.Lost, Errored: cp.Errored + ca.Errored}
	recovery := time.Duration(-1)
	if answered {
		recovery = answeredAt.Sub(fullAt)
	}
	var ck checks
	ck.add(f.established.Load() >= n*9/10, fmt.Sprintf("the flood: %d connections, each sends %d of %d bytes", n, size-1, size), "%s", f)
	ck.add(hwm < maxMemory+50<<20, "proxy peak RSS (VmHWM) < max_memory + 50 MB", "%s (before %s; budget used peaked at %s of %s, %d status samples)",
		mb(hwm), mb(base), mb(peak.memUsed), mb(maxMemory), peak.samples)
	ck.add(full && peak.memUsed <= maxMemory, "the budget fills and holds: memory used <= max_memory at every sample",
		"full (within 1 MiB) %s after the flood began; peak %d bytes", dur(fullAt.Sub(began)), peak.memUsed)
	ck.add(answered && recovery <= stall+5*time.Second,
		fmt.Sprintf("a small request answered within the stall timeout (%s) + 5 s of the budget filling, the flood's connections still open", stall),
		"%s after it (%d probes before it: %d answered%s); probes until the budget was freed: %d of %d answered",
		dur(recovery), len(during), tally(during).Answered, messages(during, 2), whileFull.Answered, whileFull.Sent)
	ck.add(freed, "memory used back to ~0 (< 64 KiB) while the flood's connections are still open", "%d bytes, %s after the budget filled (reading %d, requests %d); %d connections open",
		stFreed.Memory.Used, dur(freedAt.Sub(fullAt)), stFreed.Memory.Reading, stFreed.Memory.Requests, stillOpen)
	ck.add(ca.Sent == 20 && ca.Answered == 20, "20 requests answered after the flood", "%d of %d%s; frontend evicted %d, active %d",
		ca.Answered, ca.Sent, messages(afterOuts, 2), st.Frontend.Evicted, st.Frontend.Active)
	s.record(&row{Requests: &c, Recovery: recovery, RSS: "proxy " + mb(hwm), Checks: ck})
}

// 19-3. In-flight uncapped, held cap bypassed. A rogue worker (python3-
// zmq: reads every request, never replies, answers PINGs) is the only
// worker when 300 requests of 900 KB arrive at once (max_memory 64 MiB,
// max_inflight_per_worker 32, max_held_bytes 16 MiB). The rogue is given
// at most 32, at most 16 MiB are held, the rest are refused at once;
// when the rogue is killed its 32 are re-dispatched within the caps: the
// held requests are at their cap, so they are refused with a reply that
// says so, not held beyond it. A real (Python) worker then answers what
// is held. The handshake pools are the default ones: the 300 clients
// connecting at once from one address wait for their slots (19-11).
func Test19_3RogueWorker(t *testing.T) {
	s := newScenario(t, "19-3", "a rogue worker keeps 900 KB requests unanswered (300 sent; max_memory 64 MiB)")
	const (
		maxMemory   = 64 << 20
		maxInflight = 32
		maxHeld     = 16 << 20
		n           = 300
		size        = 900 << 10
	)
	px := s.startProxy("proxy", proxySpec{extra: []string{fmt.Sprintf("max_memory = %d", maxMemory),
		fmt.Sprintf("max_inflight_per_worker = %d", maxInflight), fmt.Sprintf("max_held_bytes = %d", maxHeld)}})
	py := testutil.Python(t, false)
	rogue := s.spawn("rogue-worker", py, []string{"testdata/rogueworker.py", px.back}, spawnOpts{})
	px.mustSeeWorkers(1, 15*time.Second, "the rogue worker")
	base := px.rss()
	sm := startSampler(px, 20*time.Millisecond, 0)

	big := strings.Repeat("a", size)
	l, err := startLoad(loadSpec{endpoint: px.front, conc: n, timeout: 30 * time.Second, retries: 1, total: n, cancel: true,
		next: func(int) (string, *vpoller.Request) {
			return "big", &vpoller.Request{Method: "vm.get", Hostname: "vc", Name: big}
		}})
	s.must(err, "load")
	// Settled: every request answered, refused, held or at the rogue.
	var atRogue, held int
	settled, _ := until(30*time.Second, 20*time.Millisecond, func() bool {
		st, err := px.proxyStatus()
		if err != nil || len(st.WorkerConns) != 1 {
			return false
		}
		atRogue, held = st.WorkerConns[0].InFlight, st.Held
		return len(l.snapshot())+held+atRogue >= n
	})
	before := px.mustProxyStatus()
	outsBefore := l.snapshot()
	killAt := time.Now()
	rogue.kill()
	// Its requests are re-dispatched: held while there is room, refused
	// with a clear reply beyond it.
	redone, _ := until(15*time.Second, 20*time.Millisecond, func() bool {
		st, err := px.proxyStatus()
		return err == nil && st.Workers == 0 && st.Redispatched >= before.Redispatched+atRogue
	})
	ok, _ := until(15*time.Second, 20*time.Millisecond, func() bool {
		st, err := px.proxyStatus()
		return err == nil && len(l.snapshot())+st.Held >= n
	})
	afterKill := px.mustProxyStatus()
	outsKill := l.snapshot()
	// A real worker takes what is held.
	goodAt := time.Now()
	s.spawn("pyworker", py, []string{"testdata/pyworker.py", px.back, "good", "never-poison"}, spawnOpts{})
	drained, _ := until(20*time.Second, 20*time.Millisecond, func() bool { return len(l.snapshot()) >= n })
	outs := l.stop()
	peak := sm.finish()
	hwm := px.hwm()
	end := px.mustProxyStatus()

	notQueued := func(o outcome) bool { return o.kind == errored && strings.Contains(o.msg, "Request not queued") }
	refusedAtSubmit := len(where(outsBefore, notQueued))
	refusedAfterKill := len(where(outsKill, and(notQueued, func(o outcome) bool { return o.end.After(killAt) })))
	answeredByGood := len(where(outs, func(o outcome) bool { return o.kind == answered && o.end.After(goodAt) }))
	// The requests neither refused, held nor at the rogue: connections the
	// proxy closed because their next chunk did not fit in the memory
	// budget while the 300 arrived at once (the client sees the close at
	// once; one with retries would try again).
	others := where(outsBefore, func(o outcome) bool { return !notQueued(o) })
	var slowestOther time.Duration
	closedOthers := 0
	for _, o := range others {
		slowestOther = max(slowestOther, o.latency())
		if o.kind == lost && strings.Contains(o.msg, "send/receive failed") {
			closedOthers++
		}
	}
	budgetLogged := strings.Contains(px.output(), "did not fit in the memory budget")
	evictedHS := px.mustProxyStatus().Frontend.HandshakesEvicted
	c := tally(outs)
	heldBound := maxHeld / size
	var ck checks
	ck.add(settled && atRogue > 0, fmt.Sprintf("%d requests of 900 KB at once: answered, refused, held or at the rogue", n),
		"%d refused at once (\"Request not queued\"), %d held (%s), %d at the rogue, %d others",
		refusedAtSubmit, held, mb(int64(before.HeldBytes)), atRogue, len(others))
	ck.add(closedOthers == len(others) && slowestOther < 10*time.Second && (len(others) == 0 || budgetLogged),
		"the others: connections closed by the proxy at once because their request did not fit in max_memory (logged), no reply owed",
		"%d of %d closed (send/receive failed), slowest %s (client limit 30 s), logged %v, frontend handshakes evicted %d%s",
		closedOthers, len(others), dur(slowestOther), budgetLogged, evictedHS, messages(others, 1))
	ck.add(peak.workerInflight <= maxInflight && peak.inflightBytes <= int64(maxInflight)*(size+1<<10),
		fmt.Sprintf("the rogue owes at most max_inflight_per_worker (%d) at every sample", maxInflight),
		"peak %d requests, %s in flight (%d samples)", peak.workerInflight, mb(peak.inflightBytes), peak.samples)
	ck.add(peak.heldBytes <= maxHeld && peak.held <= heldBound, fmt.Sprintf("held bytes <= max_held_bytes (%d) at every sample", maxHeld),
		"peak %d bytes (%d requests)", peak.heldBytes, peak.held)
	ck.add(hwm < maxMemory+50<<20, "proxy peak RSS (VmHWM) < max_memory + 50 MB", "%s (before %s; budget used peaked at %s)", mb(hwm), mb(base), mb(peak.memUsed))
	ck.add(redone && ok && afterKill.Redispatched-before.Redispatched == atRogue && afterKill.HeldBytes <= maxHeld &&
		refusedAfterKill == atRogue-(afterKill.Held-before.Held),
		"the rogue killed: its requests re-dispatched within the caps, those that do not fit refused with a clear reply",
		"redispatched %d of %d; held %d -> %d (%s); %d refused \"Request not queued\" after the kill",
		afterKill.Redispatched-before.Redispatched, atRogue, before.Held, afterKill.Held, mb(int64(afterKill.HeldBytes)), refusedAfterKill)
	ck.add(drained && answeredByGood == afterKill.Held, "a real worker then answers every held request", "%d of %d; held now %d, outstanding %d",
		answeredByGood, afterKill.Held, end.Held, end.Outstanding)
	s.record(&row{Requests: &c, Recovery: -1, RSS: "proxy " + mb(hwm), Checks: ck})
}
