package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
)

// testLogger discards logs unless VPOLLER_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("VPOLLER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig binds the frontend and backend on loopback, any free port,
// and the management socket on an ipc file (where shutdown is allowed).
func testConfig(tb testing.TB) Options {
	return Options{
		Logger:          testLogger(),
		Frontend:        "tcp://127.0.0.1:0",
		Backend:         "tcp://127.0.0.1:0",
		Mgmt:            "ipc://" + filepath.Join(tb.TempDir(), "mgmt.sock"),
		MaxRequestBytes: 1 << 20,
	}
}

// startProxy runs a proxy until the test ends.
func startProxy(tb testing.TB) *Proxy {
	tb.Helper()
	return startProxyConfig(tb, testConfig(tb))
}

// startProxyConfig runs a proxy with opts until the test ends.
func startProxyConfig(tb testing.TB, opts Options) *Proxy {
	tb.Helper()
	p, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	testutil.Serve(tb, p)
	return p
}

// handler answers one request payload; the reply goes back as [id][""][reply].
type handler func(payload []byte) []byte

// testWorker is a worker that announces nothing, as the Python worker:
// one DEALER connection to the backend on the guarded ZMTP layer (it
// answers the proxy's PINGs, as libzmq does), answering each request in
// its own goroutine after delay. (A zmq4 socket would not do: zmq4 writes
// its PONG without the lock its other writes take, so PONGs interleave
// with large replies.)
type testWorker struct {
	name   string
	sock   *zmtp.Conn
	delay  time.Duration
	handle handler
	hold   bool // receive but never answer
	dieOn  string
	died   atomic.Bool

	sendMu   sync.Mutex
	received atomic.Int64
	frames   chan [][]byte // every message received, when recording
	wg       sync.WaitGroup
	stopped  chan struct{}
	stopOnce sync.Once
}

type workerOpt func(*testWorker)

func withDelay(d time.Duration) workerOpt { return func(w *testWorker) { w.delay = d } }
func withHandler(h handler) workerOpt     { return func(w *testWorker) { w.handle = h } }
func holding() workerOpt                  { return func(w *testWorker) { w.hold = true } }

// dying makes the worker drop its connection, as a crashing process does,
// on a request that contains s.
func dying(s string) workerOpt  { return func(w *testWorker) { w.dieOn = s } }
func recording(n int) workerOpt { return func(w *testWorker) { w.frames = make(chan [][]byte, n) } }
func prefixEcho(prefix string) handler {
	return func(p []byte) []byte { return append([]byte(prefix), p...) }
}

// startWorker connects a worker to the proxy's backend and waits until the
// proxy counts it.
func startWorker(tb testing.TB, p *Proxy, name string, opts ...workerOpt) *testWorker {
	tb.Helper()
	before := p.Stats().Workers
	w := &testWorker{name: name, handle: prefixEcho(name + ":"), stopped: make(chan struct{})}
	for _, o := range opts {
		o(w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sock, err := zmtp.Dial(ctx, p.Addrs().Backend, zmtp.Config{Type: zmq4.Dealer,
		Limits: zmtp.Limits{MaxMessage: 64 << 20}})
	if err != nil {
		tb.Fatalf("worker %s: %v", name, err)
	}
	w.sock = sock
	w.wg.Add(1)
	go w.loop()
	tb.Cleanup(w.stop)
	waitFor(tb, "worker "+name+" to join", func() bool { return p.Stats().Workers > before || w.died.Load() })
	return w
}

func (w *testWorker) loop() {
	defer w.wg.Done()
	for {
		frames, err := w.sock.ReadMsg()
		if err != nil {
			return
		}
		w.received.Add(1)
		if w.frames != nil {
			select {
			case w.frames <- frames:
			default:
			}
		}
		if w.dieOn != "" && len(frames) == 3 && bytes.Contains(frames[2], []byte(w.dieOn)) {
			w.died.Store(true)
			w.sock.Close()
			return
		}
		if w.hold || len(frames) != 3 {
			continue
		}
		id, payload := frames[0], frames[2]
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			if w.delay > 0 {
				select {
				case <-time.After(w.delay):
				case <-w.stopped:
					return
				}
			}
			reply := w.handle(payload)
			w.sendMu.Lock()
			defer w.sendMu.Unlock()
			_ = w.sock.WriteMsg([][]byte{id, {}, reply}, 10*time.Second)
		}()
	}
}

// stop closes the worker's connection (the proxy sees EOF).
func (w *testWorker) stop() {
	w.stopOnce.Do(func() {
		close(w.stopped)
		w.sock.Close()
		w.wg.Wait()
	})
}

// reqSocket is a plain zmq4 REQ socket connected to the frontend.
func reqSocket(tb testing.TB, endpoint string) zmq4.Socket {
	tb.Helper()
	s := zmq4.NewReq(context.Background(), zmq4.WithDialerRetry(20*time.Millisecond), zmq4.WithDialerMaxRetries(100))
	if err := s.Dial(endpoint); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// roundTrip sends frames and waits (bounded) for the reply.
func roundTrip(tb testing.TB, s zmq4.Socket, frames ...[]byte) [][]byte {
	tb.Helper()
	if err := s.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		tb.Fatal(err)
	}
	type res struct {
		msg zmq4.Msg
		err error
	}
	ch := make(chan res, 1)
	go func() { m, err := s.Recv(); ch <- res{m, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			tb.Fatal(r.err)
		}
		return r.msg.Frames
	case <-time.After(10 * time.Second):
		s.Close()
		<-ch
		tb.Fatal("no reply within 10 s")
		return nil
	}
}

// waitFor polls cond until it holds (bounded).
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
