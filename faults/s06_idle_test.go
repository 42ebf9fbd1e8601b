//go:build faults

package faults

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// idleFlood is a set of idle connections to one socket: half of them
// complete the ZMTP handshake and then stay silent, the other half are
// half-open (TCP connected, nothing sent).
type idleFlood struct {
	mu       sync.Mutex
	conns    []net.Conn
	complete int // handshakes completed
	refused  int // connections the socket closed or refused at once
	halfOpen int // half-open connections made
}

// flood opens n idle connections to addr with 32 dialers at once.
func flood(addr, socketType, user, pass string, n int) *idleFlood {
	f := &idleFlood{}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				if i%2 == 0 {
					c, err := dialRaw(addr, 5*time.Second)
					if err == nil {
						err = c.handshake(socketType, user, pass)
					}
					f.mu.Lock()
					if err != nil {
						f.refused++
						if c != nil {
							c.Close()
						}
					} else {
						_ = c.SetDeadline(time.Time{})
						f.complete++
						f.conns = append(f.conns, c)
					}
					f.mu.Unlock()
					continue
				}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				f.mu.Lock()
				if err != nil {
					f.refused++
				} else {
					f.halfOpen++
					f.conns = append(f.conns, c)
				}
				f.mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return f
}

func (f *idleFlood) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *idleFlood) String() string {
	return fmt.Sprintf("%d handshakes completed, %d half-open, %d refused", f.complete, f.halfOpen, f.refused)
}

// statusLatency asks status n times and returns the slowest answer and
// the errors.
func statusLatency(d *daemon, n int) (time.Duration, []error) {
	var slowest time.Duration
	var errs []error
	for range n {
		start := time.Now()
		if _, err := d.statusRaw(3 * time.Second); err != nil {
			errs = append(errs, err)
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(100 * time.Millisecond)
	}
	return slowest, errs
}

// 6a. 2,000 idle connections to the frontend (1,000 completed handshakes,
// 1,000 half-open): the connection cap (max_clients 1024) holds, status
// answers within 1 s, and once they close, clients are served again.
func Test06aIdleFrontend(t *testing.T) { idleConnections(t, "6a", "frontend") }

// 6b. The same against the proxy's management socket (tcp, shared
// secret: the completed handshakes present it, as an authorised but idle
// or broken script would).
func Test06bIdleMgmt(t *testing.T) { idleConnections(t, "6b", "mgmt") }

func idleConnections(t *testing.T, id, socket string) {
	s := newScenario(t, id, fmt.Sprintf("2,000 idle connections to the proxy %s", socket))
	vc := s.startVcenter("127.0.0.1")
	px := s.startProxy("proxy", proxySpec{})
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}})
	px.mustSeeWorkers(1, 10*time.Second, "the worker")
	s.warm(px.front, 2, pollVM(vc.name))
	base := px.rss()

	var f *idleFlood
	if socket == "frontend" {
		f = flood(hostPort(px.front), "DEALER", "", "", 2000)
	} else {
		f = flood(hostPort(px.mgmt), "DEALER", "vpoller", s.mgmtSecret(), 2000)
	}
	t.Logf("flood: %s", f)
	slowest, serrs := statusLatency(px, 5)
	// A client with something to ask gets in while they are open: the
	// frontend closes the longest-idle connection to make room.
	cl, err := startLoad(loadSpec{endpoint: px.front, conc: 1, timeout: 5 * time.Second, retries: 1, total: 5,
		next: func(int) (string, *vpoller.Request) { return "during", pollVM(vc.name) }})
	s.must(err, "load")
	ok, _ := until(15*time.Second, 20*time.Millisecond, func() bool { return len(cl.snapshot()) >= 5 })
	duringOuts := cl.stop()
	if !ok {
		t.Logf("only %d requests finished during the flood", len(duringOuts))
	}
	cd := tally(duringOuts)
	during, derr := px.proxyStatus()
	held := px.rss()
	closedAt := time.Now()
	f.close()

	// Recovery: from closing them until a client is served again and the
	// frontend's connection count is back to the load's own.
	l, err := startLoad(loadSpec{endpoint: px.front, conc: 2, timeout: 5 * time.Second, retries: 3, pause: 20 * time.Millisecond,
		next: func(int) (string, *vpoller.Request) { return "poll", pollVM(vc.name) }})
	s.must(err, "load")
	servedAt, served := firstSuccess(l, "poll", closedAt, 15*time.Second)
	time.Sleep(time.Second)
	outs := l.stop()
	c := tally(outs)
	recovery := time.Duration(-1)
	if served {
		recovery = servedAt.Sub(closedAt)
	}
	after, aerr := px.proxyStatus()

	var ck checks
	ck.add(f.complete+f.halfOpen+f.refused == 2000 && f.complete+f.halfOpen > 0, "2,000 connections attempted", "%s", f)
	ck.add(len(serrs) == 0 && slowest < time.Second, "status answers within 1 s while they are open (5 tries)", "slowest %s, %d errors %v", dur(slowest), len(serrs), firstErr(serrs))
	if socket == "frontend" {
		ck.add(derr == nil && during.Frontend.Active <= 1024+2, "the frontend holds at most max_clients (1024) connections",
			"active %d, refused %d, evicted %d, err %v", during.Frontend.Active, during.Frontend.Refused, during.Frontend.Evicted, derr)
	}
	ck.add(cd.Sent == 5 && cd.Answered == 5, "5 requests from a new client answered while they are open", "%d of %d%s", cd.Answered, cd.Sent, messages(duringOuts, 2))
	ck.add(held-base < 100<<20, "proxy RSS grows < 100 MB while they are open", "%s -> %s", mb(base), mb(held))
	ck.add(served && recovery < 3*time.Second, "a client is served within 3 s after they close", "%s", dur(recovery))
	ck.add(c.Sent > 0 && c.Answered == c.Sent, "every request after they close answered", "%d of %d%s", c.Answered, c.Sent, messages(outs, 2))
	ck.add(aerr == nil && after.Frontend.Active <= 4, "frontend connections back to the load's own (<= 4)", "%d, err %v", after.Frontend.Active, aerr)
	s.record(&row{Requests: &c, Recovery: recovery, RSS: "proxy " + mb(px.hwm()), Checks: ck})
}

func firstErr(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}
