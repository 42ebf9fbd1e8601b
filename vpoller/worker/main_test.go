package worker

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
	"go.uber.org/goleak"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The simulator's per-session idle watchers end with the model's
		// context, which the simulator never cancels.
		goleak.IgnoreTopFunction("github.com/vmware/govmomi/simulator.SessionIdleWatch.func1"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

// backend plays a proxy's backend: it accepts worker connections on
// 127.0.0.1 and speaks ZMTP to each as a ROUTER, with zmq4's own codec
// (the one our proxy uses), so the test controls every frame.
type testBackend struct {
	ln    net.Listener
	conns chan *zmq4.Conn
	mu    sync.Mutex
	open  []net.Conn
	done  chan struct{}
}

func newBackend(t *testing.T, addr string) *testBackend {
	t.Helper()
	var ln net.Listener
	var err error
	// Re-listening on a port just closed can race the kernel; retry briefly.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{ln: ln, conns: make(chan *zmq4.Conn, 16), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.open = append(b.open, raw)
			b.mu.Unlock()
			_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
			zc, err := zmq4.Open(raw, null.Security(), zmq4.Router, nil, true, nil)
			if err != nil {
				raw.Close()
				continue
			}
			_ = raw.SetDeadline(time.Time{})
			b.conns <- zc
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *testBackend) endpoint() string { return "tcp://" + b.ln.Addr().String() }

// close stops listening and drops every worker connection.
func (b *testBackend) close() {
	b.ln.Close()
	<-b.done
	b.mu.Lock()
	for _, c := range b.open {
		c.Close()
	}
	b.open = nil
	b.mu.Unlock()
}

// next waits for a worker to connect.
func (b *testBackend) next(t *testing.T, within time.Duration) *zmq4.Conn {
	t.Helper()
	select {
	case c := <-b.conns:
		return c
	case <-time.After(within):
		t.Fatalf("no worker connected within %s", within)
		return nil
	}
}

// recv reads one message within d (closing the connection on timeout
// releases the read).
func recv(t *testing.T, c *zmq4.Conn, d time.Duration) [][]byte {
	t.Helper()
	type res struct {
		msg zmq4.Msg
		err error
	}
	ch := make(chan res, 1)
	go func() {
		m, err := c.RecvMsg()
		ch <- res{m, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("recv: %v", r.err)
		}
		return r.msg.Frames
	case <-time.After(d):
		c.Close()
		<-ch
		t.Fatalf("no reply within %s", d)
		return nil
	}
}

func send(t *testing.T, c *zmq4.Conn, frames ...[]byte) {
	t.Helper()
	if err := c.SendMsg(zmq4.NewMsgFrom(frames...)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// ask sends [id][""][payload] and returns the reply payload, checking the
// envelope came back unchanged.
func ask(t *testing.T, c *zmq4.Conn, id string, payload []byte) []byte {
	t.Helper()
	send(t, c, []byte(id), nil, payload)
	got := recv(t, c, 20*time.Second)
	if len(got) != 3 || string(got[0]) != id || len(got[1]) != 0 {
		t.Fatalf("reply frames %q: want [%q][\"\"][reply]", got, id)
	}
	return got[2]
}

// simService is a vsphere.Service with one simulator agent vcsim.local.
func simService(t *testing.T) *vsphere.Service {
	t.Helper()
	svc, err := vsphere.NewService([]vsphere.AgentConfig{{Name: "vcsim.local", Simulator: true}}, vsphere.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	return svc
}

// runWorker starts Run and stops it at cleanup, checking it returned.
func runWorker(t *testing.T, exec Executor, opts Options) *Worker {
	t.Helper()
	if opts.MaxBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	w, err := New(exec, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return w
}

// request encodes a Python-CLI style request (every key, nulls).
func request(method, hostname string, extra map[string]any) []byte {
	keys := []string{"method", "hostname", "name", "username", "password", "key", "properties",
		"counter-name", "instance", "max-sample", "perf-interval", "helper"}
	obj := vpoller.Object{}
	for _, k := range keys {
		var v any
		switch k {
		case "method":
			v = method
		case "hostname":
			v = hostname
		}
		if x, ok := extra[k]; ok {
			v = x
		}
		obj = append(obj, vpoller.Field{Key: k, Value: v})
	}
	b, err := vpoller.Marshal(obj, vpoller.Python)
	if err != nil {
		panic(err)
	}
	return b
}
