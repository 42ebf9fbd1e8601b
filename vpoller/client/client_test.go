package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestNewValidatesEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		ok       bool
	}{
		{"tcp://localhost:10123", true},
		{"tcp://127.0.0.1:1", true},
		{"tcp://[::1]:10123", true},
		{"ipc:///tmp/vpoller.sock", true},
		{"tcp://localhost", false},
		{"tcp://:10123", false},
		{"tcp://*:10123", false},
		{"tcp://localhost:0", false},
		{"tcp://localhost:65536", false},
		{"tcp://localhost:http", false},
		{"ipc://", false},
		{"udp://localhost:10123", false},
		{"localhost:10123", false},
		{"", false},
	} {
		c, err := New(tc.endpoint, Options{})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q) error = %v, want ok=%v", tc.endpoint, err, tc.ok)
		}
		if c != nil {
			if c.Endpoint() != tc.endpoint {
				t.Errorf("Endpoint() = %q, want %q", c.Endpoint(), tc.endpoint)
			}
			_ = c.Close()
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.Timeout != 3*time.Second || o.Retries != 3 || o.PoolSize != 32 || o.MaxIdle != 8 || o.Logger == nil {
		t.Errorf("defaults = %+v", o)
	}
	o = Options{PoolSize: 2, MaxIdle: 5}.withDefaults()
	if o.MaxIdle != 2 {
		t.Errorf("MaxIdle = %d, want capped at PoolSize 2", o.MaxIdle)
	}
}

// The reply frame reaches the caller byte for byte: raw UTF-8 (Python's
// ensure_ascii=False), a helper's trailing NUL, an empty frame.
func TestDoPassesReplyBytesThrough(t *testing.T) {
	srv := testutil.StartRouter(t, "127.0.0.1:0", testutil.Echo)
	c := newClient(t, srv.Endpoint(), Options{Timeout: 2 * time.Second})
	for _, frame := range [][]byte{
		[]byte(`{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "Ünïcødé VM ✓ 東京", "runtime.powerState": "poweredOn"}]}`),
		[]byte("poweredOn\x00"),
		[]byte("3831\x00"),
		{0xff, 0xfe, 0x00, 'x'}, // not UTF-8 at all: still untouched
		{},
	} {
		got, err := c.Do(context.Background(), frame)
		if err != nil {
			t.Fatalf("Do(%q): %v", frame, err)
		}
		if !bytes.Equal(got, frame) {
			t.Errorf("Do(%q) = %q, want the same bytes", frame, got)
		}
	}
	if n := srv.Received(); n != 5 {
		t.Errorf("server saw %d requests, want 5 (one each, no retries)", n)
	}
	// Sequential calls reuse one idle socket rather than dialing anew.
	if idle := c.idleCount(0); idle != 1 {
		t.Errorf("idle sockets = %d, want 1", idle)
	}
}

