package proxy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// fire sends n requests {"n": i} through c concurrently and checks that
// every reply is "<worker>:" + its own request. It returns replies per
// worker name.
func fire(t *testing.T, c *client.Client, n int) map[string]int {
	t.Helper()
	var (
		mu    sync.Mutex
		count = map[string]int{}
		wg    sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			req := fmt.Sprintf(`{"method": "about", "n": %d}`, i)
			reply, err := c.Do(context.Background(), []byte(req))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			name, echoed, ok := strings.Cut(string(reply), ":")
			if !ok || echoed != req {
				t.Errorf("request %d got %q, want <worker>:%s", i, reply, req)
				return
			}
			mu.Lock()
			count[name]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return count
}

func TestLoadSpreadOverEqualWorkers(t *testing.T) {
	p := startProxy(t)
	for _, name := range []string{"w1", "w2", "w3"} {
		startWorker(t, p, name, withDelay(2*time.Millisecond))
	}
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 32, Timeout: 10 * time.Second, Retries: 1})
	count := fire(t, c, 300)
	t.Logf("replies per worker: %v", count)
	total := 0
	for _, name := range []string{"w1", "w2", "w3"} {
		if count[name] > 150 {
			t.Errorf("worker %s answered %d of 300 requests, more than half", name, count[name])
		}
		if count[name] == 0 {
			t.Errorf("worker %s answered nothing", name)
		}
		total += count[name]
	}
	if total != 300 {
		t.Errorf("%d replies, want 300", total)
	}
	if s := p.Stats(); s.Served != 300 || s.Outstanding != 0 {
		t.Errorf("stats = %+v, want 300 served and nothing outstanding", s)
	}
}

func TestSlowWorkerGetsFewer(t *testing.T) {
	p := startProxy(t)
	startWorker(t, p, "fast1", withDelay(time.Millisecond))
	startWorker(t, p, "fast2", withDelay(time.Millisecond))
	startWorker(t, p, "slow", withDelay(50*time.Millisecond))
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 32, Timeout: 10 * time.Second, Retries: 1})
	count := fire(t, c, 300)
	t.Logf("replies per worker: %v", count)
	if count["slow"] >= count["fast1"] || count["slow"] >= count["fast2"] {
		t.Errorf("slow worker answered %d, fast ones %d and %d: want fewer", count["slow"], count["fast1"], count["fast2"])
	}
	if sum := count["slow"] + count["fast1"] + count["fast2"]; sum != 300 {
		t.Errorf("%d replies, want 300", sum)
	}
}

// A worker connection that dies while it holds requests: they are
// re-dispatched to the remaining workers and every client gets its answer.
func TestWorkerKilledWithOutstandingRequests(t *testing.T) {
	p := startProxy(t)
	holder := startWorker(t, p, "holder", holding())
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 10, Timeout: 20 * time.Second, Retries: 1})

	results := make(chan map[string]int, 1)
	go func() { results <- fire(t, c, 10) }()
	waitFor(t, "the holder to receive 10 requests", func() bool { return holder.received.Load() == 10 })
	if s := p.Stats(); s.Outstanding != 10 {
		t.Fatalf("outstanding = %d, want 10", s.Outstanding)
	}

	startWorker(t, p, "w2")
	startWorker(t, p, "w3")
	holder.stop()

	count := <-results
	if count["w2"]+count["w3"] != 10 || count["holder"] != 0 {
		t.Errorf("replies per worker %v, want all 10 from w2 and w3", count)
	}
	s := p.Stats()
	if s.Redispatched != 10 || s.Served != 10 || s.Outstanding != 0 || s.Workers != 2 {
		t.Errorf("stats = %+v, want 10 redispatched, 10 served, 0 outstanding, 2 workers", s)
	}
	// The proxy keeps serving.
	if got := fire(t, c, 5); got["w2"]+got["w3"] != 5 {
		t.Errorf("after the kill: %v", got)
	}
}

