package worker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// stallExecutor answers agent "healthy" at once and lets agent "stalled"
// hang until the request's deadline, as a SIGSTOPped vCenter does. (The
// fault suite does this with a real simulator process; here the lane's
// arithmetic is checked with exact timings.)
type stallExecutor struct{}

func (stallExecutor) Execute(ctx context.Context, req *vpoller.Request) *vpoller.Response {
	if req.Hostname == "stalled" {
		<-ctx.Done()
		return &vpoller.Response{Success: 1, Msg: "Task failed", Cause: ctx.Err()}
	}
	return vpoller.OK("ok", []any{req.Name})
}

// collect reads replies by id until n arrived.
func collect(t *testing.T, c *zmq4.Conn, n int) map[string]string {
	t.Helper()
	body := map[string]string{}
	for len(body) < n {
		f := recv(t, c, 10*time.Second)
		body[string(f[0])] = string(f[2])
	}
	return body
}

// blockExecutor answers agent "healthy" at once and holds agent
// "stalled" until release is closed, as a vCenter that stopped answering
// does: the test, not a timer, decides when it comes back.
type blockExecutor struct{ release chan struct{} }

func (e blockExecutor) Execute(ctx context.Context, req *vpoller.Request) *vpoller.Response {
	if req.Hostname == "stalled" {
		select {
		case <-e.release:
			return vpoller.OK("ok", []any{req.Name})
		case <-ctx.Done():
			return &vpoller.Response{Success: 1, Msg: "Task failed", Cause: ctx.Err()}
		}
	}
	return vpoller.OK("ok", []any{req.Name})
}

// A stalled vCenter takes only its own lane: while its requests hold
// every slot of its lane and fill its queue, the other vCenter's requests
// are all answered (in a shared pool they would wait behind it).
func TestStalledAgentDoesNotStarveOthers(t *testing.T) {
	b := newBackend(t, "127.0.0.1:0")
	exec := blockExecutor{release: make(chan struct{})}
	runWorker(t, exec, Options{Proxy: b.endpoint(), Concurrency: 4, Agents: []string{"stalled", "healthy"},
		RequestTimeout: time.Minute, BreakerFailures: 3})
	c := b.next(t, 5*time.Second)
	for i := range 10 {
		send(t, c, []byte(fmt.Sprintf("s%d", i)), nil, request("vm.get", "stalled", map[string]any{"name": fmt.Sprintf("s%d", i), "properties": []any{"x"}}))
	}
	for i := range 30 {
		send(t, c, []byte(fmt.Sprintf("h%d", i)), nil, request("vm.get", "healthy", map[string]any{"name": fmt.Sprintf("h%d", i), "properties": []any{"x"}}))
	}
	body := collect(t, c, 30) // the stalled vCenter's cannot come before release
	for i := range 30 {
		h := fmt.Sprintf("h%d", i)
		if !strings.Contains(body[h], `"result": ["`+h+`"]`) {
			t.Fatalf("%s: %q (replies while the other vCenter stalls: %v)", h, body[h], body)
		}
	}
	close(exec.release)
	body = collect(t, c, 10)
	for i := range 10 {
		if s := fmt.Sprintf("s%d", i); !strings.Contains(body[s], `"result": ["`+s+`"]`) {
			t.Fatalf("%s after release: %q", s, body[s])
		}
	}
}

// After BreakerFailures timeouts a stalled vCenter's requests fail at
// once, with a message that says since when, and its circuit shows open.
func TestStalledAgentTripsBreaker(t *testing.T) {
	b := newBackend(t, "127.0.0.1:0")
	w := runWorker(t, stallExecutor{}, Options{Proxy: b.endpoint(), Concurrency: 4, Agents: []string{"stalled", "healthy"},
		RequestTimeout: 300 * time.Millisecond, BreakerFailures: 3, BreakerCooldown: time.Hour})
	c := b.next(t, 5*time.Second)

	go func() {
		for i := range 30 {
			for _, id := range []string{fmt.Sprintf("s%d", i), fmt.Sprintf("h%d", i)} {
				agent := map[byte]string{'s': "stalled", 'h': "healthy"}[id[0]]
				send(t, c, []byte(id), nil, request("vm.get", agent, map[string]any{"name": id, "properties": []any{"x"}}))
			}
			time.Sleep(20 * time.Millisecond) // paced like polls (not synchronisation: any pace passes)
		}
	}()
	body := collect(t, c, 60)
	// A stalled request either timed out at vCenter (the breaker counts
	// it), or waited in the lane past its timeout before the breaker
	// opened (a loaded machine can be that slow to give it a slot; it
	// is not sent), or failed at once once the breaker was open.
	unreachable, timeouts, expired := 0, 0, 0
	for i := range 30 {
		h := fmt.Sprintf("h%d", i)
		if !strings.Contains(body[h], `"result": ["`+h+`"]`) {
			t.Fatalf("%s: %s", h, body[h])
		}
		s := body[fmt.Sprintf("s%d", i)]
		switch {
		case strings.Contains(s, "vCenter stalled unreachable since "):
			unreachable++
		case strings.Contains(s, "Task failed"):
			timeouts++
		case strings.Contains(s, "for vCenter stalled (request timeout 300ms)"):
			expired++
		default:
			t.Fatalf("s%d: %s", i, s)
		}
	}
	if timeouts < 3 || timeouts > 4 || unreachable == 0 || unreachable+timeouts+expired != 30 {
		t.Errorf("stalled: %d timeouts, %d expired in the lane, %d failed at once; want 3-4 timeouts (the breaker opens after 3), the rest expired or at once",
			timeouts, expired, unreachable)
	}
	st := w.LaneStatus()
	lane, _ := st.Get("stalled")
	if circuit, _ := lane.(vpoller.Object).Get("circuit"); circuit != "open" {
		t.Errorf("stalled lane status %v", lane)
	}
}

