//go:build faults

package faults

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// greetingHolders is an attack on one listening socket: n goroutines,
// spread over sources loopback addresses, each connecting, sending the
// first 10 bytes of a greeting and holding the connection until the
// listener closes it, then connecting again, until stopped. Before the
// handshake pools, each held one of the listener's connection slots for
// the whole handshake deadline: 320 of them locked a CURVE backend
// (max_workers 256) against the real worker.
type greetingHolders struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closed counts attack connections the listener closed; dialFailed
	// connects that failed.
	closed, dialFailed atomic.Int64
}

func holdGreetings(addr string, n, sources int) *greetingHolders {
	ctx, cancel := context.WithCancel(context.Background())
	g := &greetingHolders{cancel: cancel}
	signature := testutil.Greeting("CURVE", false)[:10]
	for i := range n {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(loopbackSource(i % sources))}, Timeout: 5 * time.Second}
		g.wg.Go(func() {
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					g.dialFailed.Add(1)
					select { // a failed connect (ports, backlog) is not retried in a hot loop
					case <-ctx.Done():
					case <-time.After(10 * time.Millisecond):
					}
					continue
				}
				unblock := context.AfterFunc(ctx, func() { c.Close() })
				_, _ = c.Write(signature)
				_, _ = io.Copy(io.Discard, c) // until the listener closes it
				unblock()
				c.Close()
				if ctx.Err() == nil {
					g.closed.Add(1)
				}
			}
		})
	}
	return g
}

// waitClosed waits until the listener closed at least n attack
// connections: the pools are full and churning.
func (g *greetingHolders) waitClosed(n int64, within time.Duration) bool {
	ok, _ := until(within, 10*time.Millisecond, func() bool { return g.closed.Load() >= n })
	return ok
}

func (g *greetingHolders) stop() {
	g.cancel()
	g.wg.Wait()
}

// wrongKeyClients is n goroutines from one address presenting a CURVE
// key that is not in the allow-list, over and over, until stopped.
type wrongKeyClients struct {
	cancel           context.CancelFunc
	wg               sync.WaitGroup
	refused, entered atomic.Int64
}

func tryWrongKeys(addr, src string, mech zmtp.Mechanism, n int) *wrongKeyClients {
	ctx, cancel := context.WithCancel(context.Background())
	w := &wrongKeyClients{cancel: cancel}
	cfg := zmtp.Config{Type: dealer.Type, Mechanism: mech}
	for range n {
		w.wg.Go(func() {
			for ctx.Err() == nil {
				c, err := zmtpDialFrom(src, addr, cfg, 3*time.Second)
				if err == nil {
					w.entered.Add(1)
					c.Close()
					continue
				}
				w.refused.Add(1)
			}
		})
	}
	return w
}

func (w *wrongKeyClients) stop() {
	w.cancel()
	w.wg.Wait()
}

