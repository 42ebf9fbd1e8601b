package proxy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/backend"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// affineWorker is a worker as ours announces itself: the ZMTP metadata
// says which vCenters it serves. It answers "<id>|<hostname>" and records
// every request's vCenter and every assignment it is sent.
type affineWorker struct {
	id     string
	conn   *zmtp.Conn
	hold   atomic.Bool // read requests, answer none
	frozen atomic.Bool // read nothing more (no PONG either)

	mu       sync.Mutex
	got      map[string]int // vCenter -> requests
	assigns  []backend.Assignment
	held     [][][]byte
	proxySet bool // the proxy announced itself
	done     chan struct{}
	unfrozen chan struct{} // closed by stop
}

func startAffine(t *testing.T, p *Proxy, id string, queue int, serves ...string) *affineWorker {
	t.Helper()
	before := p.Stats().Workers
	ann := backend.Announcement{ID: id, Serves: serves, Queue: queue}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := zmtp.Dial(ctx, p.Addrs().Backend, zmtp.Config{Type: zmq4.Dealer,
		Metadata: map[string]string{backend.PropWorker: ann.Encode()}})
	if err != nil {
		t.Fatal(err)
	}
	w := &affineWorker{id: id, conn: c, got: map[string]int{}, done: make(chan struct{}), unfrozen: make(chan struct{}),
		proxySet: c.PeerMeta(backend.PropProxy) == "1"}
	go w.loop()
	t.Cleanup(w.stop)
	waitFor(t, "worker "+id+" to join", func() bool { return p.Stats().Workers > before })
	return w
}

func (w *affineWorker) loop() {
	defer close(w.done)
	for {
		frames, err := w.conn.ReadMsg()
		if err != nil {
			return
		}
		if w.frozen.Load() {
			// As a stopped process: nothing more is read or answered
			// until the connection is closed.
			<-w.unfrozen
			return
		}
		if backend.IsControl(frames) {
			a, err := backend.ParseAssignment(frames)
			if err == nil {
				w.mu.Lock()
				w.assigns = append(w.assigns, a)
				w.mu.Unlock()
			}
			continue
		}
		if len(frames) != 3 {
			continue
		}
		host := requestHostname(frames[2])
		w.mu.Lock()
		w.got[host]++
		if w.hold.Load() {
			w.held = append(w.held, frames)
			w.mu.Unlock()
			continue
		}
		w.mu.Unlock()
		_ = w.conn.WriteMsg([][]byte{frames[0], {}, []byte(w.id + "|" + host)}, time.Second)
	}
}

func (w *affineWorker) stop() {
	w.conn.Close()
	select {
	case <-w.unfrozen:
	default:
		close(w.unfrozen)
	}
	<-w.done
}

// freeze makes the worker stop reading, as SIGSTOP would: the next
// message it gets (a PING or a request) is the last it reads.
func (w *affineWorker) freeze() { w.frozen.Store(true) }

func (w *affineWorker) lastAssign() backend.Assignment {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.assigns) == 0 {
		return backend.Assignment{}
	}
	return w.assigns[len(w.assigns)-1]
}

func (w *affineWorker) count(vc string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got[vc]
}

func ask(t *testing.T, c *client.Client, vc string) string {
	t.Helper()
	req := fmt.Sprintf(`{"method": "vm.get", "hostname": %q, "name": "vm1"}`, vc)
	reply, err := c.Do(context.Background(), []byte(req))
	if err != nil {
		t.Fatalf("request for %s: %v", vc, err)
	}
	return string(reply)
}

