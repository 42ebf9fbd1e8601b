package proxy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// A worker that stops reading (frozen: no reply, no PONG) is dropped after
// worker_timeout and what it owed is answered by the other worker; one
// that answers PINGs while busy stays.
func TestFrozenWorkerDropped(t *testing.T) {
	cfg := testConfig(t)
	cfg.WorkerHeartbeat, cfg.WorkerTimeout = 50*time.Millisecond, 400*time.Millisecond
	p := startProxyConfig(t, cfg)
	w1 := startAffine(t, p, "w1", 64, "vc")
	w2 := startAffine(t, p, "w2", 64, "vc")
	owner, other := w1, w2
	if p.Stats().VCenters["vc"].Owner == "w2" {
		owner, other = w2, w1
	}
	waitFor(t, "PONGs from both", func() bool {
		ws := p.Stats().WorkerConns
		return len(ws) == 2 && ws[0].Heartbeats && ws[1].Heartbeats
	})
	owner.freeze()
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 8, Timeout: 20 * time.Second, Retries: 1})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			reply, err := c.Do(context.Background(), []byte(`{"method": "vm.get", "hostname": "vc", "name": "x"}`))
			if err != nil || string(reply) != other.id+"|vc" {
				t.Errorf("reply %q %v", reply, err)
			}
		})
	}
	wg.Wait()
	st := p.Stats()
	if st.Workers != 1 || st.VCenters["vc"].Owner != other.id {
		t.Fatalf("after the freeze: %d workers, owner %q", st.Workers, st.VCenters["vc"].Owner)
	}
	if st.Redispatched == 0 {
		t.Errorf("nothing re-dispatched: the frozen worker was sent nothing?")
	}
}

// Every byte the budget lent for requests and replies comes back once
// they are answered.
func TestBudgetReturnsToZero(t *testing.T) {
	p := startProxy(t)
	startAffine(t, p, "w1", 64, "vc")
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{PoolSize: 16, Timeout: 10 * time.Second, Retries: 1})
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if r := ask(t, c, "vc"); r != "w1|vc" {
				t.Errorf("reply %q", r)
			}
		})
	}
	wg.Wait()
	waitFor(t, "the budget to be returned", func() bool { return p.budget.Used() == 0 })
	mem, _ := p.status().Get("memory")
	raw, err := vpoller.Marshal(mem, vpoller.Python)
	if err != nil || !strings.Contains(string(raw), `"used": 0,`) {
		t.Fatalf("status memory %s %v", raw, err)
	}
}
