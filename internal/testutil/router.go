package testutil

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Router is a real ZeroMQ ROUTER (zmq4) on 127.0.0.1 playing a vPoller
// proxy: it receives [identity][""][request] from REQ clients and answers
// [identity][""][reply] as its Answer says.
type Router struct {
	tb       testing.TB
	sock     zmq4.Socket
	endpoint string
	received atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
	sendMu   sync.Mutex
	wg       sync.WaitGroup

	mu       sync.Mutex
	requests [][]byte
}

// Answer decides the reply to the n-th request (1-based): ok=false means
// never answer; delay postpones the reply without holding others up.
type Answer func(n int, request []byte) (reply []byte, delay time.Duration, ok bool)

// Echo answers every request with itself.
func Echo(_ int, request []byte) ([]byte, time.Duration, bool) { return request, 0, true }

// Reply answers every request with f(request).
func Reply(f func([]byte) []byte) Answer {
	return func(_ int, request []byte) ([]byte, time.Duration, bool) { return f(request), 0, true }
}

// StartRouter listens on addr ("127.0.0.1:0" for any free port) until the
// test ends.
func StartRouter(tb testing.TB, addr string, answer Answer) *Router {
	tb.Helper()
	r := &Router{tb: tb, sock: zmq4.NewRouter(context.Background())}
	if err := r.sock.Listen("tcp://" + addr); err != nil {
		tb.Fatalf("listen: %v", err)
	}
	r.endpoint = "tcp://" + r.sock.Addr().String()
	r.wg.Add(1)
	go r.serve(answer)
	tb.Cleanup(r.Stop)
	return r
}

// Endpoint is where clients connect.
func (r *Router) Endpoint() string { return r.endpoint }

// Received is the number of requests seen.
func (r *Router) Received() int64 { return r.received.Load() }

// MaxInFlight is the most requests that awaited a reply at once.
func (r *Router) MaxInFlight() int64 { return r.maxIn.Load() }

// Got returns the requests seen, in order.
func (r *Router) Got() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.requests...)
}

func (r *Router) serve(answer Answer) {
	defer r.wg.Done()
	for {
		msg, err := r.sock.Recv()
		if err != nil {
			return
		}
		if len(msg.Frames) != 3 || len(msg.Frames[1]) != 0 {
			r.tb.Errorf("router: want [identity][\"\"][request], got %d frames", len(msg.Frames))
			continue
		}
		n := int(r.received.Add(1))
		r.mu.Lock()
		r.requests = append(r.requests, msg.Frames[2])
		r.mu.Unlock()
		reply, delay, ok := answer(n, msg.Frames[2])
		if !ok {
			continue
		}
		id := msg.Frames[0]
		in := r.inFlight.Add(1)
		for {
			m := r.maxIn.Load()
			if in <= m || r.maxIn.CompareAndSwap(m, in) {
				break
			}
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			time.Sleep(delay)
			r.inFlight.Add(-1)
			r.sendMu.Lock()
			defer r.sendMu.Unlock()
			_ = r.sock.Send(zmq4.NewMsgFrom(id, nil, reply))
		}()
	}
}

// Stop closes the socket and waits for the replies in progress; the test's
// cleanup calls it too.
func (r *Router) Stop() {
	_ = r.sock.Close()
	r.wg.Wait()
}