func TestCallEncodesAndDecodes(t *testing.T) {
	const reply = `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "DC0_C0_RP0_VM0", "runtime.powerState": "poweredOn"}]}`
	srv := testutil.StartRouter(t, "127.0.0.1:0", func(int, []byte) ([]byte, time.Duration, bool) {
		return []byte(reply), 0, true
	})
	c := newClient(t, srv.Endpoint(), Options{Timeout: 2 * time.Second})
	req := &vpoller.Request{Method: "vm.get", Hostname: "127.0.0.1", Name: "DC0_C0_RP0_VM0", Properties: []string{"runtime.powerState"}}
	resp, err := c.Call(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"method": "vm.get", "hostname": "127.0.0.1", "name": "DC0_C0_RP0_VM0", "username": null, "password": null, "key": null, "properties": ["runtime.powerState"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`
	if got := srv.Got(); len(got) != 1 || string(got[0]) != want {
		t.Errorf("request on the wire = %q, want %q", got, want)
	}
	if resp.Failed() || resp.Msg != "Successfully retrieved object properties" {
		t.Errorf("response = %+v", resp)
	}
	if got := string(resp.Encode(vpoller.Python)); !strings.Contains(got, `"runtime.powerState": "poweredOn"`) {
		t.Errorf("decoded result lost data: %s", got)
	}

	// A reply that is not a vPoller reply object is an error, not a panic.
	srv2 := testutil.StartRouter(t, "127.0.0.1:0", func(int, []byte) ([]byte, time.Duration, bool) {
		return []byte("poweredOn\x00"), 0, true
	})
	c2 := newClient(t, srv2.Endpoint(), Options{Timeout: 2 * time.Second})
	if _, err := c2.Call(context.Background(), req); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("Call with a czabbix reply: err = %v, want a decode error", err)
	}
}

// Lazy pirate: a proxy that drops the first requests is retried on fresh
// sockets until it answers.
func TestRetriesUntilAnswered(t *testing.T) {
	srv := testutil.StartRouter(t, "127.0.0.1:0", func(n int, req []byte) ([]byte, time.Duration, bool) {
		return append([]byte("attempt "+fmt.Sprint(n)+": "), req...), 0, n > 2
	})
	c := newClient(t, srv.Endpoint(), Options{Timeout: 200 * time.Millisecond, Retries: 3})
	start := time.Now()
	got, err := c.Do(context.Background(), []byte(`{"method": "about"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `attempt 3: {"method": "about"}`; string(got) != want {
		t.Errorf("reply = %q, want %q", got, want)
	}
	within(t, "two timeouts and a reply", time.Since(start), 400*time.Millisecond)
	for i, r := range srv.Got() {
		if string(r) != `{"method": "about"}` {
			t.Errorf("resend %d = %q, want the same request", i+1, r)
		}
	}
}

// A call's own policy overrides the client's: the plugin gives each item
// its share of the item's timeout on one shared client.
func TestDoWithPolicy(t *testing.T) {
	srv := testutil.StartRouter(t, "127.0.0.1:0", func(n int, req []byte) ([]byte, time.Duration, bool) {
		return []byte(fmt.Sprint("attempt ", n)), 0, n > 2
	})
	c := newClient(t, srv.Endpoint(), Options{Timeout: 10 * time.Second, Retries: 1})
	start := time.Now()
	got, err := c.DoWith(context.Background(), []byte("x"), Policy{Attempts: 3, Timeout: 150 * time.Millisecond})
	if err != nil || string(got) != "attempt 3" {
		t.Fatalf("%q %v", got, err)
	}
	within(t, "two 150 ms timeouts and a reply", time.Since(start), 300*time.Millisecond)
	_, err = c.DoWith(context.Background(), []byte("x"), Policy{Attempts: 1, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("4th request answered by the server: %v", err)
	}
	srv2 := testutil.StartRouter(t, "127.0.0.1:0", func(int, []byte) ([]byte, time.Duration, bool) { return nil, 0, false })
	c2 := newClient(t, srv2.Endpoint(), Options{Timeout: 10 * time.Second, Retries: 5})
	start = time.Now()
	_, err = c2.DoWith(context.Background(), []byte("x"), Policy{Attempts: 2, Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrNoReply) || !strings.Contains(err.Error(), "2 attempts of 100ms") {
		t.Fatalf("err %v", err)
	}
	within(t, "two 100 ms attempts", time.Since(start), 200*time.Millisecond)
}

func TestNoReplyAfterRetriesAttempts(t *testing.T) {
	srv := testutil.StartRouter(t, "127.0.0.1:0", func(int, []byte) ([]byte, time.Duration, bool) { return nil, 0, false })
	const timeout, retries = 200 * time.Millisecond, 3
	c := newClient(t, srv.Endpoint(), Options{Timeout: timeout, Retries: retries})
	start := time.Now()
	_, err := c.Do(context.Background(), []byte(`{"method": "about"}`))
	elapsed := time.Since(start)
	if !errors.Is(err, ErrNoReply) {
		t.Fatalf("err = %v, want ErrNoReply", err)
	}
	if ErrNoReply.Error() != "Did not receive response, aborting..." {
		t.Errorf("ErrNoReply text = %q", ErrNoReply.Error())
	}
	for _, part := range []string{srv.Endpoint(), "3 attempts", "Did not receive response, aborting..."} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q lacks %q", err, part)
		}
	}
	within(t, "3 silent attempts", elapsed, retries*timeout)
	// Do has returned: every attempt it made was sent before. Wait for
	// the server to have read them all, then count.
	waitReceived(t, srv.Received, retries)
	if n := srv.Received(); n != retries {
		t.Errorf("server saw %d attempts, want exactly %d", n, retries)
	}
}

func TestNothingListening(t *testing.T) {
	c := newClient(t, "tcp://"+testutil.FreeAddr(t), Options{Timeout: 200 * time.Millisecond, Retries: 2})
	start := time.Now()
	_, err := c.Do(context.Background(), []byte(`{}`))
	if !errors.Is(err, ErrNoReply) {
		t.Fatalf("err = %v, want ErrNoReply", err)
	}
	within(t, "2 attempts against a closed port", time.Since(start), 0)
}

// A proxy that comes up while an attempt is connecting is reached by that
// attempt (zmq4's bounded dial retries), as libzmq's background connect would.
func TestProxyStartingLate(t *testing.T) {
	addr := testutil.FreeAddr(t)
	c := newClient(t, "tcp://"+addr, Options{Timeout: 3 * time.Second, Retries: 1})
	type res struct {
		reply []byte
		err   error
	}
	out := make(chan res, 1)
	go func() {
		r, err := c.Do(context.Background(), []byte("late"))
		out <- res{r, err}
	}()
	time.Sleep(400 * time.Millisecond)
	testutil.StartRouter(t, addr, testutil.Echo)
	r := <-out
	if r.err != nil || string(r.reply) != "late" {
		t.Fatalf("Do = %q, %v; want the testutil.Echo", r.reply, r.err)
	}
}

// An idle socket whose proxy restarted fails on first use; that must not
// cost the caller an attempt (Retries 1, like the C module).
func TestStaleIdleSocketAfterProxyRestart(t *testing.T) {
	srv := testutil.StartRouter(t, "127.0.0.1:0", testutil.Echo)
	addr := strings.TrimPrefix(srv.Endpoint(), "tcp://")
	c := newClient(t, srv.Endpoint(), Options{Timeout: 2 * time.Second, Retries: 1})
	if _, err := c.Do(context.Background(), []byte("one")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	time.Sleep(100 * time.Millisecond)
	srv2 := testutil.StartRouter(t, addr, testutil.Echo)
	got, err := c.Do(context.Background(), []byte("two"))
	if err != nil || string(got) != "two" {
		t.Fatalf("Do after proxy restart = %q, %v; want the testutil.Echo", got, err)
	}
	if n := srv2.Received(); n != 1 {
		t.Errorf("restarted proxy saw %d requests, want 1", n)
	}
}

func TestContextCancelReturnsPromptly(t *testing.T) {
	srv := testutil.StartRouter(t, "127.0.0.1:0", func(int, []byte) ([]byte, time.Duration, bool) { return nil, 0, false })
	c := newClient(t, srv.Endpoint(), Options{Timeout: 10 * time.Second, Retries: 3})

	// start is taken before the cancel is armed: the call cannot end
	// before it fires.
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := c.Do(ctx, []byte("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	within(t, "cancelled call", time.Since(start), 100*time.Millisecond)

	start = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err = c.Do(ctx, []byte("y"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	within(t, "call past its deadline", time.Since(start), 150*time.Millisecond)
}

// 50 callers with a proxy that answers each after 100 ms: with a pool of
// sockets they overlap instead of queueing behind one REQ socket, and every
// caller gets the reply to its own request.
func TestConcurrentCallsDoNotQueue(t *testing.T) {
	const callers, delay = 50, 100 * time.Millisecond
	srv := testutil.StartRouter(t, "127.0.0.1:0", func(_ int, req []byte) ([]byte, time.Duration, bool) {
		return append([]byte("reply to "), req...), delay, true
	})
	c := newClient(t, srv.Endpoint(), Options{Timeout: 5 * time.Second})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fmt.Sprintf(`{"method": "about", "id": %d}`, i)
			got, err := c.Do(context.Background(), []byte(req))
			if err != nil {
				errs <- fmt.Errorf("caller %d: %w", i, err)
				return
			}
			if string(got) != "reply to "+req {
				errs <- fmt.Errorf("caller %d got %q", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	elapsed := time.Since(start)
	t.Logf("%d calls of %v each took %v (pool %d), server max in flight %d", callers, delay, elapsed, DefaultPoolSize, srv.MaxInFlight())
	if elapsed >= callers*delay { // queued behind one socket, they take callers*delay at least
		t.Errorf("50 concurrent calls took %v: they queued", elapsed)
	}
	if m := srv.MaxInFlight(); m < 10 || m > DefaultPoolSize {
		t.Errorf("server saw at most %d requests at once, want between 10 and the pool size %d", m, DefaultPoolSize)
	}
	if n := srv.Received(); n != callers {
		t.Errorf("server saw %d requests, want %d (no retries)", n, callers)
	}
}

func TestPoolSizeCapsRequestsInFlight(t *testing.T) {
	srv := testutil.StartRouter(t, "127.0.0.1:0", func(_ int, req []byte) ([]byte, time.Duration, bool) {
		return req, 100 * time.Millisecond, true
	})
	c := newClient(t, srv.Endpoint(), Options{Timeout: 5 * time.Second, PoolSize: 4, MaxIdle: 2})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := c.Do(context.Background(), []byte(fmt.Sprint(i))); err != nil || string(got) != fmt.Sprint(i) {
				t.Errorf("Do(%d) = %q, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	if m := srv.MaxInFlight(); m != 4 {
		t.Errorf("server saw %d requests at once, want the pool size 4", m)
	}
	if idle := c.idleCount(0); idle > 2 {
		t.Errorf("idle sockets = %d, want at most MaxIdle 2", idle)
	}
}

func TestCloseEndsCallsInProgress(t *testing.T) {
	srv := testutil.StartRouter(t, "127.0.0.1:0", func(int, []byte) ([]byte, time.Duration, bool) { return nil, 0, false })
	c, err := New(srv.Endpoint(), Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), []byte("x"))
		out <- err
	}()
	waitReceived(t, srv.Received, 1) // the call is in progress: its request is at the server
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-out; !errors.Is(err, ErrClosed) {
		t.Errorf("call in progress: err = %v, want ErrClosed", err)
	}
	within(t, "Close", time.Since(start), 0)
	if _, err := c.Do(context.Background(), []byte("y")); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: err = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