// Each vCenter's requests all go to one worker, the one status names its
// owner; ownership is bounded (8 vCenters on 4 workers: 2 each) and so
// are the requests per worker; every worker is told what it owns.
func TestAffinityOwnerTakesAll(t *testing.T) {
	p := startProxy(t)
	vcs := make([]string, 8)
	for i := range vcs {
		vcs[i] = fmt.Sprintf("vc%d.example.org", i)
	}
	ws := map[string]*affineWorker{}
	for i := range 4 {
		id := fmt.Sprintf("worker-%d", i)
		ws[id] = startAffine(t, p, id, 64, vcs...)
	}
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
	perWorker := map[string]int{}
	for round := range 10 {
		for _, vc := range vcs {
			id, host, _ := strings.Cut(ask(t, c, vc), "|")
			if host != vc {
				t.Fatalf("round %d: reply for %q, asked %s", round, host, vc)
			}
			perWorker[id]++
		}
	}
	st := p.Stats()
	owned := map[string]int{}
	for _, vc := range vcs {
		owner := st.VCenters[vc].Owner
		owned[owner]++
		if n := ws[owner].count(vc); n != 10 {
			t.Errorf("%s: owner %s got %d of its 10 requests", vc, owner, n)
		}
		if st.VCenters[vc].Routed != 10 {
			t.Errorf("%s: routed %d", vc, st.VCenters[vc].Routed)
		}
		if !slices.Contains(ws[owner].lastAssign().Owner, vc) {
			t.Errorf("%s: owner %s was told %v", vc, owner, ws[owner].lastAssign())
		}
	}
	for id, n := range owned {
		if n > 3 {
			t.Errorf("%s owns %d vCenters", id, n)
		}
	}
	lo, hi := 1<<30, 0
	for _, w := range ws {
		n := perWorker[w.id]
		lo, hi = min(lo, n), max(hi, n)
		if !w.proxySet {
			t.Errorf("%s: the proxy did not announce itself", w.id)
		}
	}
	if hi > 2*lo {
		t.Errorf("requests per worker %v: not within 2x", perWorker)
	}
	if st.Spilled != 0 {
		t.Errorf("spilled %d with nobody busy", st.Spilled)
	}
}

// A worker configured for A never gets B while a worker serving B is
// there; a vCenter nobody serves is refused, naming it, once the start-up
// grace is over; a request without a vCenter still goes somewhere.
func TestAffinityServedSets(t *testing.T) {
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	o := testConfig(t)
	o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	p := startProxyConfig(t, o)
	a := startAffine(t, p, "a", 64, "vcA")
	b := startAffine(t, p, "b", 64, "vcB")
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
	for range 20 {
		if r := ask(t, c, "vcB"); r != "b|vcB" {
			t.Fatalf("vcB answered %q", r)
		}
		if r := ask(t, c, "vcA"); r != "a|vcA" {
			t.Fatalf("vcA answered %q", r)
		}
	}
	if a.count("vcB") != 0 || b.count("vcA") != 0 {
		t.Fatalf("crossed: a got %d vcB, b got %d vcA", a.count("vcB"), b.count("vcA"))
	}
	clock.Add(int64(startupGrace + time.Second))
	r := ask(t, c, "vcC")
	resp, err := vpoller.DecodeResponse([]byte(r))
	if err != nil || !resp.Failed() || !strings.Contains(resp.Msg, `No vPoller worker serves vCenter "vcC" (served: vcA, vcB; names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names)`) {
		t.Fatalf("unserved vCenter: %q (%v)", r, err)
	}
	if p.Stats().Unserved != 1 {
		t.Errorf("unserved %d", p.Stats().Unserved)
	}
	reply, err := c.Do(context.Background(), []byte(`{"method": "about"}`))
	if err != nil || !strings.HasSuffix(string(reply), "|") {
		t.Fatalf("no hostname: %q %v", reply, err)
	}
}

// Requests for a vCenter whose only worker is restarting are held, not
// refused, and go to it when it is back.
func TestAffinityHeldWhileWorkerReturns(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	o := testConfig(t)
	o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	p := startProxyConfig(t, o)
	w := startAffine(t, p, "a", 64, "vcA")
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
	if r := ask(t, c, "vcA"); r != "a|vcA" {
		t.Fatal(r)
	}
	w.stop()
	waitFor(t, "the worker to leave", func() bool { return p.Stats().Workers == 0 })
	startAffine(t, p, "other", 64, "vcB") // a worker is there, but not for vcA
	clock.Add(int64(startupGrace + time.Second))
	got := make(chan string, 1)
	go func() {
		reply, err := c.Do(context.Background(), []byte(`{"method": "vm.get", "hostname": "vcA", "name": "x"}`))
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(reply)
	}()
	waitFor(t, "the request to be held", func() bool { return p.Stats().Held == 1 })
	startAffine(t, p, "a", 64, "vcA")
	if r := <-got; r != "a|vcA" {
		t.Fatalf("held request answered %q", r)
	}
}

