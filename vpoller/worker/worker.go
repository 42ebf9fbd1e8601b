package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/helpers"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultConcurrency     = 16
	DefaultRequestTimeout  = 9 * time.Second
	DefaultMaxRequestBytes = 8 << 20
	DefaultDialTimeout     = 5 * time.Second
	DefaultSendTimeout     = 10 * time.Second
	DefaultDrainTimeout    = 30 * time.Second
	DefaultMinBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff      = 5 * time.Second
	DefaultAgentQueue      = 1000
	DefaultBreakerFailures = 3
	DefaultBreakerCooldown = 30 * time.Second
	DefaultMaxReplyBytes   = 64 << 20
)

// Executor answers one request; *vsphere.Service is the real one. It must
// always return a reply and honour ctx.
type Executor interface {
	Execute(ctx context.Context, req *vpoller.Request) *vpoller.Response
}

// Options configure a Worker. Zero values select the defaults.
type Options struct {
	// Proxy is the proxy's backend endpoint (tcp://host:port). Required.
	Proxy string
	// Concurrency is how many requests run at once. vSphere work is I/O
	// bound, so this is not tied to the CPU count. When all are busy the
	// worker stops reading, so the proxy sees the backpressure.
	Concurrency int
	// RequestTimeout bounds one request's execution.
	RequestTimeout time.Duration
	// MaxRequestBytes bounds a request frame; larger ones are answered
	// with MsgTooLarge without being decoded.
	MaxRequestBytes int
	// Helpers are the helper names the worker offers (the [worker]
	// helpers setting); names helpers.Apply does not know are ignored.
	Helpers []string
	// DialTimeout bounds one connection attempt including the handshake.
	DialTimeout time.Duration
	// SendTimeout bounds writing one reply; a proxy that does not take it
	// in time is treated as a broken connection.
	SendTimeout time.Duration
	// DrainTimeout bounds how long Run waits for requests in flight after
	// its context is cancelled; they are then cancelled.
	DrainTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between reconnects.
	MinBackoff, MaxBackoff time.Duration
	// Mechanism secures the proxy connection (zmtp.CurveClient); nil is
	// NULL, what the original proxy speaks.
	Mechanism zmtp.Mechanism
	// Agents are the vSphere agents the executor serves; each gets a lane
	// (bulkhead and circuit breaker). Requests for other names run
	// without one (the executor refuses them at once).
	Agents []string
	// AgentConcurrency caps one agent's requests running at once; 0 means
	// half of Concurrency when there are several agents, else all of it.
	AgentConcurrency int
	// AgentQueue caps one agent's requests waiting for a slot (they hold
	// no worker slot while they wait); beyond it requests are refused at
	// once with MsgAgentBusy.
	AgentQueue int
	// BreakerFailures consecutive failures classified by Unreachable open
	// an agent's circuit; BreakerCooldown later one probe may pass.
	BreakerFailures int
	BreakerCooldown time.Duration
	// Unreachable classifies the Cause of a failure reply; nil counts
	// only timeouts (context.DeadlineExceeded).
	Unreachable func(error) bool
	// MaxReplyBytes bounds a reply; a larger one is replaced by an error
	// reply so that the proxy's limit is not hit.
	MaxReplyBytes int
	Logger        *slog.Logger
}

// MsgTooLarge starts the reply to a frame above MaxRequestBytes.
const MsgTooLarge = "Request too large"

// Stats are a Worker's counters.
type Stats struct {
	Requests   uint64 // requests answered (a reply was produced and sent or attempted)
	InFlight   int64  // requests being handled now
	Connected  bool   // a proxy connection is up
	Reconnects uint64 // connections established after the first
}

// Worker serves one proxy connection at a time, reconnecting when it
// breaks. Create it with New and start it with Run.
type Worker struct {
	exec    Executor
	opts    Options
	log     *slog.Logger
	helpers map[string]bool
	lanes   map[string]*lane
	latency *prometheus.HistogramVec

	requests   atomic.Uint64
	inFlight   atomic.Int64
	connected  atomic.Bool
	reconnects atomic.Uint64
}

