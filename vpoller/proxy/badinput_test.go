package proxy

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
)

// Non-JSON is the worker's business: the proxy forwards it unchanged.
func TestNonJSONIsForwarded(t *testing.T) {
	p := startProxy(t)
	w := startWorker(t, p, "w", recording(2), withHandler(func(payload []byte) []byte {
		if _, err := vpoller.DecodeRequest(payload); err != nil {
			return vpoller.Fail(vpoller.MsgInvalidMessage).Encode(vpoller.PythonASCII)
		}
		return []byte("ok")
	}))
	req := reqSocket(t, p.Addrs().Frontend)
	junk := []byte("\x00\x01not json at all{")
	if got := roundTrip(t, req, junk); string(got[0]) != `{"success": 1, "msg": "Invalid message received"}` {
		t.Errorf("reply to non-JSON: %q", got)
	}
	if f := <-w.frames; !bytes.Equal(f[2], junk) {
		t.Errorf("worker got %q, want %q", f[2], junk)
	}
	if got := roundTrip(t, req, []byte(`{"method": "about"}`)); string(got[0]) != "ok" {
		t.Errorf("next request: %q", got)
	}
}

// A 10 MB frame is refused with a clear message and never reaches a
// worker; the same connection is then served normally.
func TestOversizedRequestRefused(t *testing.T) {
	p := startProxy(t)
	w := startWorker(t, p, "w")
	req := reqSocket(t, p.Addrs().Frontend)
	huge := bytes.Repeat([]byte("x"), 10<<20)
	got := roundTrip(t, req, huge)
	want := `{"success": 1, "msg": "Request too large: 10485760 bytes (limit 1048576)"}`
	if len(got) != 1 || string(got[0]) != want {
		t.Errorf("reply to 10 MB: %q, want %s", got, want)
	}
	if n := w.received.Load(); n != 0 {
		t.Errorf("worker received %d messages, want 0", n)
	}
	if got := roundTrip(t, req, []byte("after")); string(got[0]) != "w:after" {
		t.Errorf("next request: %q", got)
	}
	if s := p.Stats(); s.TooLarge != 1 || s.Served != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// A frame header announcing an absurd size closes that connection before
// anything is allocated; the proxy serves others.
func TestAbsurdFrameHeaderDropsConnection(t *testing.T) {
	p := startProxy(t)
	startWorker(t, p, "w")
	raw, err := net.Dial("tcp", strings.TrimPrefix(p.Addrs().Frontend, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := zmq4.Open(raw, null.Security(), zmq4.Dealer, nil, false, nil); err != nil {
		t.Fatal(err)
	}
	// A long frame of 2^62 bytes: flags 0x02, then the 8-byte size.
	if _, err := raw.Write([]byte{0x02, 0x40, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := raw.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection still open after an absurd frame (read %d bytes)", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("connection not closed after an absurd frame: %v", err)
	}
	req := reqSocket(t, p.Addrs().Frontend)
	if got := roundTrip(t, req, []byte("fine")); string(got[0]) != "w:fine" {
		t.Errorf("next client: %q", got)
	}
}

// Garbage instead of a ZMTP greeting, and a silent connection, cost the
// proxy nothing lasting.
func TestGarbageConnections(t *testing.T) {
	p := startProxy(t)
	startWorker(t, p, "w")
	for _, ep := range []string{p.Addrs().Frontend, p.Addrs().Backend} {
		raw, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = raw.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 10))
		raw.Close()
	}
	silent, err := net.Dial("tcp", strings.TrimPrefix(p.Addrs().Frontend, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	req := reqSocket(t, p.Addrs().Frontend)
	if got := roundTrip(t, req, []byte("still here")); string(got[0]) != "w:still here" {
		t.Errorf("reply: %q", got)
	}
	if s := p.Stats(); s.Workers != 1 {
		t.Errorf("workers = %d after a garbage backend connection, want 1", s.Workers)
	}
}

// A worker frame that answers nothing outstanding (a READY message, a late
// duplicate) is dropped.
func TestUnmatchedWorkerFramesDropped(t *testing.T) {
	p := startProxy(t)
	w := startWorker(t, p, "w")
	w.sendMu.Lock()
	for _, m := range [][][]byte{{[]byte("READY")}, {[]byte("no-such-id"), nil, []byte("late")}, {nil, nil, nil, nil}} {
		if err := w.sock.WriteMsg(m, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	w.sendMu.Unlock()
	waitFor(t, "the unmatched frame to be counted", func() bool { return p.Stats().Unmatched == 1 })
	req := reqSocket(t, p.Addrs().Frontend)
	if got := roundTrip(t, req, []byte("x")); string(got[0]) != "w:x" {
		t.Errorf("reply: %q", got)
	}
}

func TestManagement(t *testing.T) {
	p := startProxy(t)
	startWorker(t, p, "w")
	req := reqSocket(t, p.Addrs().Frontend)
	roundTrip(t, req, []byte("one"))
	ep := p.Addrs().Mgmt

	reply, err := mgmt.Call(context.Background(), ep, "status", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := vpoller.DecodeResponse(reply)
	if err != nil {
		t.Fatal(err)
	}
	obj, ok := resp.Result.(vpoller.Object)
	if !ok || resp.Msg != "vPoller Proxy status" || resp.Success != 0 {
		t.Fatalf("status reply: %s", reply)
	}
	wantKeys := []string{"status", "hostname", "mgmt", "frontend", "backend", "workers", "outstanding", "served", "redispatched",
		"held", "held_bytes", "refused_held_full", "lost_twice", "too_large", "expired", "unserved", "spilled", "workers_silent_dropped", "memory", "vcenters", "worker_connections", "frontend_connections", "backend_connections", "security", "version"}
	if got := obj.Keys(); strings.Join(got, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("status keys %v, want %v", got, wantKeys)
	}
	for key, want := range map[string]string{"status": "running", "frontend": p.Addrs().Frontend, "backend": p.Addrs().Backend, "mgmt": ep} {
		if v, _ := obj.Get(key); v != want {
			t.Errorf("status %s = %v, want %v", key, v, want)
		}
	}
	for key, want := range map[string]string{"workers": "1", "outstanding": "0", "served": "1", "redispatched": "0"} {
		if v, _ := obj.Get(key); toText(v) != want {
			t.Errorf("status %s = %v, want %s", key, v, want)
		}
	}

	s := reqSocket(t, ep)
	for _, tc := range []struct{ in, want string }{
		{"not json", `{"success": 1, "msg": "Invalid message received"}`},
		{`{"method": "reboot"}`, `{"success": 1, "msg": "Uknown method name received"}`},
		{`{}`, `{"success": 1, "msg": "Missing method name"}`},
	} {
		if got := roundTrip(t, s, []byte(tc.in)); string(got[0]) != tc.want {
			t.Errorf("mgmt %q -> %q, want %s", tc.in, got[0], tc.want)
		}
	}
}

func toText(v any) string {
	b, _ := vpoller.Marshal(v, vpoller.Compact)
	return string(b)
}

// A shutdown request on the management socket ends Run.
func TestShutdownStopsRun(t *testing.T) {
	p, err := New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	<-p.Ready()
	w := startWorker(t, p, "w")
	reply, err := mgmt.Call(context.Background(), p.Addrs().Mgmt, "shutdown", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"success": 0, "msg": "Shutdown time has arrived"}`; string(reply) != want {
		t.Errorf("shutdown reply %s", reply)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	w.stop()
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxRequestBytes = 0
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "max request bytes") {
		t.Errorf("MaxRequestBytes 0: %v", err)
	}
	cfg = testConfig(t)
	cfg.Backend = ""
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "backend") {
		t.Errorf("empty backend: %v", err)
	}
	cfg = testConfig(t)
	cfg.Frontend = "udp://127.0.0.1:0"
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "unsupported transport") {
		t.Errorf("udp frontend: %v", err)
	}
}

// Client connections that come and go leave no goroutines behind while the
// proxy runs.
func TestClientChurnFreesGoroutines(t *testing.T) {
	p := startProxy(t)
	startWorker(t, p, "w")
	base := runtime.NumGoroutine()
	for i := range 30 {
		s := zmq4.NewReq(context.Background())
		if err := s.Dial(p.Addrs().Frontend); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			roundTrip(t, s, []byte("hi"))
		}
		s.Close()
	}
	waitFor(t, "client goroutines to end", func() bool { return runtime.NumGoroutine() <= base+2 })
}
