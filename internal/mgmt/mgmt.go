// Package mgmt is the management socket of the proxy and the worker: a
// request/reply endpoint that answers {"method": "status"} and
// {"method": "shutdown"} the way the original daemons do, so the original
// `vpoller-proxy -e ... status` tooling keeps working against ours. Unlike
// the original, which died on non-JSON input, every frame gets an answer.
package mgmt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Messages of the original management handlers.
const (
	MsgShutdown      = "Shutdown time has arrived"
	MsgMissingMethod = "Missing method name"
	// MsgUnknownMethod is the worker's text; the Python proxy misspells it
	// "Uknown method name received" and the proxy keeps that spelling.
	MsgUnknownMethod = "Unknown method name received"
)

// Options configure a management server.
type Options struct {
	// StatusMsg is the msg of a status reply ("vPoller Proxy status").
	StatusMsg string
	// Status returns the result object of a status reply.
	Status func() vpoller.Object
	// UnknownMsg answers unknown methods (default MsgUnknownMethod).
	UnknownMsg string
	Logger     *slog.Logger
}

// Server answers management requests until closed.
type Server struct {
	sock     zmq4.Socket
	opts     Options
	shutdown chan struct{}
	once     sync.Once
	done     chan struct{}
}

// Listen binds endpoint and serves in the background. A ROUTER socket
// serves REQ clients (the original tools) and any number of them at once.
func Listen(ctx context.Context, endpoint string, opts Options) (*Server, error) {
	if opts.UnknownMsg == "" {
		opts.UnknownMsg = MsgUnknownMethod
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sock := zmq4.NewRouter(context.WithoutCancel(ctx))
	if err := sock.Listen(endpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("management socket %s: %w", endpoint, err)
	}
	s := &Server{sock: sock, opts: opts, shutdown: make(chan struct{}), done: make(chan struct{})}
	go s.serve()
	return s, nil
}

// Addr is the bound address (useful with port 0 in tests).
func (s *Server) Addr() net.Addr { return s.sock.Addr() }

// ShutdownRequested is closed after a shutdown request has been answered.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdown }

// Close stops serving and waits for the serving goroutine.
func (s *Server) Close() error {
	err := s.sock.Close()
	<-s.done
	return err
}

func (s *Server) serve() {
	defer close(s.done)
	for {
		msg, err := s.sock.Recv()
		if err != nil {
			return // closed
		}
		if len(msg.Frames) < 2 {
			continue
		}
		// ROUTER frames: identity, then the REQ envelope's empty delimiter
		// (absent for DEALER peers), then the payload.
		id := msg.Frames[0]
		body := msg.Frames[len(msg.Frames)-1]
		reply, stop := s.answer(body)
		frames := [][]byte{id}
		if len(msg.Frames) > 2 {
			frames = append(frames, nil)
		}
		frames = append(frames, reply)
		if err := s.sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
			s.opts.Logger.Warn("management reply not sent", "err", err)
		}
		if stop {
			s.once.Do(func() { close(s.shutdown) })
		}
	}
}

// answer handles one request frame.
func (s *Server) answer(body []byte) (reply []byte, shutdown bool) {
	v, err := vpoller.DecodeValue(body)
	obj, isObj := v.(vpoller.Object)
	if err != nil || !isObj {
		return vpoller.Fail(vpoller.MsgInvalidMessage).Encode(vpoller.PythonASCII), false
	}
	method, _ := obj.Get("method")
	name, _ := method.(string)
	switch name {
	case "":
		return vpoller.Fail(MsgMissingMethod).Encode(vpoller.PythonASCII), false
	case "status":
		var result vpoller.Object
		if s.opts.Status != nil {
			result = s.opts.Status()
		}
		return vpoller.OK(s.opts.StatusMsg, result).Encode(vpoller.Python), false
	case "shutdown":
		s.opts.Logger.Info("shutdown requested on the management socket")
		return vpoller.OK(MsgShutdown, nil).Encode(vpoller.Python), true
	default:
		return vpoller.Fail(s.opts.UnknownMsg).Encode(vpoller.PythonASCII), false
	}
}

// ErrNoReply is returned by Call when the daemon did not answer in time.
var ErrNoReply = errors.New("no reply from the management socket")

// Call sends one management request ({"method": method}) and returns the
// reply frame. It gives up after timeout: zmq4 has no receive timeout, so
// the receive runs in a goroutine released by closing the socket.
func Call(ctx context.Context, endpoint, method string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sock := zmq4.NewReq(context.WithoutCancel(ctx), zmq4.WithDialerRetry(100*time.Millisecond), zmq4.WithDialerMaxRetries(int(timeout/(100*time.Millisecond))+1))
	defer sock.Close()
	type result struct {
		msg zmq4.Msg
		err error
	}
	ch := make(chan result, 1)
	go func() {
		if err := sock.Dial(endpoint); err != nil {
			ch <- result{err: fmt.Errorf("connect %s: %w", endpoint, err)}
			return
		}
		req, _ := vpoller.Marshal(vpoller.Object{{Key: "method", Value: method}}, vpoller.Python)
		if err := sock.Send(zmq4.NewMsg(req)); err != nil {
			ch <- result{err: fmt.Errorf("send to %s: %w", endpoint, err)}
			return
		}
		msg, err := sock.Recv()
		ch <- result{msg: msg, err: err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		if len(r.msg.Frames) == 0 {
			return nil, fmt.Errorf("%s: empty reply", endpoint)
		}
		return r.msg.Frames[len(r.msg.Frames)-1], nil
	case <-ctx.Done():
		// Closing releases a blocked Recv. A peer that accepted TCP but
		// never completes the ZMTP greeting keeps the dial goroutine until
		// that connection ends; it then exits on its own (ch is buffered).
		sock.Close()
		return nil, fmt.Errorf("%s after %s: %w", endpoint, timeout, ErrNoReply)
	}
}

// Command runs a daemon's management command line, "status" or "stop",
// against endpoint and returns the reply frame. Both daemons offer the
// same two commands, so their mains share this.
func Command(ctx context.Context, endpoint, cmd string, timeout time.Duration) ([]byte, error) {
	method, ok := map[string]string{"status": "status", "stop": "shutdown"}[cmd]
	if !ok {
		return nil, fmt.Errorf("unknown management command %q (want status or stop)", cmd)
	}
	return Call(ctx, Connectable(endpoint), method, timeout)
}

// Connectable turns a bind endpoint into one a client can connect to: a
// daemon configured to listen on every interface (tcp://*:9999) is reached
// on loopback.
func Connectable(endpoint string) string {
	return strings.Replace(endpoint, "://*:", "://127.0.0.1:", 1)
}
