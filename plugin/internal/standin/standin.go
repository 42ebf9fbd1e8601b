// Package standin is a minimal vPoller proxy stand-in for the plugin's
// tests: a ZeroMQ ROUTER on 127.0.0.1 that answers with replies chosen by a
// test. It exists for what the real proxy and worker cannot be made to do
// on demand: stay silent, answer slowly, or count how many requests really
// arrived (coalescing). Tests of normal behaviour use the real
// vpoller-proxy and vpoller-worker binaries.
package standin

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Answer decides the reply to a request: ok=false means never answer;
// delay postpones the answer without blocking other requests.
type Answer func(req *vpoller.Request, raw []byte) (reply *vpoller.Response, delay time.Duration, ok bool)

// Server is a running stand-in.
type Server struct {
	Endpoint string
	sock     zmq4.Socket
	answer   Answer
	received atomic.Int64
	sendMu   sync.Mutex
	wg       sync.WaitGroup
	mu       sync.Mutex
	requests [][]byte
	closed   atomic.Bool
}

// Start listens on a free 127.0.0.1 port.
func Start(answer Answer) (*Server, error) {
	s := &Server{sock: zmq4.NewRouter(context.Background()), answer: answer}
	if err := s.sock.Listen("tcp://127.0.0.1:0"); err != nil {
		return nil, err
	}
	s.Endpoint = "tcp://" + s.sock.Addr().String()
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		msg, err := s.sock.Recv()
		if err != nil {
			return
		}
		if len(msg.Frames) != 3 || len(msg.Frames[1]) != 0 {
			continue // not a REQ envelope: a real proxy would drop it too
		}
		s.received.Add(1)
		raw := msg.Frames[2]
		s.mu.Lock()
		s.requests = append(s.requests, raw)
		s.mu.Unlock()
		req, err := vpoller.DecodeRequest(raw)
		var reply *vpoller.Response
		var delay time.Duration
		ok := true
		if err != nil {
			reply = vpoller.Fail(err.Error())
		} else {
			reply, delay, ok = s.answer(req, raw)
		}
		if !ok {
			continue
		}
		id := msg.Frames[0]
		body := reply.Encode(vpoller.Python)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if delay > 0 {
				time.Sleep(delay)
			}
			s.sendMu.Lock()
			defer s.sendMu.Unlock()
			if !s.closed.Load() {
				_ = s.sock.Send(zmq4.NewMsgFrom(id, nil, body))
			}
		}()
	}
}

// Received is the number of requests that reached the stand-in.
func (s *Server) Received() int { return int(s.received.Load()) }

// Requests returns the raw request frames received so far.
func (s *Server) Requests() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.requests...)
}

// Close stops the stand-in and waits for its goroutines.
func (s *Server) Close() {
	s.closed.Store(true)
	_ = s.sock.Close()
	s.wg.Wait()
}

// SimVMs are the VM names of govmomi's default simulated vCenter (VPX
// model), which the canned inventory mirrors.
var SimVMs = []string{"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"}

// Inventory answers like a worker serving the simulator for the few
// methods the tests use; unknown names get the worker's message.
func Inventory(req *vpoller.Request, _ []byte) (*vpoller.Response, time.Duration, bool) {
	switch req.Method {
	case "vm.discover":
		var out []any
		for _, n := range SimVMs {
			out = append(out, vpoller.Object{{Key: "name", Value: n}})
		}
		return vpoller.OK("Successfully discovered objects", out), 0, true
	case "vm.get":
		found := false
		for _, n := range SimVMs {
			found = found || n == req.Name
		}
		if !found {
			return vpoller.Failf("Cannot find object %s", req.Name), 0, true
		}
		obj := vpoller.Object{{Key: "name", Value: req.Name}}
		for _, p := range req.Properties {
			switch p {
			case "runtime.powerState":
				obj = append(obj, vpoller.Field{Key: p, Value: "poweredOn"})
			case "summary.config.numCpu":
				obj = append(obj, vpoller.Field{Key: p, Value: 1})
			case "summary.config.memorySizeMB":
				obj = append(obj, vpoller.Field{Key: p, Value: 32})
			case "summary.runtime.connectionState", "runtime.connectionState":
				obj = append(obj, vpoller.Field{Key: p, Value: "connected"})
			case "config.template":
				obj = append(obj, vpoller.Field{Key: p, Value: false})
			}
		}
		return vpoller.OK("Successfully retrieved object properties", []any{obj}), 0, true
	case "vm.perf.metric.get":
		samples := []any{
			vpoller.Object{{Key: "timestamp", Value: "2026-11-25 19:00:00+00:00"}, {Key: "value", Value: 10}},
			vpoller.Object{{Key: "timestamp", Value: "2026-11-25 19:00:20+00:00"}, {Key: "value", Value: 12.5}},
		}
		return vpoller.OK("Successfully retrieved performance metrics", samples), 0, true
	}
	return vpoller.Fail("Unknown or missing task/method name"), 0, true
}
