package zmtp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// hookEvent is one event a listener reported to its test hook.
type hookEvent struct{ event, remote string }

// watch makes l report its events (set up before Serve).
func watch(l *Listener) <-chan hookEvent {
	ch := make(chan hookEvent, 1<<14)
	l.hook = func(ev, remote string) {
		select {
		case ch <- hookEvent{ev, remote}:
		default: // a test that needs it waits in vain and says so
		}
	}
	return ch
}

// waitEvent waits for event from remote ("": from anyone), dropping the
// others.
func waitEvent(t *testing.T, ch <-chan hookEvent, event, remote string) {
	t.Helper()
	guard := time.After(10 * time.Second)
	for {
		select {
		case e := <-ch:
			if e.event == event && (remote == "" || e.remote == remote) {
				return
			}
		case <-guard:
			t.Fatalf("no %q event from %q within 10 s", event, remote)
		}
	}
}

// waitEvents waits for event from each of remotes, in any order.
func waitEvents(t *testing.T, ch <-chan hookEvent, event string, remotes ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, r := range remotes {
		want[r] = true
	}
	guard := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case e := <-ch:
			if e.event == event {
				delete(want, e.remote)
			}
		case <-guard:
			t.Fatalf("no %q event from %v within 10 s", event, want)
		}
	}
}

// fakeClock is the authentication backoff's time, moved by the test; each
// timer asked for is handed to the test, which fires it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers chan *fakeTimer
}

type fakeTimer struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0), timers: make(chan *fakeTimer, 1024)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	tm := &fakeTimer{d: d, fire: make(chan time.Time, 1)}
	c.timers <- tm
	return tm.fire, func() bool { return true }
}

func (c *fakeClock) nextTimer(t *testing.T) *fakeTimer {
	t.Helper()
	select {
	case tm := <-c.timers:
		return tm
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake delayed within 10 s")
	}
	return nil
}

// instantClock never delays: a backoff that is already over.
type instantClock struct{}

func (instantClock) Now() time.Time { return time.Now() }
func (instantClock) After(time.Duration) (<-chan time.Time, func() bool) {
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch, func() bool { return false }
}

// dialFrom connects from a given loopback address (Linux routes all of
// 127/8 to lo), so that one test can play several sources.
func dialFrom(ip, ep string, cfg Config) (*Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	raw, err := d.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		return nil, err
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	c, err := Open(raw, cfg, false)
	if err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

func rawDialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// talk sends one message and waits for its echo.
func talk(c *Conn, what string) error {
	if err := c.WriteMsg([][]byte{[]byte(what)}, 2*time.Second); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := c.ReadMsg()
	if err == nil && (len(got) != 1 || string(got[0]) != what) {
		err = errors.New("echo " + describe(got))
	}
	return err
}

// readClosed reports whether the peer closed c (within 10 s).
func readClosed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	return err == nil || !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Hundreds of connections from ten addresses that send 10 bytes of a
// greeting and stop, over and over, must not keep a real peer from
// connecting (they used to hold the MaxConns slots for the handshake
// deadline; a CURVE worker was locked out for the whole attack).
func TestHandshakeFlood(t *testing.T) {
	server, client := keyPair(t), keyPair(t)
	for _, tc := range []struct {
		name     string
		srv, cli Mechanism
	}{
		{"NULL", Null(), Null()},
		{"CURVE", CurveServer(server, curvekey.AllowList{client.Public: "worker"}), CurveClient(server.Public, client)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: tc.srv}, MaxConns: 4})
			addr := l.Addr().String()
			signature := testutil.Greeting(tc.srv.Name(), false)[:10]
			ctx, stop := context.WithCancel(context.Background())
			var (
				wg     sync.WaitGroup
				closed atomic.Int64
				once   sync.Once
			)
			const attackers, sources, before = 320, 10, 300
			flooding := make(chan struct{})
			for i := range attackers {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%sources))}}
				wg.Go(func() {
					for ctx.Err() == nil {
						c, err := d.DialContext(ctx, "tcp", addr)
						if err != nil {
							continue
						}
						unblock := context.AfterFunc(ctx, func() { c.Close() })
						_, _ = c.Write(signature)
						_, _ = io.Copy(io.Discard, c) // until the listener closes it
						unblock()
						c.Close()
						if closed.Add(1) == before {
							once.Do(func() { close(flooding) })
						}
					}
				})
			}
			defer func() { stop(); wg.Wait() }()
			select {
			case <-flooding:
			case <-time.After(30 * time.Second):
				t.Fatalf("only %d attack connections closed in 30 s; stats %+v", closed.Load(), l.Stats())
			}

			began := time.Now()
			c, err := dialFrom("127.0.0.1", l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: tc.cli})
			if err != nil {
				t.Fatalf("real peer during the flood: %v; stats %+v", err, l.Stats())
			}
			defer c.Close()
			if err := talk(c, "through the flood"); err != nil {
				t.Fatalf("real peer during the flood: %v", err)
			}
			took := time.Since(began)
			s := l.Stats()
			l.mu.Lock()
			perSource := map[string]int{}
			for key, src := range l.sources {
				perSource[key] = src.handshakes
			}
			l.mu.Unlock()
			stop()
			wg.Wait()

			if closedByUs := s.HandshakesEvicted + s.QueueExpired + s.QueueEvicted; s.Handshakes > DefaultMaxHandshakes ||
				closedByUs < before-s.Failed || s.Active != 1 || s.Accepted != 1 || s.Evicted != 0 || s.Refused != 0 || s.AuthFailed != 0 {
				t.Errorf("stats %+v: want <= %d handshakes, >= %d closed (evicted, queue expired or evicted), 1 established",
					s, DefaultMaxHandshakes, before)
			}
			t.Logf("real peer connected in %s during the flood; %d attack connections closed; stats %+v", took, closed.Load(), s)
			for key, n := range perSource {
				if n > DefaultMaxHandshakesPerSource {
					t.Errorf("%d handshakes from %s, cap %d", n, key, DefaultMaxHandshakesPerSource)
				}
			}
		})
	}
}