// The owner's overflow waits for it up to spill_wait, then goes to the
// next worker in the ranking; when the owner goes, the next one owns the
// vCenter and is told so.
func TestAffinitySpillAndTakeover(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	o := testConfig(t)
	o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	p := startProxyConfig(t, o)
	w1 := startAffine(t, p, "w1", 2, "vc")
	w2 := startAffine(t, p, "w2", 2, "vc")
	owner, next := w1, w2
	if p.Stats().VCenters["vc"].Owner == "w2" {
		owner, next = w2, w1
	}
	owner.hold.Store(true)
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 8, Timeout: 10 * time.Second, Retries: 1})
	replies := make(chan string, 4)
	for range 4 {
		go func() {
			reply, err := c.Do(context.Background(), []byte(`{"method": "vm.get", "hostname": "vc", "name": "x"}`))
			if err != nil {
				replies <- err.Error()
				return
			}
			replies <- string(reply)
		}()
	}
	// The owner takes two (its queue), the next two wait for it...
	waitFor(t, "two requests held", func() bool { return p.Stats().Held == 2 })
	if s := p.Stats(); s.Spilled != 0 {
		t.Fatalf("spilled %d before spill_wait", s.Spilled)
	}
	// ... and spill once they waited spill_wait.
	clock.Add(int64(config.Default().Proxy.SpillWait + time.Millisecond))
	for range 2 {
		if r := <-replies; r != next.id+"|vc" {
			t.Fatalf("spilled reply %q", r)
		}
	}
	if s := p.Stats(); s.Spilled != 2 || s.VCenters["vc"].Spilled != 2 {
		t.Fatalf("spilled %d / %d", s.Spilled, s.VCenters["vc"].Spilled)
	}
	// The owner dies owing two: they are re-dispatched to the next one,
	// which now owns the vCenter.
	owner.stop()
	for range 2 {
		if r := <-replies; r != next.id+"|vc" {
			t.Fatalf("re-dispatched reply %q", r)
		}
	}
	waitFor(t, "the takeover assignment", func() bool { return slices.Equal(next.lastAssign().Owner, []string{"vc"}) })
	if o := p.Stats().VCenters["vc"].Owner; o != next.id {
		t.Fatalf("owner after takeover %q", o)
	}
}

// A Python worker (no announcement) takes what no affine worker serves,
// and the owner's overflow when the ranking is exhausted.
func TestAffinityAnyWorker(t *testing.T) {
	p := startProxy(t)
	startAffine(t, p, "ours", 64, "vcA")
	startWorker(t, p, "py")
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
	if r := ask(t, c, "vcA"); r != "ours|vcA" {
		t.Fatalf("vcA: %q", r)
	}
	if r := ask(t, c, "vcZ"); !strings.HasPrefix(r, "py:") {
		t.Fatalf("vcZ: %q", r)
	}
}

// Sequential requests without a vCenter alternate between equal workers
// (the round-robin advances once per request).
func TestLeastBusyAlternates(t *testing.T) {
	p := startProxy(t)
	startWorker(t, p, "w1")
	startWorker(t, p, "w2")
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
	count := map[string]int{}
	for range 40 {
		reply, err := c.Do(context.Background(), []byte(`{"method": "about"}`))
		if err != nil {
			t.Fatal(err)
		}
		name, _, _ := strings.Cut(string(reply), ":")
		count[name]++
	}
	if count["w1"] != 20 || count["w2"] != 20 {
		t.Fatalf("sequential requests per worker %v, want 20/20", count)
	}
}

// A burst larger than the owner's queue waits for the owner (it clears it
// within spill_wait) instead of spilling: the other worker gets nothing.
func TestAffinityBurstStaysWithOwner(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	o := testConfig(t)
	o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	p := startProxyConfig(t, o)
	w1 := startAffine(t, p, "w1", 2, "vc")
	w2 := startAffine(t, p, "w2", 2, "vc")
	owner, other := w1, w2
	if p.Stats().VCenters["vc"].Owner == "w2" {
		owner, other = w2, w1
	}
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 32, Timeout: 10 * time.Second, Retries: 1})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if r := ask(t, c, "vc"); r != owner.id+"|vc" {
				t.Errorf("reply %q", r)
			}
		})
	}
	wg.Wait()
	if n := other.count("vc"); n != 0 || p.Stats().Spilled != 0 {
		t.Fatalf("the other worker got %d, spilled %d", n, p.Stats().Spilled)
	}
}
