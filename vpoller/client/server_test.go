package client

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// routerServer is a real ZeroMQ ROUTER on 127.0.0.1 playing the vPoller
// proxy: it receives [identity][""][request] and answers with
// [identity][""][reply], as the proxy forwards a worker's answer.
type routerServer struct {
	t        testing.TB
	sock     zmq4.Socket
	endpoint string
	received atomic.Int64 // requests seen
	inFlight atomic.Int64
	maxIn    atomic.Int64 // most requests awaiting a reply at once
	sendMu   sync.Mutex
	wg       sync.WaitGroup

	mu       sync.Mutex
	requests [][]byte
}

// answer decides the reply for the n-th request (1-based): ok=false means
// never answer; delay postpones the answer without blocking other requests.
type answer func(n int, request []byte) (reply []byte, delay time.Duration, ok bool)

func echo(_ int, request []byte) ([]byte, time.Duration, bool) { return request, 0, true }

// startRouter listens on addr ("127.0.0.1:0" for any free port).
func startRouter(t testing.TB, addr string, fn answer) *routerServer {
	t.Helper()
	s := &routerServer{t: t, sock: zmq4.NewRouter(context.Background())}
	if err := s.sock.Listen("tcp://" + addr); err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.endpoint = "tcp://" + s.sock.Addr().String()
	s.wg.Add(1)
	go s.serve(fn)
	t.Cleanup(s.stop)
	return s
}

func (s *routerServer) serve(fn answer) {
	defer s.wg.Done()
	for {
		msg, err := s.sock.Recv()
		if err != nil {
			return
		}
		if len(msg.Frames) != 3 || len(msg.Frames[1]) != 0 {
			s.t.Errorf("server: want [identity][\"\"][request], got %d frames %q", len(msg.Frames), msg.Frames)
			continue
		}
		n := int(s.received.Add(1))
		s.mu.Lock()
		s.requests = append(s.requests, msg.Frames[2])
		s.mu.Unlock()
		reply, delay, ok := fn(n, msg.Frames[2])
		if !ok {
			continue
		}
		id := msg.Frames[0]
		in := s.inFlight.Add(1)
		for {
			m := s.maxIn.Load()
			if in <= m || s.maxIn.CompareAndSwap(m, in) {
				break
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			time.Sleep(delay)
			s.inFlight.Add(-1)
			s.sendMu.Lock()
			defer s.sendMu.Unlock()
			_ = s.sock.Send(zmq4.NewMsgFrom(id, nil, reply))
		}()
	}
}

func (s *routerServer) stop() {
	_ = s.sock.Close()
	s.wg.Wait()
}

func (s *routerServer) got() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.requests...)
}

// freeAddr returns a 127.0.0.1 address nothing listens on (for now).
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func newClient(t testing.TB, endpoint string, opts Options) *Client {
	t.Helper()
	c, err := New(endpoint, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", endpoint, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func within(t testing.TB, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s took %v, want between %v and %v", what, got, lo, hi)
	}
}