// A full handshake pool closes the handshake that has waited longest for
// its peer, once it has been silent for handshakeGrace (the clock moves
// that much before each newcomer): within the newcomer's source when
// that source is at its share, else within the source holding the most
// handshakes. A peer that sent 10 bytes and stopped goes before one that
// is exchanging its handshake, and one address cannot push out a peer
// from another.
func TestHandshakePoolClosesStalest(t *testing.T) {
	cases := []struct {
		name                string
		perSource, total    int
		staller, peer, newc string // source addresses
		peerFirst           bool   // the peer's progress is older than the stallers'
		closed              []string
	}{
		{"source share", 4, 64, "127.0.0.2", "127.0.0.2", "127.0.0.2", false, []string{"s0", "s1", "s2"}},
		{"whole pool", 4, 4, "127.0.0.2", "127.0.0.3", "127.0.0.4", true, []string{"s0", "s1", "n0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ev <-chan hookEvent
			fc := newFakeClock()
			l := serveEchoWith(t, ListenConfig{Config: Config{Type: zmq4.Router, HandshakeTimeout: time.Minute},
				MaxHandshakes: tc.total, MaxHandshakesPerSource: tc.perSource}, func(l *Listener) { l.clock = fc; ev = watch(l) })
			addr := l.Addr().String()
			conns := map[string]net.Conn{}
			greeting := make([]byte, 64)
			// admitted connects and waits for the listener's greeting: it
			// is in the pool (and made room for itself) by then.
			admitted := func(name, ip string) net.Conn {
				c := rawDialFrom(t, ip, addr)
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, greeting); err != nil {
					t.Fatalf("%s: no greeting: %v", name, err)
				}
				conns[name] = c
				return c
			}
			progress := func(c net.Conn, b []byte) {
				if _, err := c.Write(b); err != nil {
					t.Fatal(err)
				}
				waitEvent(t, ev, "progress", c.LocalAddr().String())
			}
			peer := func() net.Conn {
				c := admitted("peer", tc.peer)
				progress(c, testutil.Greeting("NULL", false))
				return c
			}
			var p net.Conn
			if tc.peerFirst {
				p = peer()
			}
			for i := range 3 {
				progress(admitted("s"+string(rune('0'+i)), tc.staller), testutil.Greeting("NULL", false)[:10])
			}
			if !tc.peerFirst {
				p = peer()
			}
			for i := range 3 {
				fc.Advance(handshakeGrace)
				admitted("n"+string(rune('0'+i)), tc.newc)
			}
			for _, name := range tc.closed {
				if !readClosed(conns[name]) {
					t.Errorf("%s not closed; stats %+v", name, l.Stats())
				}
			}
			if s := l.Stats(); s.HandshakesEvicted != int64(len(tc.closed)) || s.Failed != 0 {
				t.Errorf("stats %+v: want %d handshakes evicted, none failed", s, len(tc.closed))
			}
			// The peer that was exchanging its handshake completes it.
			if _, err := p.Write(append(testutil.Ready("DEALER"), frame(false, []byte("still here"))...)); err != nil {
				t.Fatal(err)
			}
			want := frame(false, []byte("still here"))
			var got []byte
			buf := make([]byte, 256)
			_ = p.SetReadDeadline(time.Now().Add(10 * time.Second))
			for !bytes.Contains(got, want) {
				n, err := p.Read(buf)
				if err != nil {
					t.Fatalf("the peer exchanging its handshake was closed: %v (got % x)", err, got)
				}
				got = append(got, buf[:n]...)
			}
		})
	}
}

