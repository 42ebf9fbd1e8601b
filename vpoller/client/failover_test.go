package client

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
	"github.com/vpoller/zabbix-vpoller/vpoller/worker"
)

// simVC is the vSphere agent name of the embedded simulator the real
// workers of these tests serve.
const simVC = "vcsim.local"

// guard bounds every call of these tests: a failure guard only, never a
// timing the test asserts.
const guard = 30 * time.Second

// vc is one simulated vCenter (the worker's embedded govmomi simulator)
// shared by every worker of a test.
func startVC(t *testing.T) *vsphere.Service {
	t.Helper()
	svc, err := vsphere.NewService([]vsphere.AgentConfig{{Name: simVC, Simulator: true}}, vsphere.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Close(ctx)
	})
	// The simulator starts with the agent's first request.
	if r := svc.Execute(context.Background(), &vpoller.Request{Method: "about", Hostname: simVC}); r.Failed() {
		t.Fatalf("simulator: %s", r.Msg)
	}
	return svc
}

// realProxy is the real vPoller proxy with one real worker behind it.
type realProxy struct {
	frontend string
	stop     func() // stops the proxy and its worker and waits for them
}

func startProxy(t *testing.T, svc *vsphere.Service) *realProxy {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	p, err := proxy.New(proxy.Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "tcp://127.0.0.1:0",
		MaxRequestBytes: 1 << 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	proxyErr := make(chan error, 1)
	wg.Go(func() { proxyErr <- p.Run(ctx) })
	select {
	case <-p.Ready():
	case err := <-proxyErr:
		cancel()
		t.Fatalf("proxy: %v", err)
	case <-time.After(guard):
		t.Fatal("proxy not ready")
	}
	w, err := worker.New(svc, worker.Options{Proxy: p.Addrs().Backend, Concurrency: 4, Logger: quiet})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	wg.Go(func() { _ = w.Run(ctx) })
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	rp := &realProxy{frontend: p.Addrs().Frontend, stop: stop}
	// Wait until the worker is connected: one call answered end to end.
	c := newClient(t, rp.frontend, Options{Timeout: guard, Retries: 1})
	askAbout(t, c, Policy{})
	_ = c.Close()
	return rp
}

// silentProxy is a ZMTP ROUTER that completes the handshake and reads
// requests but never answers: a proxy with no worker behind it, or a hung
// one. It counts connections and requests.
type silentProxy struct {
	endpoint        string
	conns, requests atomic.Int64
	requestsSeen    chan struct{}
	listener        *zmtp.Listener
}

func startSilent(t *testing.T) *silentProxy {
	t.Helper()
	l, err := zmtp.Listen("tcp://127.0.0.1:0", zmtp.ListenConfig{Config: zmtp.Config{Type: zmq4.Router}, Name: "silent"})
	if err != nil {
		t.Fatal(err)
	}
	s := &silentProxy{endpoint: l.Endpoint(), listener: l, requestsSeen: make(chan struct{}, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Serve(ctx, func(ctx context.Context, c *zmtp.Conn) {
			s.conns.Add(1)
			for {
				if _, err := c.ReadMsg(); err != nil {
					return
				}
				s.requests.Add(1)
				s.requestsSeen <- struct{}{}
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// logRecords captures a client's log as JSON records.
type logRecords struct{ buf testutil.Buffer }

func (l *logRecords) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// retries returns the "retrying" warnings: one per failed attempt that
// was followed by another.
func (l *logRecords) retries(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "Did not receive response, retrying..." {
			out = append(out, rec)
		}
	}
	return out
}

// askAbout makes an "about" call through c and checks the simulator's
// answer.
func askAbout(t *testing.T, c *Client, p Policy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	resp, err := c.CallWith(ctx, &vpoller.Request{Method: "about", Hostname: simVC, Properties: []string{"apiType"}}, p)
	if err != nil {
		t.Fatalf("about via %s: %v", c.Endpoint(), err)
	}
	if resp.Failed() {
		t.Fatalf("about via %s: %s", c.Endpoint(), resp.Msg)
	}
	b := string(resp.Encode(vpoller.Python))
	if !strings.Contains(b, `"apiType": "VirtualCenter"`) {
		t.Fatalf("about via %s: %s, want the simulated vCenter's apiType", c.Endpoint(), b)
	}
}

func TestSplitEndpoints(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "tcp://10.0.0.1:10123", want: []string{"tcp://10.0.0.1:10123"}},
		{in: "tcp://10.0.0.1:10123,tcp://10.0.0.2:10123", want: []string{"tcp://10.0.0.1:10123", "tcp://10.0.0.2:10123"}},
		{in: " tcp://a:1 , tcp://b:2,ipc:///run/v.sock ", want: []string{"tcp://a:1", "tcp://b:2", "ipc:///run/v.sock"}},
		{in: "tcp://a:1,tcp://a:1", err: `tcp://a:1 is listed twice (elements 1 and 2)`},
		{in: "tcp://a:1, tcp://b:2 ,tcp://a:1", err: `tcp://a:1 is listed twice (elements 1 and 3)`},
		{in: "tcp://a:1,,tcp://b:2", err: `element 2 is empty`},
		{in: "tcp://a:1,", err: `element 2 is empty`},
		{in: "", err: "empty endpoint"},
		{in: "  ", err: "empty endpoint"},
		{in: "tcp://a:1,udp://b:2", err: `unsupported transport "udp"`},
		{in: "tcp://a:1,tcp://*:2", err: `"tcp://*:2": a client needs a host`},
		{in: "tcp://a:1,tcp://b:0", err: `port "0" is not a number from 1 to 65535`},
	} {
		got, err := SplitEndpoints(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("SplitEndpoints(%q) = %q, %v; want error with %q", tc.in, got, err, tc.err)
			}
			if c, err := New(tc.in, Options{}); err == nil {
				c.Close()
				t.Errorf("New(%q) accepted it", tc.in)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("SplitEndpoints(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		c := newClient(t, tc.in, Options{})
		if c.Endpoint() != tc.in || strings.Join(c.Endpoints(), "|") != strings.Join(tc.want, "|") {
			t.Errorf("New(%q): Endpoint() %q, Endpoints() %q", tc.in, c.Endpoint(), c.Endpoints())
		}
	}
}

// The first proxy is down (nothing listens): the second, a real proxy
// and worker, answers, and the refused attempt did not wait for its
// timeout: with a per-attempt timeout of 10 minutes and a call bounded
// to 30 s, waiting would have failed the call.
func TestFailoverFirstRefused(t *testing.T) {
	svc := startVC(t)
	b := startProxy(t, svc)
	dead := "tcp://" + testutil.FreeAddr(t)
	var logs logRecords
	c := newClient(t, dead+", "+b.frontend, Options{Logger: logs.logger()})
	askAbout(t, c, Policy{Attempts: 1, Timeout: 10 * time.Minute})

	r := logs.retries(t)
	if len(r) != 1 {
		t.Fatalf("%d retries logged, want 1 (the refused first attempt): %v", len(r), r)
	}
	if r[0]["attempt"] != 1.0 || r[0]["of"] != 2.0 || r[0]["endpoint"] != dead || r[0]["cause"] != "connection refused" || r[0]["next"] != b.frontend {
		t.Fatalf("retry logged %v, want attempt 1 of 2 (one per endpoint) at %s refused, next %s", r[0], dead, b.frontend)
	}
	if got := c.current.Load(); got != 1 {
		t.Fatalf("current endpoint %d after the failover, want 1", got)
	}
	// Sticky: the next calls go straight to the second proxy.
	for range 3 {
		askAbout(t, c, Policy{Attempts: 1, Timeout: 10 * time.Minute})
	}
	if r := logs.retries(t); len(r) != 1 {
		t.Fatalf("later calls retried: %v", r[1:])
	}
	if c.idleCount(0) != 0 || c.idleCount(1) != 1 {
		t.Fatalf("idle sockets %d, %d; want 0, 1 (one socket to the proxy that answers, reused)", c.idleCount(0), c.idleCount(1))
	}
}

// The first proxy accepts and reads but never answers: the second answers
// after one per-attempt timeout, and later calls stick to it (the silent
// proxy sees no further request).
func TestFailoverFirstSilent(t *testing.T) {
	svc := startVC(t)
	b := startProxy(t, svc)
	silent := startSilent(t)
	var logs logRecords
	c := newClient(t, silent.endpoint+","+b.frontend, Options{Logger: logs.logger()})
	const perAttempt = 3 * time.Second
	start := time.Now()
	askAbout(t, c, Policy{Attempts: 2, Timeout: perAttempt})
	if took := time.Since(start); took < perAttempt {
		t.Fatalf("answered after %v: the silent first attempt cannot have taken its %v", took, perAttempt)
	}
	r := logs.retries(t)
	if len(r) != 1 || r[0]["attempt"] != 1.0 || r[0]["endpoint"] != silent.endpoint || r[0]["cause"] != "no reply within 3s" || r[0]["next"] != b.frontend {
		t.Fatalf("retries logged %v, want one: attempt 1 at the silent proxy, no reply within 3s, next %s", r, b.frontend)
	}
	if n := silent.requests.Load(); n != 1 {
		t.Fatalf("silent proxy saw %d requests, want 1", n)
	}
	for range 5 {
		askAbout(t, c, Policy{Attempts: 2, Timeout: perAttempt})
	}
	if n, conns := silent.requests.Load(), silent.conns.Load(); n != 1 || conns != 1 {
		t.Fatalf("after the failover the silent proxy saw %d requests on %d connections, want still 1 on 1 (sticky)", n, conns)
	}
	if r := logs.retries(t); len(r) != 1 {
		t.Fatalf("later calls retried: %v", r[1:])
	}
}

// Both proxies down: a clear error that names both and what happened at
// each. The first refusal moves on at once; once both refused, the
// attempt keeps trying every endpoint until its timeout (a proxy that is
// restarting is reached).
func TestFailoverBothDead(t *testing.T) {
	a, b := "tcp://"+testutil.FreeAddr(t), "tcp://"+testutil.FreeAddr(t)
	c := newClient(t, a+","+b, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	_, err := c.DoWith(ctx, []byte(`{"method": "about"}`), Policy{Attempts: 3, Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrNoReply) {
		t.Fatalf("err = %v, want ErrNoReply", err)
	}
	var ce *CallError
	if !errors.As(err, &ce) || len(ce.Attempts) != 3 {
		t.Fatalf("err = %#v, want a CallError with 3 attempts", err)
	}
	want := a + " connection refused; " + b + " connection refused (kept trying every endpoint for 300ms); " +
		a + " connection refused (kept trying every endpoint for 300ms)"
	if got := ce.Tried(); got != want {
		t.Fatalf("tried:\n %s\nwant\n %s", got, want)
	}
	if msg := err.Error(); msg != "vpoller client: "+a+","+b+": no reply after 3 attempts of 300ms ("+want+"): Did not receive response, aborting..." {
		t.Fatalf("error text %q", msg)
	}
}

// Two real proxies: calls go to the first; when it stops, the next call
// moves to the second (the idle socket to the first is stale, its
// reconnect is refused) and stays there.
func TestFailoverWhenProxyStops(t *testing.T) {
	svc := startVC(t)
	a, b := startProxy(t, svc), startProxy(t, svc)
	var logs logRecords
	c := newClient(t, a.frontend+","+b.frontend, Options{Logger: logs.logger(), Retries: 1, Timeout: guard})
	askAbout(t, c, Policy{})
	if c.current.Load() != 0 || c.idleCount(0) != 1 {
		t.Fatalf("first call: current %d, idle at the first proxy %d", c.current.Load(), c.idleCount(0))
	}
	a.stop()
	askAbout(t, c, Policy{})
	r := logs.retries(t)
	if len(r) != 1 || r[0]["endpoint"] != a.frontend || r[0]["cause"] != "connection refused" || r[0]["next"] != b.frontend {
		t.Fatalf("retries logged %v, want one: the stopped proxy refused, next %s", r, b.frontend)
	}
	if c.current.Load() != 1 || c.idleCount(0) != 0 || c.idleCount(1) != 1 {
		t.Fatalf("after the failover: current %d, idle %d/%d", c.current.Load(), c.idleCount(0), c.idleCount(1))
	}
	askAbout(t, c, Policy{})
	if r := logs.retries(t); len(r) != 1 {
		t.Fatalf("the call after the failover retried: %v", r[1:])
	}
}

// With Spread, the time a refused attempt did not use goes to the next
// one: a proxy that answers after 500 ms is reached with a per-attempt
// timeout of 300 ms. Without Spread the same call times out there.
func TestSpreadGivesUnusedTimeToNextAttempt(t *testing.T) {
	slow := testutil.StartRouter(t, "127.0.0.1:0", func(_ int, req []byte) ([]byte, time.Duration, bool) {
		return req, 500 * time.Millisecond, true
	})
	dead := "tcp://" + testutil.FreeAddr(t)
	for _, tc := range []struct {
		spread bool
		ok     bool
	}{{true, true}, {false, false}} {
		c := newClient(t, dead+","+slow.Endpoint(), Options{})
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		got, err := c.DoWith(ctx, []byte("x"), Policy{Attempts: 2, Timeout: 300 * time.Millisecond, Spread: tc.spread})
		cancel()
		if tc.ok && (err != nil || string(got) != "x") {
			t.Fatalf("spread: %q %v, want the reply", got, err)
		}
		if !tc.ok && (!errors.Is(err, ErrNoReply) || !strings.Contains(err.Error(), slow.Endpoint()+" no reply within 300ms")) {
			t.Fatalf("no spread: %q %v, want no reply within 300ms at %s", got, err, slow.Endpoint())
		}
	}
}

// A call cut by its context names what the attempts met, the one in
// progress included.
func TestDeadlineErrorNamesAttempts(t *testing.T) {
	silent := startSilent(t)
	dead := "tcp://" + testutil.FreeAddr(t)
	c := newClient(t, dead+","+silent.endpoint, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-silent.requestsSeen: // the request reached the silent proxy
			cancel()
		case <-time.After(guard):
		}
	}()
	_, err := c.DoWith(ctx, []byte("x"), Policy{Attempts: 2, Timeout: guard})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	want := "vpoller client: " + dead + "," + silent.endpoint + ": attempt 2 of 2 (" + dead + " connection refused; " +
		silent.endpoint + " call cancelled): context canceled"
	if err.Error() != want {
		t.Fatalf("error\n %s\nwant\n %s", err, want)
	}
}

// A handshake refused by every proxy ends the call at once; one refused
// by one proxy moves on to the next.
func TestHandshakeRefusedFailover(t *testing.T) {
	// A peer that answers our greeting with a PLAIN server's: a mechanism
	// mismatch (zmtp.ErrProtocol) the real proxy would give a client of
	// the wrong security, written by hand since only its bytes matter.
	plain := testutil.HostilePeer(t, testutil.Greeting("PLAIN", true))
	good := testutil.StartRouter(t, "127.0.0.1:0", testutil.Echo)
	c := newClient(t, plain+","+good.Endpoint(), Options{Timeout: guard})
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	got, err := c.Do(ctx, []byte("hello"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("%q %v: want the second proxy's echo", got, err)
	}
	c2 := newClient(t, plain, Options{Timeout: guard})
	_, err = c2.Do(ctx, []byte("hello"))
	if !errors.Is(err, zmtp.ErrProtocol) || !strings.Contains(err.Error(), "ZMTP handshake failed") {
		t.Fatalf("err = %v, want the handshake failure", err)
	}
}
