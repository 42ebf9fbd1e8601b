package worker

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/lld/helpers"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func decode(t *testing.T, b []byte) *vpoller.Response {
	t.Helper()
	r, err := vpoller.DecodeResponse(b)
	if err != nil {
		t.Fatalf("reply %q: %v", b, err)
	}
	return r
}

func resultNames(t *testing.T, r *vpoller.Response) []string {
	t.Helper()
	list, ok := r.Result.([]any)
	if !ok {
		t.Fatalf("result %T is not a list", r.Result)
	}
	var out []string
	for _, x := range list {
		n, _ := x.(vpoller.Object).Get("name")
		out = append(out, fmt.Sprint(n))
	}
	return out
}

// TestServeSimulator drives the worker through a ROUTER backend with
// requests for the simulator agent and with every kind of bad input, and
// checks it keeps serving after each.
func TestServeSimulator(t *testing.T) {
	b := newBackend(t, "127.0.0.1:0")
	w := runWorker(t, simService(t), Options{Proxy: b.endpoint(), Helpers: helpers.Names(), Formatters: helpers.Formatters()})
	c := b.next(t, 5*time.Second)

	discover := func(t *testing.T) {
		rep := decode(t, ask(t, c, "client-1", request("vm.discover", "vcsim.local", nil)))
		if rep.Success != 0 || rep.Msg != "Successfully discovered objects" {
			t.Fatalf("vm.discover: %+v", rep)
		}
		got := strings.Join(resultNames(t, rep), ",")
		if want := "DC0_C0_RP0_VM0,DC0_C0_RP0_VM1,DC0_H0_VM0,DC0_H0_VM1"; !sameSet(got, want) {
			t.Fatalf("vm.discover names %s, want %s", got, want)
		}
	}
	discover(t)

	t.Run("vm.get", func(t *testing.T) {
		rep := ask(t, c, "c2", request("vm.get", "vcsim.local", map[string]any{
			"name": "DC0_H0_VM0", "properties": []any{"runtime.powerState", "config.hardware.numCPU"}}))
		want := `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_H0_VM0", "runtime.powerState": "poweredOn", "config.hardware.numCPU": 1}]}`
		if string(rep) != want {
			t.Fatalf("vm.get reply\n got %s\nwant %s", rep, want)
		}
	})
	t.Run("zabbix helper", func(t *testing.T) {
		rep := ask(t, c, "c3", request("vm.get", "vcsim.local", map[string]any{
			"name": "DC0_H0_VM0", "properties": []any{"runtime.powerState"}, "helper": "vpoller.helpers.zabbix"}))
		if string(rep) != `"poweredOn"` {
			t.Fatalf("zabbix helper: %q", rep)
		}
		rep = ask(t, c, "c3", request("vm.get", "vcsim.local", map[string]any{
			"name": "DC0_H0_VM0", "properties": []any{"runtime.powerState"}, "helper": "vpoller.helpers.czabbix"}))
		if string(rep) != "\"poweredOn\"\x00" {
			t.Fatalf("czabbix helper: %q", rep)
		}
	})

	big := append([]byte(`{"method": "vm.discover", "hostname": "vcsim.local", "name": "`), bytes.Repeat([]byte("x"), 10<<20)...)
	big = append(big, `"}`...)
	for _, tc := range []struct{ name, req, want string }{
		{"not JSON", `not json at all`, `{"success": 1, "msg": "Invalid message received"}`},
		{"JSON array", `[1, 2]`, `{"success": 1, "msg": "Expected a JSON message, received <class 'list'>"}`},
		{"unknown method", string(request("no.such", "vcsim.local", nil)), `{"success": 1, "msg": "Unknown or missing task/method name"}`},
		{"unknown agent", string(request("vm.discover", "VCSIM.local", nil)), `{"success": 1, "msg": "Unknown or missing agent name \"VCSIM.local\": this worker serves vcsim.local (names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names; did you mean \"vcsim.local\"?)"}`},
		{"missing required key", `{"method": "vm.get", "hostname": "vcsim.local", "properties": ["x"]}`, `{"success": 1, "msg": "Invalid task request"}`},
		// The size counted is the whole message: the envelope ("bad", "") and the request.
		{"10 MB frame", string(big), fmt.Sprintf(`{"success": 1, "msg": "Request too large: %d bytes, the limit is 8388608"}`, len(big)+len("bad"))},
		{"empty frame", ``, `{"success": 1, "msg": "Invalid message received"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := ask(t, c, "bad", []byte(tc.req))
			if string(rep) != tc.want {
				t.Fatalf("reply\n got %s\nwant %s", rep, tc.want)
			}
			discover(t) // still serving
		})
	}

	t.Run("envelopes", func(t *testing.T) {
		payload := request("no.such", "vcsim.local", nil)
		want := `{"success": 1, "msg": "Unknown or missing task/method name"}`
		for _, env := range [][][]byte{
			{[]byte("id-only")},
			{[]byte("hop1"), []byte("hop2"), nil},
		} {
			send(t, c, append(append([][]byte{}, env...), payload)...)
			got := recv(t, c, 5*time.Second)
			if len(got) != len(env)+1 || string(got[len(got)-1]) != want {
				t.Fatalf("envelope %q: reply %q", env, got)
			}
			for i := range env {
				if !bytes.Equal(got[i], env[i]) {
					t.Fatalf("envelope %q came back as %q", env, got[:len(env)])
				}
			}
		}
	})

	if s := w.Stats(); !s.Connected || s.Requests < 15 || s.Reconnects != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func sameSet(a, b string) bool {
	as, bs := strings.Split(a, ","), strings.Split(b, ",")
	if len(as) != len(bs) {
		return false
	}
	m := map[string]int{}
	for _, x := range as {
		m[x]++
	}
	for _, x := range bs {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// slowExecutor adds latency in front of the real service and records
// how many requests ran at once. The simulator answers in microseconds;
// this is the "slow vCenter" fault it cannot produce by itself.
type slowExecutor struct {
	next      Executor
	delay     time.Duration
	now, peak atomic.Int64
}

func (s *slowExecutor) Execute(ctx context.Context, req *vpoller.Request) *vpoller.Response {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
	}
	return s.next.Execute(ctx, req)
}

// TestConcurrencyLimit sends 12 slow requests to a worker with
// concurrency 4: they run 4 at a time (never more, so the rest wait
// unread at the proxy) and all complete in about three rounds.
func TestConcurrencyLimit(t *testing.T) {
	const n, conc, delay = 12, 4, 300 * time.Millisecond
	slow := &slowExecutor{next: simService(t), delay: delay}
	b := newBackend(t, "127.0.0.1:0")
	runWorker(t, slow, Options{Proxy: b.endpoint(), Concurrency: conc})
	c := b.next(t, 5*time.Second)
	// Warm the simulator (first request starts it) so the timing below
	// measures the worker only.
	ask(t, c, "warm", request("vm.discover", "vcsim.local", nil))
	slow.peak.Store(0)

	start := time.Now()
	for i := 0; i < n; i++ {
		send(t, c, []byte(fmt.Sprintf("r%02d", i)), nil,
			request("vm.get", "vcsim.local", map[string]any{"name": "DC0_H0_VM0", "properties": []any{"name"}}))
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		got := recv(t, c, 10*time.Second)
		rep := decode(t, got[2])
		if rep.Success != 0 {
			t.Fatalf("reply %s: %s", got[0], got[2])
		}
		seen[string(got[0])] = true
	}
	elapsed := time.Since(start)
	if len(seen) != n {
		t.Fatalf("%d distinct replies, want %d", len(seen), n)
	}
	if p := slow.peak.Load(); p != conc {
		t.Fatalf("peak concurrency %d, want %d", p, conc)
	}
	rounds := time.Duration(n / conc)
	if elapsed < rounds*delay || elapsed > rounds*delay+10*time.Second { // the lower bound is the assertion; the upper tells a hang
		t.Fatalf("%d requests took %s; want about %s (%d rounds of %s)", n, elapsed, rounds*delay, rounds, delay)
	}
	t.Logf("%d requests x %s at concurrency %d: %s", n, delay, conc, elapsed)
}

// TestReconnect closes the backend and starts a new one on the same port:
// the worker reconnects on its own and serves again.
func TestReconnect(t *testing.T) {
	b1 := newBackend(t, "127.0.0.1:0")
	addr := b1.ln.Addr().String()
	w := runWorker(t, simService(t), Options{Proxy: b1.endpoint()})
	c := b1.next(t, 5*time.Second)
	want := `{"success": 1, "msg": "Unknown or missing agent name \"nope\": this worker serves vcsim.local (names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names)"}`
	if rep := ask(t, c, "a", request("vm.discover", "nope", nil)); string(rep) != want {
		t.Fatalf("before: %s", rep)
	}
	b1.close()
	// The worker sees the backend gone and retries with backoff, without
	// ending.
	waitUntil(t, "the worker to report the closed backend", func() bool { return !w.Stats().Connected })
	start := time.Now()
	b2 := newBackend(t, addr)
	c2 := b2.next(t, 5*time.Second)
	if rep := ask(t, c2, "b", request("vm.discover", "nope", nil)); string(rep) != want {
		t.Fatalf("after: %s", rep)
	}
	t.Logf("reconnected and served in %s", time.Since(start))
	if s := w.Stats(); s.Reconnects != 1 || !s.Connected || s.Requests != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestGracefulStop cancels Run while requests are in flight: they are
// answered before the connection closes.
func TestGracefulStop(t *testing.T) {
	slow := &slowExecutor{next: simService(t), delay: 400 * time.Millisecond}
	b := newBackend(t, "127.0.0.1:0")
	w, err := New(slow, Options{Proxy: b.endpoint(), Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	c := b.next(t, 5*time.Second)
	for i := 0; i < 3; i++ {
		send(t, c, []byte{byte('a' + i)}, nil, request("no.such", "vcsim.local", nil))
	}
	for w.Stats().InFlight < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	for i := 0; i < 3; i++ {
		got := recv(t, c, 5*time.Second)
		if string(got[2]) != `{"success": 1, "msg": "Unknown or missing task/method name"}` {
			t.Fatalf("reply %q", got)
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := c.RecvMsg(); err == nil {
		t.Fatal("connection still open after Run returned")
	}
}

// TestDialBounded: with nothing listening, Run keeps retrying and still
// returns promptly when cancelled.
func TestDialBounded(t *testing.T) {
	b := newBackend(t, "127.0.0.1:0")
	ep := b.endpoint()
	b.close()
	w, err := New(simService(t), Options{Proxy: ep, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Run returned %s after cancel", d)
	}
}

func TestNewErrors(t *testing.T) {
	for _, ep := range []string{"", "10124", "udp://x:1", "tcp://nohostport"} {
		if _, err := New(simService(t), Options{Proxy: ep}); err == nil {
			t.Errorf("proxy %q accepted", ep)
		}
	}
	if _, err := New(nil, Options{Proxy: "tcp://127.0.0.1:1"}); err == nil {
		t.Error("nil executor accepted")
	}
}

// TestStopWhileConnectionDrops cancels Run at the moment the proxy drops
// the connection. Both events race into Run's select; whichever wins, Run
// must return promptly (it once waited forever for the reader's result it
// had already taken). The race is timing-dependent: 200 rounds caught the
// old bug in about half of the runs, and never pass it wrongly.
func TestStopWhileConnectionDrops(t *testing.T) {
	for i := 0; i < 200; i++ {
		b := newBackend(t, "127.0.0.1:0")
		w, err := New(&slowExecutor{}, Options{Proxy: b.endpoint(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		b.next(t, 5*time.Second)
		// Close the worker's connection and cancel together.
		go cancel()
		b.close()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: Run: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Run did not return after cancel while the connection dropped", i)
		}
	}
}