// Peers that never authenticate cannot evict an idle authenticated
// connection (they used to evict idle clients before authenticating);
// an authenticated newcomer can, and takes the longest idle.
func TestEvictOnlyForAuthenticated(t *testing.T) {
	var ev <-chan hookEvent
	l := serveEchoWith(t, ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: PlainServer("vpoller", "right-secret")},
		MaxConns: 2, Evict: true}, func(l *Listener) { l.clock = instantClock{}; ev = watch(l) })
	good := Config{Type: zmq4.Dealer, Mechanism: PlainClient("vpoller", "right-secret")}
	a := dialT(t, l.Endpoint(), good)
	b := dialT(t, l.Endpoint(), good)
	for _, c := range []*Conn{a, b} {
		if err := talk(c, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	addr := l.Addr().String()
	for i := range 100 {
		c := rawDialFrom(t, "127.0.0.2", addr)
		if _, err := c.Write(testutil.Greeting("PLAIN", false)[:10+i%50]); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 {
		c, err := dialFrom("127.0.0.3", l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: PlainClient("vpoller", "wrong-secret")})
		if !errors.Is(err, ErrAuth) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("wrong secret: %v", err)
		}
		waitEvent(t, ev, "auth_failed", "")
	}
	for name, c := range map[string]*Conn{"a": a, "b": b} {
		if err := talk(c, "still here"); err != nil {
			t.Fatalf("%s closed by newcomers that did not authenticate: %v", name, err)
		}
	}
	if s := l.Stats(); s.Evicted != 0 || s.Refused != 0 || s.Active != 2 || s.AuthFailed != 50 || s.QueuedTotal != 100-DefaultMaxHandshakesPerSource {
		t.Fatalf("stats %+v", s)
	}
	if err := talk(b, "b is busier"); err != nil {
		t.Fatal(err)
	}
	c := dialT(t, l.Endpoint(), good)
	if err := talk(c, "newcomer"); err != nil {
		t.Fatalf("authenticated newcomer: %v", err)
	}
	if err := talk(a, "a?"); err == nil {
		t.Fatal("the longest idle connection was not evicted for an authenticated newcomer")
	}
	if err := talk(b, "b?"); err != nil {
		t.Fatalf("b evicted instead of a: %v", err)
	}
	if s := l.Stats(); s.Evicted != 1 {
		t.Fatalf("stats %+v: want 1 evicted", s)
	}
}