// 19-1. Backend lockout without authentication. 320 attackers (from ten
// loopback addresses, 127.0.0.2-11) hold 10-byte greetings on the
// proxy's CURVE backend (with an allow-list) and reconnect whenever
// closed; the real vpoller-worker, with its allowed key, is started
// meanwhile (from 127.0.0.1) and must connect within 2 s, and requests
// through the frontend must be answered during the attack. Then the
// frontend (max_clients 4, CURVE with an allow-list): 4 authenticated
// clients stay idle while 320 greeting holders and clients with a key
// not in the list arrive; none of the 4 is evicted, each is answered on
// its own connection afterwards.
func Test19_1BackendLockout(t *testing.T) {
	s := newScenario(t, "19-1", "320 unauthenticated attackers on the CURVE backend and frontend")
	keys := s.path("curve")
	clients, workers := keys+"/clients.d", keys+"/workers.d"
	s.keygen(bins.proxy, keys+"/proxy")
	s.keygen(bins.client, clients+"/good", keys+"/stranger")
	s.keygen(bins.worker, workers+"/worker")
	s.must(os.Rename(clients+"/good.key_secret", keys+"/good.key_secret"), "move the secret out of the allow-list")
	s.must(os.Rename(workers+"/worker.key_secret", keys+"/worker.key_secret"), "move the secret out of the allow-list")
	const maxClients = 4
	vc := s.startVcenter("127.0.0.1")
	secret := keys + "/proxy.key_secret"
	px := s.startProxy("proxy", proxySpec{extra: []string{
		"frontend_curve_secret_key = " + secret, "frontend_curve_allow = " + clients,
		"backend_curve_secret_key = " + secret, "backend_curve_allow = " + workers,
		fmt.Sprintf("max_clients = %d", maxClients)}})
	good, srvKey := s.loadKeys(keys+"/good.key_secret", keys+"/proxy.key")
	stranger, _ := s.loadKeys(keys+"/stranger.key_secret", keys+"/proxy.key")
	curve := zmtp.CurveClient(srvKey, good)

	// The backend under attack before the worker starts.
	const attackers, sources = 320, 10
	back := holdGreetings(hostPort(px.back), attackers, sources)
	defer back.stop()
	flooding := back.waitClosed(1000, 30*time.Second)
	closedAtStart := back.closed.Load()
	startAt := time.Now()
	s.startWorker("worker", workerSpec{proxy: px.back, vcenters: []*vcenter{vc}, noWait: true,
		extra: []string{"proxy_curve_server_key = " + keys + "/proxy.key", "proxy_curve_secret_key = " + keys + "/worker.key_secret"}})
	connected, _ := until(15*time.Second, 10*time.Millisecond, func() bool {
		st, err := px.proxyStatus()
		return err == nil && st.Workers >= 1
	})
	took := time.Since(startAt)
	if !connected {
		took = -1
	}
	// Requests through the frontend while the backend flood goes on.
	l, err := startLoad(loadSpec{endpoint: px.front, conc: 2, timeout: 5 * time.Second, retries: 1, pause: 10 * time.Millisecond, mech: curve,
		next: func(int) (string, *vpoller.Request) { return "during", pollVM(vc.name) }})
	s.must(err, "load")
	time.Sleep(2 * time.Second)
	during := l.stop()
	backClosed := back.closed.Load()
	backSt := px.mustProxyStatus()

	// The frontend: 4 authenticated clients, then left idle.
	gone, _ := until(10*time.Second, 20*time.Millisecond, func() bool {
		st, err := px.proxyStatus()
		return err == nil && st.Frontend.Active == 0
	})
	if !gone {
		s.fatalf("the load's connections to the frontend did not close")
	}
	var idle []*zmtp.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	var idleErrs []string
	firstOK := 0
	for i := range maxClients {
		c, err := zmtpDialFrom("127.0.0.1", hostPort(px.front), zmtp.Config{Type: dealer.Type, Mechanism: curve}, 10*time.Second)
		if err == nil {
			idle = append(idle, c)
			var r *vpoller.Response
			if r, err = askOn(c, pollVM(vc.name), 10*time.Second); err == nil && r.Failed() {
				err = fmt.Errorf("%s", r.Msg)
			}
		}
		if err != nil {
			idleErrs = append(idleErrs, fmt.Sprintf("client %d before the flood: %v", i, err))
		} else {
			firstOK++
		}
	}
	before := px.mustProxyStatus()
	front := holdGreetings(hostPort(px.front), attackers, sources)
	strangers := tryWrongKeys(hostPort(px.front), loopbackSource(sources), zmtp.CurveClient(srvKey, stranger), 8)
	frontFlood := front.waitClosed(1000, 30*time.Second)
	time.Sleep(time.Second)
	front.stop()
	strangers.stop()
	back.stop()
	after := px.mustProxyStatus()
	answeredIdle := 0
	for i, c := range idle {
		r, err := askOn(c, pollVM(vc.name), 10*time.Second)
		switch {
		case err != nil:
			idleErrs = append(idleErrs, fmt.Sprintf("client %d: %v", i, err))
		case r.Failed():
			idleErrs = append(idleErrs, fmt.Sprintf("client %d: %s", i, r.Msg))
		default:
			answeredIdle++
		}
	}

	cd := tally(during)
	// The idle clients' requests (one before the flood, one after) count
	// as errored when they failed (they have no time limit of their own).
	c := counts{Sent: cd.Sent + 2*maxClients, Answered: cd.Answered + firstOK + answeredIdle, Lost: cd.Lost,
		Errored: cd.Errored + 2*maxClients - firstOK - answeredIdle}
	var ck checks
	ck.add(flooding, "the backend flood runs: 1,000 attack connections closed by the proxy before the worker starts",
		"%d closed at the worker's start, %d by the end of the backend phase", closedAtStart, backClosed)
	ck.add(connected && took <= 2*time.Second, "the real worker (allowed CURVE key) connects within 2 s of its start during the flood",
		"%s; backend: %d handshakes evicted, %d in progress, %d accepted, %d refused", dur(took), backSt.Backend.HandshakesEvicted,
		backSt.Backend.Handshakes, backSt.Backend.Accepted, backSt.Backend.Refused)
	ck.add(cd.Sent >= 10 && cd.Answered == cd.Sent, "requests through the frontend answered during the backend flood (2 s)",
		"%d of %d%s", cd.Answered, cd.Sent, messages(during, 2))
	ck.add(frontFlood && strangers.refused.Load() > 0 && strangers.entered.Load() == 0,
		"the frontend flood runs: 320 greeting holders and 8 clients with a key not in the allow-list",
		"%d holder connections closed; strangers %d refused, %d let in; frontend auth_failed %d -> %d, auth_delayed %d",
		front.closed.Load(), strangers.refused.Load(), strangers.entered.Load(), before.Frontend.AuthFailed, after.Frontend.AuthFailed,
		after.Frontend.AuthDelayed)
	ck.add(after.Frontend.Evicted == before.Frontend.Evicted && after.Frontend.Active == maxClients,
		fmt.Sprintf("no authenticated idle client evicted by them (max_clients %d, all taken)", maxClients),
		"evicted %d -> %d, active %d", before.Frontend.Evicted, after.Frontend.Evicted, after.Frontend.Active)
	ck.add(answeredIdle == maxClients && len(idleErrs) == 0, "each idle client answered on its own connection afterwards", "%d of %d; %d errors %v",
		answeredIdle, maxClients, len(idleErrs), idleErrs)
	s.record(&row{Requests: &c, Recovery: took, RSS: "proxy " + mb(px.hwm()), Checks: ck})
}