// New checks opts and prepares a worker; it does no network work.
func New(exec Executor, opts Options) (*Worker, error) {
	if exec == nil {
		return nil, errors.New("worker: nil executor")
	}
	if _, err := endpoint.Parse(opts.Proxy); err != nil {
		return nil, fmt.Errorf("worker: proxy %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	def(&opts.RequestTimeout, DefaultRequestTimeout)
	def(&opts.DialTimeout, DefaultDialTimeout)
	def(&opts.SendTimeout, DefaultSendTimeout)
	def(&opts.DrainTimeout, DefaultDrainTimeout)
	def(&opts.MinBackoff, DefaultMinBackoff)
	def(&opts.MaxBackoff, DefaultMaxBackoff)
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Mechanism == nil {
		opts.Mechanism = zmtp.Null()
	}
	if opts.AgentConcurrency <= 0 {
		opts.AgentConcurrency = opts.Concurrency
		if len(opts.Agents) > 1 {
			opts.AgentConcurrency = max(1, opts.Concurrency/2)
		}
	}
	opts.AgentConcurrency = min(opts.AgentConcurrency, opts.Concurrency)
	if opts.AgentQueue <= 0 {
		opts.AgentQueue = DefaultAgentQueue
	}
	if opts.BreakerFailures <= 0 {
		opts.BreakerFailures = DefaultBreakerFailures
	}
	def(&opts.BreakerCooldown, DefaultBreakerCooldown)
	if opts.Unreachable == nil {
		opts.Unreachable = func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
	}
	if opts.MaxReplyBytes <= 0 {
		opts.MaxReplyBytes = DefaultMaxReplyBytes
	}
	w := &Worker{exec: exec, opts: opts, log: opts.Logger, helpers: map[string]bool{}, lanes: map[string]*lane{}, latency: newLatency()}
	for _, a := range opts.Agents {
		l := newLane(a, opts.AgentConcurrency, opts.AgentQueue, opts.BreakerFailures, opts.BreakerCooldown, w.log)
		l.observe = w.observer(a)
		w.lanes[a] = l
	}
	known := map[string]bool{}
	for _, n := range helpers.Names() {
		known[n] = true
	}
	for _, n := range opts.Helpers {
		if known[n] {
			w.helpers[n] = true
		} else {
			w.log.Warn("helper not available, requests naming it get the plain reply", "helper", n)
		}
	}
	return w, nil
}

// LaneStatus reports each vSphere agent's bulkhead and circuit, by name.
func (w *Worker) LaneStatus() vpoller.Object {
	names := make([]string, 0, len(w.lanes))
	for n := range w.lanes {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(vpoller.Object, 0, len(names))
	for _, n := range names {
		out = append(out, vpoller.Field{Key: n, Value: w.lanes[n].status()})
	}
	return out
}

// Stats returns the worker's counters.
func (w *Worker) Stats() Stats {
	return Stats{Requests: w.requests.Load(), InFlight: w.inFlight.Load(),
		Connected: w.connected.Load(), Reconnects: w.reconnects.Load()}
}

// Run serves until ctx is cancelled, then stops reading requests, lets
// the ones in flight finish (at most DrainTimeout, then cancels them),
// closes the connection and returns nil. Connection failures are not
// errors: Run logs them and reconnects with capped exponential backoff.
func (w *Worker) Run(ctx context.Context) error {
	// Requests run on execCtx, which outlives ctx by the drain period.
	execCtx, cancelExec := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelExec()
	var handlers sync.WaitGroup
	sem := make(chan struct{}, w.opts.Concurrency)

	first := true
	for ctx.Err() == nil {
		conn, err := w.dial(ctx)
		if err != nil {
			break // ctx cancelled
		}
		if !first {
			w.reconnects.Add(1)
		}
		first = false
		w.connected.Store(true)
		w.log.Info("connected to proxy", "proxy", w.opts.Proxy)
		readerDone := make(chan error, 1)
		go func() { readerDone <- w.read(ctx, execCtx, conn, sem, &handlers) }()
		readerExited := false
		select {
		case err = <-readerDone:
			readerExited = true
			conn.close()
			w.connected.Store(false)
			if ctx.Err() == nil {
				// Handlers of this connection finish on their own; their
				// replies cannot be sent and are dropped (the proxy
				// re-dispatches or the client retries).
				w.log.Warn("proxy connection lost, reconnecting", "proxy", w.opts.Proxy, "err", err)
				continue
			}
		case <-ctx.Done():
		}
		// Stopping: the reader takes no more requests; let those in
		// flight answer on this connection, then close it.
		w.drain(&handlers, cancelExec)
		conn.close()
		if !readerExited {
			// The reader's result may only be taken once: when the
			// connection broke just as ctx was cancelled it is taken above.
			<-readerDone
		}
		w.connected.Store(false)
		w.log.Info("worker stopped", "proxy", w.opts.Proxy, "requests", w.requests.Load())
		return nil
	}
	w.drain(&handlers, cancelExec)
	w.log.Info("worker stopped", "proxy", w.opts.Proxy, "requests", w.requests.Load())
	return nil
}

// drain waits for the handlers, at most DrainTimeout, then cancels the
// requests still running and waits for their (immediate) return.
func (w *Worker) drain(handlers *sync.WaitGroup, cancelExec context.CancelFunc) {
	done := make(chan struct{})
	go func() { handlers.Wait(); close(done) }()
	t := time.NewTimer(w.opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.log.Warn("requests still running after the drain timeout; cancelling them",
			"in_flight", w.inFlight.Load(), "drain_timeout", w.opts.DrainTimeout)
		cancelExec()
		<-done
	}
}

// dial connects with capped exponential backoff until it succeeds or ctx
// ends. Each attempt is bounded by DialTimeout.
func (w *Worker) dial(ctx context.Context) (*peerConn, error) {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.opts.MinBackoff),
		backoff.WithMaxInterval(w.opts.MaxBackoff),
		backoff.WithMaxElapsedTime(0), // keep trying; each attempt is bounded
	)
	failures := 0
	limits := zmtp.Limits{MaxMessage: int64(w.opts.MaxRequestBytes) + envelopeAllowance,
		Discard: max(4*int64(w.opts.MaxRequestBytes), 64<<20)}
	for {
		conn, err := dialPeer(ctx, w.opts.Proxy, w.opts.DialTimeout, w.opts.Mechanism, limits)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		failures++
		delay := b.NextBackOff()
		// Log the first failure and then sparingly, not every attempt.
		if failures == 1 || failures%10 == 0 {
			w.log.Warn("cannot connect to proxy", "proxy", w.opts.Proxy, "attempts", failures, "retry_in", delay, "err", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// envelopeAllowance is room for routing frames beside a request of
// MaxRequestBytes.
const envelopeAllowance = 4 << 10

// read is the connection's only reader. It takes a worker slot before
// each read, so when all slots are busy nothing is read and the proxy
// keeps the rest queued. The slot goes with the request: it runs at once,
// or (its vCenter's lane being full) waits in the lane without the slot.
// It returns when the connection breaks or, once ctx is cancelled, when
// the connection is closed.
func (w *Worker) read(ctx, execCtx context.Context, conn *peerConn, sem chan struct{}, handlers *sync.WaitGroup) error {
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			// Wait for the close so the caller sees one exit path.
			_, err := conn.recv()
			for err == nil {
				_, err = conn.recv()
			}
			return ctx.Err()
		}
		frames, err := conn.recv()
		if te, ok := zmtp.IsTooLarge(err); ok {
			<-sem
			w.log.Warn("request too large", "bytes", te.Size, "limit", w.opts.MaxRequestBytes)
			reply := vpoller.Failf("%s: %d bytes, the limit is %d", MsgTooLarge, te.Size, w.opts.MaxRequestBytes).Encode(vpoller.PythonASCII)
			w.requests.Add(1)
			_ = conn.send(append(routingEnvelope(te.Head), reply), w.opts.SendTimeout)
			continue
		}
		if err != nil {
			<-sem
			return err
		}
		if ctx.Err() != nil {
			// Stopping: not taken. A proxy that tracks outstanding
			// requests per connection (ours) re-dispatches it when this
			// connection closes; clients of other proxies retry.
			<-sem
			w.log.Debug("request arrived while stopping; not taken")
			continue
		}
		handlers.Add(1)
		w.inFlight.Add(1)
		w.dispatch(execCtx, conn, frames, sem, handlers)
	}
}

// routingEnvelope is the routing part of a refused message's first
// frames: up to and including the empty delimiter.
func routingEnvelope(head [][]byte) [][]byte {
	for i, f := range head {
		if len(f) == 0 {
			return append([][]byte{}, head[:i+1]...)
		}
	}
	if len(head) > 0 {
		return [][]byte{head[0]}
	}
	return nil
}