// After a failed authentication a source's handshakes are delayed 100 ms,
// doubling to 5 s, and start no closer together than that, so that
// guessing runs well under 10 attempts per second; peers from other
// addresses are not delayed meanwhile. A quiet minute or a success
// forgives the source. The delays run on an injected clock.
func TestAuthBackoff(t *testing.T) {
	fc := newFakeClock()
	var ev <-chan hookEvent
	var logs testutil.Buffer
	l := serveEchoWith(t, ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: PlainServer("vpoller", "right-secret")},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, func(l *Listener) { l.clock = fc; ev = watch(l) })
	const attacker, other = "127.0.0.2", "127.0.0.1"
	good := Config{Type: zmq4.Dealer, Mechanism: PlainClient("vpoller", "right-secret")}
	bad := Config{Type: zmq4.Dealer, Mechanism: PlainClient("vpoller", "guess-Xq7")}

	// try dials from the attacker's address; when a delay is wanted it
	// checks it, runs meanwhile, then lets it pass on the clock.
	try := func(cfg Config, wantDelay time.Duration, meanwhile func()) error {
		t.Helper()
		raw := rawDialFrom(t, attacker, l.Addr().String())
		res := make(chan error, 1)
		go func() {
			c, err := Open(raw, cfg, false)
			if err == nil {
				err = talk(c, "in")
			}
			raw.Close()
			res <- err
		}()
		if wantDelay > 0 {
			tm := fc.nextTimer(t)
			if tm.d != wantDelay {
				t.Fatalf("delay %s, want %s", tm.d, wantDelay)
			}
			if meanwhile != nil {
				meanwhile()
			}
			fc.Advance(tm.d)
			tm.fire <- time.Time{}
		}
		err := <-res
		if len(fc.timers) != 0 {
			t.Fatalf("%d unexpected delays", len(fc.timers))
		}
		if errors.Is(err, ErrAuth) {
			waitEvent(t, ev, "auth_failed", "")
		}
		waitEvent(t, ev, "released", raw.LocalAddr().String())
		return err
	}
	guess := func(wantDelay time.Duration, meanwhile func()) {
		t.Helper()
		if err := try(bad, wantDelay, meanwhile); !errors.Is(err, ErrAuth) {
			t.Fatalf("wrong secret: %v", err)
		}
	}

	guess(0, nil)
	start := fc.Now()
	delays := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}
	for i, d := range delays {
		var meanwhile func()
		if i == 0 {
			meanwhile = func() {
				// The delayed handshake holds a slot of its source's
				// share, not the accept loop: another address is served.
				if s := l.Stats(); s.Handshakes != 1 || s.AuthDelayed != 1 {
					t.Errorf("stats %+v: want the delayed handshake counted", s)
				}
				c, err := dialFrom(other, l.Endpoint(), good)
				if err != nil {
					t.Fatalf("another address while the attacker waits: %v", err)
				}
				if err := talk(c, "not delayed"); err != nil {
					t.Fatal(err)
				}
				c.Close()
			}
		}
		guess(d, meanwhile)
	}
	guesses := float64(len(delays))
	if rate := guesses / fc.Now().Sub(start).Seconds(); rate >= 10 {
		t.Errorf("%v guesses in %s: %.1f per second", guesses, fc.Now().Sub(start), rate)
	}

	// Parallel guesses from the source start one per delay.
	var got []time.Duration
	var timers []*fakeTimer
	for range 3 {
		c := rawDialFrom(t, attacker, l.Addr().String())
		tm := fc.nextTimer(t)
		got = append(got, tm.d)
		timers = append(timers, tm)
		c.Close()
	}
	slices.Sort(got)
	if want := []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("parallel delays %v, want %v", got, want)
	}
	for _, tm := range timers {
		tm.fire <- time.Time{}
	}
	for range timers {
		waitEvent(t, ev, "released", "")
	}

	// A quiet minute forgives; so does a success.
	fc.Advance(authQuiet)
	guess(0, nil)
	guess(100*time.Millisecond, nil)
	if err := try(good, 200*time.Millisecond, nil); err != nil {
		t.Fatalf("right secret from the attacker's address: %v", err)
	}
	guess(0, nil)

	if strings.Contains(logs.String(), "guess-Xq7") {
		t.Error("the presented secret was logged")
	}
	if s := l.Stats(); s.AuthFailed != int64(len(delays))+4 {
		t.Errorf("stats %+v: want %d authentication failures", s, len(delays)+4)
	}
}

// Authentication failures are logged once per 10 s with their count.
func TestAuthFailureLogRateLimited(t *testing.T) {
	fc := newFakeClock()
	var ev <-chan hookEvent
	var logs testutil.Buffer
	l := serveEchoWith(t, ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: PlainServer("vpoller", "right-secret")},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, func(l *Listener) { l.clock = fc; ev = watch(l) })
	bad := Config{Type: zmq4.Dealer, Mechanism: PlainClient("vpoller", "guess")}
	fail := func() {
		t.Helper()
		res := make(chan error, 1)
		go func() { _, err := dialFrom("127.0.0.2", l.Endpoint(), bad); res <- err }()
		select {
		case tm := <-fc.timers:
			tm.fire <- time.Time{} // the delay passes without moving the clock
		case err := <-res:
			res <- err
		}
		if err := <-res; !errors.Is(err, ErrAuth) {
			t.Fatalf("wrong secret: %v", err)
		}
		waitEvent(t, ev, "auth_failed", "")
	}
	lines := func() []string {
		return regexp.MustCompile(`(?m)^.*authentication failed.*$`).FindAllString(logs.String(), -1)
	}
	for range 6 {
		fail()
	}
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "failures=1 ") {
		t.Fatalf("after 6 failures within 10 s: %q", got)
	}
	fc.Advance(authLogInterval)
	fail()
	if got := lines(); len(got) != 2 || !strings.Contains(got[1], "failures=6 ") {
		t.Fatalf("after the interval: %q", got)
	}
}

