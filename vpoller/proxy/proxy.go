package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/mgmt"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Management messages of the original proxy.
const (
	StatusMsg = "vPoller Proxy status"
	// UnknownMethodMsg keeps the Python proxy's spelling: tools may match it.
	UnknownMethodMsg = "Uknown method name received"
)

// Proxy is a vPoller broker. Create it with New, run it with Run.
type Proxy struct {
	cfg    config.Proxy
	opts   options
	log    *slog.Logger
	broker *broker

	ready chan struct{}
	addrs Addrs // set before ready is closed
}

// Addrs are the endpoints the proxy actually bound (a configured port 0
// becomes the chosen port).
type Addrs struct {
	Frontend, Backend, Mgmt string
}

// New validates the configuration; nothing is bound until Run.
func New(cfg config.Proxy, logger *slog.Logger, opts ...Option) (*Proxy, error) {
	if logger == nil {
		logger = slog.Default()
	}
	for name, ep := range map[string]string{"frontend": cfg.Frontend, "backend": cfg.Backend, "mgmt": cfg.Mgmt} {
		if ep == "" {
			return nil, fmt.Errorf("proxy %s endpoint is empty", name)
		}
	}
	if cfg.MaxRequestBytes <= 0 {
		return nil, fmt.Errorf("proxy max request bytes must be positive, got %d", cfg.MaxRequestBytes)
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &Proxy{cfg: cfg, opts: o, log: logger, broker: newBroker(logger), ready: make(chan struct{})}, nil
}

// Ready is closed once Run has bound every socket; Addrs is valid then.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Addrs returns the bound endpoints (zero before Ready).
func (p *Proxy) Addrs() Addrs {
	select {
	case <-p.ready:
		return p.addrs
	default:
		return Addrs{}
	}
}

// Stats returns the current counters.
func (p *Proxy) Stats() Stats { return p.broker.stats() }

// Run binds the frontend, backend and management sockets and serves until
// ctx is done or a shutdown request arrives on the management socket. It
// returns after every connection and goroutine it started has ended.
func (p *Proxy) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	front, err := listen(p.cfg.Frontend)
	if err != nil {
		return fmt.Errorf("frontend: %w", err)
	}
	defer front.Close()
	back, err := listen(p.cfg.Backend)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer back.Close()
	srv, err := mgmt.Listen(ctx, p.cfg.Mgmt, mgmt.Options{
		StatusMsg:  StatusMsg,
		Status:     p.status,
		UnknownMsg: UnknownMethodMsg,
		Logger:     p.log,
	})
	if err != nil {
		return fmt.Errorf("management: %w", err)
	}
	defer srv.Close()

	p.addrs = Addrs{Frontend: endpointOf(front.Addr()), Backend: endpointOf(back.Addr()), Mgmt: endpointOf(srv.Addr())}
	close(p.ready)
	p.log.Info("vPoller proxy running", "frontend", p.addrs.Frontend, "backend", p.addrs.Backend, "mgmt", p.addrs.Mgmt)

	var wg sync.WaitGroup
	wg.Go(func() { p.accept(ctx, &wg, front, p.serveClient) })
	wg.Go(func() { p.accept(ctx, &wg, back, p.serveWorker) })
	wg.Go(func() { p.janitor(ctx) })

	select {
	case <-ctx.Done():
	case <-srv.ShutdownRequested():
	}
	p.log.Info("vPoller proxy stopping")
	cancel()
	front.Close()
	back.Close()
	wg.Wait()
	s := p.Stats()
	p.log.Info("vPoller proxy stopped", "served", s.Served, "redispatched", s.Redispatched, "dropped_unanswered", s.Outstanding)
	return nil
}

// accept runs serve for every connection until the listener closes.
func (p *Proxy) accept(ctx context.Context, wg *sync.WaitGroup, l net.Listener, serve func(context.Context, net.Conn)) {
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.log.Error("accept failed", "listener", l.Addr(), "err", err)
			}
			return
		}
		wg.Go(func() {
			defer conn.Close()
			defer p.recoverConn(conn)
			serve(ctx, conn)
		})
	}
}

// recoverConn keeps a bug triggered by one connection from taking the
// proxy down: the connection is dropped and the panic logged.
func (p *Proxy) recoverConn(conn net.Conn) {
	if r := recover(); r != nil {
		p.log.Error("connection handler panicked; connection dropped", "peer", conn.RemoteAddr(), "panic", r, "stack", string(debug.Stack()))
	}
}