// Beyond AgentQueue waiting requests, a vCenter's requests are refused at
// once (a slow vCenter cannot pile up requests without bound).
func TestBusyLaneRefuses(t *testing.T) {
	b := newBackend(t, "127.0.0.1:0")
	runWorker(t, stallExecutor{}, Options{Proxy: b.endpoint(), Concurrency: 4, Agents: []string{"stalled", "healthy"},
		AgentQueue: 5, RequestTimeout: time.Second, BreakerFailures: 100})
	c := b.next(t, 5*time.Second)
	for i := range 10 {
		send(t, c, []byte(fmt.Sprintf("s%d", i)), nil, request("vm.get", "stalled", map[string]any{"name": "x", "properties": []any{"x"}}))
	}
	// The refusals are the first replies: the admitted ones answer no
	// sooner than their timeout.
	body := collect(t, c, 3)
	for id, r := range body {
		if !strings.HasPrefix(r, `{"success": 1, "msg": "vCenter busy: stalled has 2 requests running and 5 waiting"`) {
			t.Fatalf("%s: %s", id, r)
		}
	}
	// The 7 admitted ones time out (2 by 2: after 1 s, 2 s, 3 s, 4 s) or
	// expire while waiting.
	body = collect(t, c, 7)
	for id, r := range body {
		if !strings.Contains(r, "Task ") {
			t.Fatalf("%s: %s", id, r)
		}
	}
}

// After the cooldown one probe passes; when it succeeds the circuit closes.
func TestBreakerRecovers(t *testing.T) {
	var healthy sync.Map
	exec := executorFunc(func(ctx context.Context, req *vpoller.Request) *vpoller.Response {
		if _, ok := healthy.Load(req.Hostname); ok {
			return vpoller.OK("ok", nil)
		}
		return &vpoller.Response{Success: 1, Msg: "Cannot connect", Cause: context.DeadlineExceeded}
	})
	// gobreaker reads the system clock: the cooldown is real time, long
	// enough that the third request below finds the circuit still open
	// however slow the machine, and waited for as an event (half-open).
	w, err := New(exec, Options{Proxy: "tcp://127.0.0.1:1", Agents: []string{"vc"}, BreakerFailures: 2, BreakerCooldown: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	req := request("about", "vc", nil)
	for range 2 {
		if got := string(w.Reply(context.Background(), req)); got != `{"success": 1, "msg": "Cannot connect"}` {
			t.Fatalf("%s", got)
		}
	}
	if got := string(w.Reply(context.Background(), req)); !strings.Contains(got, "vCenter vc unreachable since") ||
		!strings.Contains(got, "context deadline exceeded") {
		t.Fatalf("open circuit: %s", got)
	}
	healthy.Store("vc", true)
	waitUntil(t, "the circuit half-open after the cooldown", func() bool {
		lane, _ := w.LaneStatus().Get("vc")
		circuit, _ := lane.(vpoller.Object).Get("circuit")
		return circuit == "half-open"
	})
	if got := string(w.Reply(context.Background(), req)); got != `{"msg": "ok", "success": 0}` { // about: msg first, as the original
		t.Fatalf("probe: %s", got)
	}
	lane, _ := w.LaneStatus().Get("vc")
	if circuit, _ := lane.(vpoller.Object).Get("circuit"); circuit != "closed" {
		t.Fatalf("after the probe: %v", lane)
	}
}

type executorFunc func(ctx context.Context, req *vpoller.Request) *vpoller.Response

func (f executorFunc) Execute(ctx context.Context, req *vpoller.Request) *vpoller.Response {
	return f(ctx, req)
}