// 19-11. A burst from one address. A client pool opens 300 connections
// at once from 127.0.0.1 (a Zabbix agent starting, our benchmark's
// client) to a proxy with the default handshake pools (64, 32 per
// address), each sending one request to a Python worker. The handshakes
// beyond the address's share wait for a slot instead of closing each
// other: every request is answered on the first attempt, no handshake is
// closed to make room and no waiter expires.
func Test19_11BurstFromOneAddress(t *testing.T) {
	s := newScenario(t, "19-11", "300 connections at once from one address, default handshake pools")
	const n = 300
	px := s.startProxy("proxy", proxySpec{})
	py := testutil.Python(t, false)
	s.spawn("pyworker", py, []string{"testdata/pyworker.py", px.back, "good", "never-poison"}, spawnOpts{})
	px.mustSeeWorkers(1, 15*time.Second, "the Python worker")
	began := time.Now()
	l, err := startLoad(loadSpec{endpoint: px.front, conc: n, timeout: 30 * time.Second, retries: 1, total: n,
		next: func(i int) (string, *vpoller.Request) {
			return "get", &vpoller.Request{Method: "vm.get", Hostname: "vc", Name: fmt.Sprint(i)}
		}})
	s.must(err, "load")
	done, _ := until(60*time.Second, 20*time.Millisecond, func() bool { return len(l.snapshot()) >= n })
	took := time.Since(began)
	outs := l.stop()
	c := tally(outs)
	fe := px.mustProxyStatus().Frontend
	var ck checks
	ck.add(done && c.Answered == n, fmt.Sprintf("all %d requests answered on their first attempt", n),
		"%d answered, %d errored, %d lost in %s%s", c.Answered, c.Errored, c.Lost, dur(took), messages(outs, 1))
	ck.add(fe.HandshakesEvicted == 0 && fe.QueueExpired == 0 && fe.QueueEvicted == 0 && fe.Accepted >= n,
		"no handshake closed to make room, no waiter expired: the burst queued",
		"handshakes evicted %d, waited for a slot %d, queue expired %d, evicted %d, accepted %d",
		fe.HandshakesEvicted, fe.QueuedTotal, fe.QueueExpired, fe.QueueEvicted, fe.Accepted)
	s.record(&row{Requests: &c, Recovery: -1, Checks: ck})
}