// Requests that arrive with no worker connected are held and served when
// one connects.
func TestRequestsHeldUntilAWorkerConnects(t *testing.T) {
	p := startProxy(t)
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 4, Timeout: 20 * time.Second, Retries: 1})
	results := make(chan map[string]int, 1)
	go func() { results <- fire(t, c, 4) }()
	waitFor(t, "4 held requests", func() bool { return p.Stats().Held == 4 })
	startWorker(t, p, "late")
	if got := <-results; got["late"] != 4 {
		t.Errorf("replies %v, want 4 from late", got)
	}
}

// A held request is dropped after the hold timeout, and the proxy goes on.
func TestHeldRequestExpires(t *testing.T) {
	o := testConfig(t)
	o.HoldTimeout = 100 * time.Millisecond
	p := startProxyConfig(t, o)
	req := reqSocket(t, p.Addrs().Frontend)
	if err := req.Send(zmq4.NewMsgString("nobody takes this")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the held request to expire", func() bool { return p.Stats().Expired == 1 })
	if s := p.Stats(); s.Outstanding != 0 || s.Held != 0 {
		t.Errorf("stats after expiry = %+v", s)
	}
}

// stuckWorker completes the ZMTP handshake as a DEALER and then never
// reads nor answers: a dead process that kept its socket open.
func stuckWorker(t *testing.T, backend string) net.Conn {
	t.Helper()
	raw, err := net.Dial("tcp", strings.TrimPrefix(backend, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zmq4.Open(raw, null.Security(), zmq4.Dealer, nil, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// One worker that never reads must not stall the others: requests keep
// being answered, and the stuck one receives only what least-outstanding
// dispatch gives it before its count rises above the healthy worker's.
func TestStuckWorkerDoesNotStallOthers(t *testing.T) {
	p := startProxy(t)
	stuckWorker(t, p.Addrs().Backend)
	waitFor(t, "the stuck worker to join", func() bool { return p.Stats().Workers == 1 })
	startWorker(t, p, "ok")

	// Lazy pirate: a request that landed on the stuck worker is retried
	// after the timeout and then goes to the healthy one.
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 8, Timeout: 500 * time.Millisecond, Retries: 3})
	start := time.Now()
	count := fire(t, c, 200)
	elapsed := time.Since(start)
	if count["ok"] != 200 {
		t.Errorf("replies %v, want all 200 from ok", count)
	}
	s := p.Stats()
	stuck := s.Outstanding
	t.Logf("200 requests in %v with a stuck worker; requests stuck on it: %d", elapsed, stuck)
	if stuck > 8 {
		t.Errorf("%d requests went to the stuck worker; least-outstanding should stop at a few", stuck)
	}
	if elapsed > 8*time.Second {
		t.Errorf("200 requests took %v", elapsed)
	}
}

// A worker that stops reading altogether is disconnected when a send to it
// cannot complete within the write timeout, and what it held goes to
// another worker.
func TestWorkerThatStopsReadingIsDropped(t *testing.T) {
	o := testConfig(t)
	o.WriteTimeout = 2 * time.Second
	p := startProxyConfig(t, o)
	stuckWorker(t, p.Addrs().Backend)
	waitFor(t, "the stuck worker to join", func() bool { return p.Stats().Workers == 1 })

	// 900 KB requests fill the TCP buffers towards the stuck worker within
	// a few messages; the proxy must give up on it rather than block.
	big := `{"method": "about", "pad": "` + strings.Repeat("x", 900<<10) + `"}`
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 16, Timeout: 20 * time.Second, Retries: 1})
	results := make(chan error, 16)
	for range 16 {
		go func() {
			reply, err := c.Do(context.Background(), []byte(big))
			if err == nil && string(reply) != "ok:"+big {
				err = fmt.Errorf("reply of %d bytes does not echo the request", len(reply))
			}
			results <- err
		}()
	}
	waitFor(t, "16 requests at the stuck worker", func() bool { return p.Stats().Outstanding == 16 })
	startWorker(t, p, "ok")
	waitFor(t, "the stuck worker to be dropped", func() bool { return p.Stats().Redispatched > 0 })
	for range 16 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if s := p.Stats(); s.Workers != 1 || s.Outstanding != 0 || s.Served != 16 {
		t.Errorf("stats = %+v, want 1 worker, 0 outstanding, 16 served", s)
	}
}