// The per-source state stays bounded: past maxFailing remembered sources
// the oldest is forgotten.
func TestFailingSourcesBounded(t *testing.T) {
	l := &Listener{sources: map[string]*source{}, cfg: ListenConfig{MaxHandshakes: 1, MaxHandshakesPerSource: 1}}
	now := time.Unix(1_700_000_000, 0)
	for i := range maxFailing + 10 {
		key := net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String()
		src := &source{key: key}
		l.sources[key] = src
		l.authFailedLocked(src, now.Add(time.Duration(i)))
	}
	if len(l.sources) != maxFailing || l.failing.Len() != maxFailing {
		t.Fatalf("%d sources, %d failing; want %d", len(l.sources), l.failing.Len(), maxFailing)
	}
	if _, ok := l.sources["10.0.0.0"]; ok {
		t.Fatal("the oldest failing source was kept")
	}
	if src := l.sources[net.IPv4(10, 0, 16, 9).String()]; src == nil || src.fails != 1 {
		t.Fatal("the newest failing source was dropped")
	}
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func TestSourceKey(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 5}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 9}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "@", Net: "unix"}, "local"},
	} {
		if got := sourceKey(addrConn{remote: tc.addr}); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// A newcomer to a pool whose handshakes all made progress within
// handshakeGrace waits for a slot instead of closing one (a burst of
// honest peers from one address, a client pool opening its connections);
// it gets the first slot that frees. Once a handshake has been silent
// for handshakeGrace, the next arrival makes the earliest waiter take its
// place; a waiter not admitted within half the handshake timeout is
// closed. The clock is the test's.
func TestHandshakeQueue(t *testing.T) {
	var ev <-chan hookEvent
	fc := newFakeClock()
	const timeout = time.Minute
	l := serveEchoWith(t, ListenConfig{Config: Config{Type: zmq4.Router, HandshakeTimeout: timeout},
		MaxHandshakes: 3, MaxHandshakesPerSource: 3}, func(l *Listener) { l.clock = fc; ev = watch(l) })
	addr := l.Addr().String()
	greeting := make([]byte, 64)
	greeted := func(name string, c net.Conn) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, greeting); err != nil {
			t.Fatalf("%s: no greeting: %v; stats %+v", name, err, l.Stats())
		}
	}
	// Three peers exchanging their handshakes fill the pool.
	var peers []net.Conn
	for range 3 {
		c := rawDialFrom(t, "127.0.0.2", addr)
		greeted("peer", c)
		if _, err := c.Write(testutil.Greeting("NULL", false)); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, ev, "progress", c.LocalAddr().String())
		peers = append(peers, c)
	}
	queue := func(name string) net.Conn {
		t.Helper()
		c := rawDialFrom(t, "127.0.0.2", addr)
		waitEvent(t, ev, "queued", c.LocalAddr().String())
		return c
	}
	first := queue("first")
	// The first peer completes its handshake: its slot goes to the waiter.
	if _, err := peers[0].Write(append(testutil.Ready("DEALER"), frame(false, []byte("done"))...)); err != nil {
		t.Fatal(err)
	}
	greeted("first waiter", first)
	if s := l.Stats(); s.HandshakesEvicted != 0 || s.QueuedTotal != 1 || s.Queued != 0 || s.Accepted != 1 {
		t.Fatalf("after a slot freed: stats %+v", s)
	}
	// Two more wait; then the handshakes fall silent for the grace: the
	// next arrival makes the earliest waiter take the stalest one's slot
	// (peers[1], the earliest progress), and itself waits.
	second := queue("second")
	fc.Advance(handshakeGrace)
	// The first waiter and the last peer show progress after the grace.
	for c, b := range map[net.Conn][]byte{first: testutil.Greeting("NULL", false)[:2], peers[2]: testutil.Ready("DEALER")[:2]} {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, ev, "progress", c.LocalAddr().String())
	}
	third := queue("third")
	greeted("second waiter", second)
	if !readClosed(peers[1]) {
		t.Fatal("the stalest handshake was not closed for a waiter")
	}
	if s := l.Stats(); s.HandshakesEvicted != 1 || s.Queued != 1 || s.QueuedTotal != 3 {
		t.Fatalf("after the grace: stats %+v", s)
	}
	// The third waits out half the handshake timeout and is closed. The
	// waits' timers are the test's: each waiter made one expiry timer
	// (the third's is the third; the others' waits are over) besides its
	// retries, which stay unfired.
	for expiries := 0; expiries < 3; {
		if tm := fc.nextTimer(t); tm.d == timeout/2 {
			tm.fire <- fc.Now()
			expiries++
		}
	}
	if !readClosed(third) {
		t.Fatal("a waiter past half the handshake timeout was not closed")
	}
	if s := l.Stats(); s.QueueExpired != 1 || s.Queued != 0 || s.HandshakesEvicted != 1 {
		t.Fatalf("after the expiry: stats %+v", s)
	}
}