// serveClient reads requests from one client connection.
func (p *Proxy) serveClient(ctx context.Context, conn net.Conn) {
	limit := max(uint64(4*p.cfg.MaxRequestBytes), minClientFrameLimit)
	c, err := openPeer(conn, zmq4.Router, limit, p.opts.queue, p.opts.handshake)
	if err != nil {
		p.log.Debug("client handshake failed", "peer", conn.RemoteAddr(), "err", err)
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait() // runs last: after close ends both goroutines
	defer c.close()
	wg.Go(func() { c.writeLoop(p.opts.write, p.log) })
	wg.Go(func() { c.closeWhenDone(ctx) })
	p.log.Debug("client connected", "peer", c.remote)
	for {
		frames, err := c.recv()
		if err != nil {
			p.log.Debug("client disconnected", "peer", c.remote, "err", err)
			return
		}
		envelope, payload, err := splitEnvelope(frames)
		if err != nil {
			p.log.Debug("ignoring client message", "peer", c.remote, "err", err)
			continue
		}
		if size := messageSize(frames); size > p.cfg.MaxRequestBytes {
			p.broker.countTooLarge()
			p.log.Warn("request too large, refused", "peer", c.remote, "bytes", size, "limit", p.cfg.MaxRequestBytes)
			reply := vpoller.Failf("Request too large: %d bytes (limit %d)", size, p.cfg.MaxRequestBytes).Encode(vpoller.PythonASCII)
			c.enqueue(replyFrames(envelope, reply))
			continue
		}
		p.broker.submit(c, envelope, payload)
	}
}

func messageSize(frames [][]byte) int {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return n
}

// serveWorker reads replies from one worker connection.
func (p *Proxy) serveWorker(ctx context.Context, conn net.Conn) {
	c, err := openPeer(conn, zmq4.Dealer, p.opts.workerFrameLimit, p.opts.queue, p.opts.handshake)
	if err != nil {
		p.log.Debug("worker handshake failed", "peer", conn.RemoteAddr(), "err", err)
		return
	}
	w := &workerConn{peer: c, inflight: map[string]*request{}}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer p.broker.workerGone(w)
	defer c.close()
	wg.Go(func() { c.writeLoop(p.opts.write, p.log) })
	wg.Go(func() { c.closeWhenDone(ctx) })
	p.broker.workerJoined(w)
	p.log.Info("worker connected", "peer", c.remote)
	for {
		frames, err := c.recv()
		if err != nil {
			p.log.Info("worker disconnected", "peer", c.remote, "err", err)
			return
		}
		id, reply, err := splitWorkerReply(frames)
		if err != nil {
			p.log.Debug("dropping worker message", "peer", c.remote, "err", err)
			continue
		}
		p.broker.replied(w, id, reply)
	}
}

// janitor expires old requests and retries held ones.
func (p *Proxy) janitor(ctx context.Context) {
	every := min(time.Second, min(p.opts.hold, p.opts.inflight)/4)
	tick := time.NewTicker(max(every, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.broker.expire(now, p.opts.hold, p.opts.inflight)
		}
	}
}

// status is the management status result: the original proxy's fields in
// its order, then ours.
func (p *Proxy) status() vpoller.Object {
	host, _ := os.Hostname()
	s := p.Stats()
	return vpoller.Object{
		{Key: "status", Value: "running"},
		{Key: "hostname", Value: host},
		{Key: "mgmt", Value: shown(p.cfg.Mgmt, p.addrs.Mgmt)},
		{Key: "frontend", Value: shown(p.cfg.Frontend, p.addrs.Frontend)},
		{Key: "backend", Value: shown(p.cfg.Backend, p.addrs.Backend)},
		{Key: "workers", Value: s.Workers},
		{Key: "outstanding", Value: s.Outstanding},
		{Key: "served", Value: s.Served},
		{Key: "redispatched", Value: s.Redispatched},
	}
}

// shown is the endpoint status reports: the configured one, as the
// original does, unless it asked for any free port (":0"), where only the
// bound one is useful.
func shown(configured, bound string) string {
	if strings.HasSuffix(configured, ":0") {
		return bound
	}
	return configured
}
