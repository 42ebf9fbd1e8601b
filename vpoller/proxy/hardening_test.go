package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
)

// dealer connects a raw DEALER client (any frames, no REQ envelope).
func dealer(t *testing.T, ep string) *zmtp.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := zmtp.Dial(ctx, ep, zmtp.Config{Type: zmq4.Dealer, Limits: zmtp.Limits{MaxMessage: 64 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exchange(t *testing.T, c *zmtp.Conn, frames ...[]byte) [][]byte {
	t.Helper()
	if err := c.WriteMsg(frames, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := c.ReadMsg()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Six frames of 60 MB in one message (the reported 1.44 GB case, scaled
// to 300 KB frames over a 1 MiB limit): refused as one message, answered,
// never buffered whole, and the connection goes on.
func TestMultipartMessageRefusedAsAWhole(t *testing.T) {
	p := startProxy(t)
	w := startWorker(t, p, "w")
	c := dealer(t, p.Addrs().Frontend)
	big := bytes.Repeat([]byte("m"), 300_000)
	got := exchange(t, c, []byte{}, big, big, big, big, big, big)
	if len(got) != 2 || !strings.HasPrefix(string(got[1]), `{"success": 1, "msg": "Request too large: 1800000 bytes (limit 1048576)"`) {
		t.Fatalf("reply: %d frames, last %.120q", len(got), got[len(got)-1])
	}
	if n := w.received.Load(); n != 0 {
		t.Fatalf("worker received %d messages", n)
	}
	if got := exchange(t, c, []byte{}, []byte("next")); string(got[1]) != "w:next" {
		t.Fatalf("after the refusal: %q", got)
	}
}

// With no worker, held requests are capped in number and bytes: beyond
// the cap a request is refused at once, with a message that says why.
func TestHeldRequestsCapped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		count int
		bytes int
		size  int
		held  int
	}{
		{"by count", 3, 1 << 20, 10, 3},
		{"by bytes", 100, 2500, 1000, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.MaxHeldRequests, cfg.MaxHeldBytes = tc.count, tc.bytes
			p := startProxyConfig(t, cfg)
			var conns []*zmtp.Conn
			for range tc.held {
				c := dealer(t, p.Addrs().Frontend)
				if err := c.WriteMsg([][]byte{{}, make([]byte, tc.size)}, time.Second); err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			waitFor(t, "held requests", func() bool { return p.Stats().Held == tc.held })
			extra := dealer(t, p.Addrs().Frontend)
			start := time.Now()
			got := exchange(t, extra, []byte{}, make([]byte, tc.size))
			if !strings.Contains(string(got[1]), "Request not queued: no worker can take it") {
				t.Fatalf("reply %q", got[1])
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("refusal took %s", d)
			}
			s := p.Stats()
			if s.Held != tc.held || s.Refused != 1 || s.HeldBytes != tc.held*tc.size {
				t.Fatalf("stats %+v", s)
			}
			// A worker arrives: the held ones are served.
			startWorker(t, p, "late")
			for _, c := range conns {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if r, err := c.ReadMsg(); err != nil || !strings.HasPrefix(string(r[1]), "late:") {
					t.Fatalf("held request: %v", err)
				}
			}
			if s := p.Stats(); s.Held != 0 || s.HeldBytes != 0 {
				t.Fatalf("stats after the worker came %+v", s)
			}
		})
	}
}

// A request whose worker dies is sent once more; when that worker dies
// too, the client is told and no third worker gets it (one request that
// crashed Python workers used to kill them all, one after the other).
func TestPoisonRequestReachesTwoWorkersAtMost(t *testing.T) {
	p := startProxy(t)
	w1 := startWorker(t, p, "w1", dying("poison"))
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 20 * time.Second, Retries: 1})
	done := make(chan []byte, 1)
	go func() {
		r, err := c.Do(context.Background(), []byte(`{"method": "vm.get", "hostname": "vc", "name": "poison"}`))
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	waitFor(t, "w1 to die", func() bool { return w1.died.Load() && p.Stats().Workers == 0 })
	w2 := startWorker(t, p, "w2", dying("poison"))
	waitFor(t, "w2 to die", func() bool { return w2.died.Load() && p.Stats().Workers == 0 })
	w3 := startWorker(t, p, "w3", dying("poison"))
	reply := <-done
	if string(reply) != `{"success": 1, "msg": "Task vm.get failed: worker lost twice"}` {
		t.Fatalf("reply %s", reply)
	}
	if got, err := c.Do(context.Background(), []byte("fine")); err != nil || string(got) != "w3:fine" {
		t.Fatalf("w3 afterwards: %s %v", got, err)
	}
	if w3.died.Load() {
		t.Fatal("the poison request reached a third worker")
	}
	if s := p.Stats(); s.Poisoned != 1 || s.Redispatched != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// An idle client connection is closed after the idle timeout, but not
// while it waits for a reply. The timeout is 1 s, not less: the request
// itself must reach the proxy within it, and a loaded 2-core CI machine
// once took more than 200 ms between a handshake and its first frame.
func TestIdleClientClosed(t *testing.T) {
	cfg := testConfig(t)
	cfg.ClientIdleTimeout = time.Second
	p := startProxyConfig(t, cfg)
	startWorker(t, p, "slow", withDelay(2500*time.Millisecond))
	waiting := dealer(t, p.Addrs().Frontend)
	if got := exchange(t, waiting, []byte{}, []byte("wait")); string(got[1]) != "slow:wait" {
		t.Fatalf("reply after 2.5 s (2.5 idle timeouts): %q", got)
	}
	idle := dealer(t, p.Addrs().Frontend)
	_ = idle.SetReadDeadline(time.Now().Add(6 * time.Second))
	if _, err := idle.ReadMsg(); err == nil || strings.Contains(err.Error(), "deadline") {
		t.Fatalf("idle connection not closed by the proxy: %v", err)
	}
}

// A worker's reply above max_reply_bytes is dropped; its client is told,
// and the worker connection goes on.
func TestReplyTooLarge(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxReplyBytes = 4096
	p := startProxyConfig(t, cfg)
	startWorker(t, p, "w", withHandler(func(payload []byte) []byte {
		if string(payload) == "big" {
			return bytes.Repeat([]byte("r"), 10000)
		}
		return payload
	}))
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 5 * time.Second, Retries: 1})
	got, err := c.Do(context.Background(), []byte("big"))
	if err != nil || !strings.HasPrefix(string(got), `{"success": 1, "msg": "Reply too large: `) {
		t.Fatalf("reply %.100s %v", got, err)
	}
	if got, err := c.Do(context.Background(), []byte("small")); err != nil || string(got) != "small" {
		t.Fatalf("next: %s %v", got, err)
	}
	if s := p.Stats(); s.Workers != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// With metrics_listen set, a scrape returns the proxy's counters after
// known traffic.
func TestPrometheusMetrics(t *testing.T) {
	cfg := testConfig(t)
	cfg.MetricsListen = "127.0.0.1:0"
	p := startProxyConfig(t, cfg)
	startWorker(t, p, "w")
	c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 5 * time.Second, Retries: 1})
	for range 7 {
		if _, err := c.Do(context.Background(), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	big := dealer(t, p.Addrs().Frontend)
	exchange(t, big, []byte{}, make([]byte, 2<<20))
	resp, err := http.Get("http://" + p.Addrs().Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"vpoller_proxy_served_total 7\n",
		"vpoller_proxy_workers 1\n",
		"vpoller_proxy_too_large_total 1\n",
		"vpoller_proxy_held_requests 0\n",
		`vpoller_proxy_connection_events_total{event="accepted",socket="backend"} 1` + "\n",
		`vpoller_proxy_connections{socket="backend"} 1` + "\n",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
